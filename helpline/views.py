"""Pages that belong to the whole site rather than one app."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

ViewFunction = TypeVar("ViewFunction", bound=Callable[..., HttpResponse])


FAVICON = Path(__file__).resolve().parent / "static" / "helpline" / "favicon.ico"
FAVICON_MAX_AGE = 7 * 24 * 3600


def privacy(request: HttpRequest) -> HttpResponse:
    """What we keep and what we never keep, in plain words, from the same constants the code enforces.

    The technical names (which request headers are dropped) are in docs/privacy.md, not on this page.
    """
    return render(
        request,
        "privacy.html",
        {
            "suppression_threshold": settings.SUPPRESSION_THRESHOLD,
            "resume_grace_minutes": max(1, settings.RESUME_GRACE_SECONDS // 60),
        },
    )


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on their own; served here so it is never a 404."""
    response = HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = f"public, max-age={FAVICON_MAX_AGE}"
    return response


# --- for the unprefixed JSON endpoints (/chat/…, /count/) that page scripts and the Python client call ---

def json_refusal(status: int, error: str, message: str) -> JsonResponse:
    """A refusal a script can read: a short code and a sentence that says what to change."""
    return JsonResponse({"error": error, "message": message}, status=status)


def json_methods(*methods: str) -> Callable[[ViewFunction], ViewFunction]:
    """Like Django's require_http_methods, but the 405 says which methods in JSON (Django's has no body)."""

    def decorator(view: ViewFunction) -> ViewFunction:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = json_refusal(405, "method_not_allowed", f"Use {' or '.join(methods)} here.")
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return cast(ViewFunction, inner)

    return decorator


def body_within(request: HttpRequest, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` bytes.

    Checked before reading, so a body past DATA_UPLOAD_MAX_MEMORY_SIZE gets the endpoint's JSON 413
    instead of Django's HTML 400 (RequestDataTooBig).
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= limit else None
