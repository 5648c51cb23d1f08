"""Pages that belong to the whole site rather than one app."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from helpline.asgi_privacy import IDENTIFYING_HEADERS

ViewFunction = TypeVar("ViewFunction", bound=Callable[..., HttpResponse])


def privacy(request: HttpRequest) -> HttpResponse:
    """What we keep and what we never keep, from the same constants the code enforces."""
    return render(
        request,
        "privacy.html",
        {
            "dropped_headers": sorted(name.decode() for name in IDENTIFYING_HEADERS),
            "suppression_threshold": settings.SUPPRESSION_THRESHOLD,
            "resume_grace_minutes": max(1, settings.RESUME_GRACE_SECONDS // 60),
        },
    )


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
