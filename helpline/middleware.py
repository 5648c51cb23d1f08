"""Response headers that every page carries, and the stricter ones staff pages add."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse
from django.utils.encoding import escape_uri_path

# Staff pages live under /<lang>/staff/ (and /staff/ before the language redirect).
STAFF_PATH = re.compile(r"^/(?:[a-z]{2}/)?staff(?:/|$)")
# Django's admin writes classic <script> tags without hashes: the one place Integrity-Policy cannot hold.
ADMIN_PATH = re.compile(r"^/(?:[a-z]{2}/)?staff/admin(?:/|$)")
# Browsers that know it refuse every script that has no integrity hash (Chromium since 138).
INTEGRITY_POLICY = "blocked-destinations=(script)"

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen",
        "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment", "picture-in-picture",
        "publickey-credentials-get", "screen-wake-lock", "sync-xhr", "usb", "xr-spatial-tracking",
        "interest-cohort", "browsing-topics",
    )
)


def is_staff_path(path: str) -> bool:
    return bool(STAFF_PATH.match(path))


class PrivacyHeadersMiddleware:
    """Adds Permissions-Policy and CORP everywhere; no-store and same-origin referrers on staff pages.

    Staff pages send `Referrer-Policy: same-origin` rather than `no-referrer` because browsers send
    `Origin: null` on form posts under `no-referrer`, which Django's CSRF check rightly refuses.
    Neither policy sends anything to another host.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if is_staff_path(request.path):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "same-origin"
        return response


def same_site_path(path: str) -> str:
    """`path` as a Location that leads back to this site's `path`, never to another host.

    Django hands us the path decoded: `/%2Fevil.example/` arrives as `//evil.example/`, which a browser
    reads as another host. Escaping covers backslashes, tabs and newlines (which browsers read as a slash
    or drop); an escaped slash in front keeps the path itself without making it protocol-relative.
    """
    escaped = escape_uri_path(path)
    if escaped.startswith("//"):
        escaped = "/%2F" + escaped[2:]
    return escaped if escaped.startswith("/") else "/"


class ReferralCodeMiddleware:
    """Counts a known campaign code (`?src=poster`), then redirects to the same URL without it.

    The redirect keeps the code out of the visitor's history, bookmarks and anything they share.
    Unknown codes are not counted but are stripped all the same.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in {"GET", "HEAD"} or not self._has_code(request):
            return self.get_response(request)
        from django.conf import settings
        from django.http import HttpResponseRedirect

        from helpline.metrics.actions import increment

        codes = request.GET.getlist("src")
        if len(codes) == 1 and codes[0] in settings.CAMPAIGN_CODES and request.method == "GET":
            increment("site.referral", codes[0])
        remaining = request.GET.copy()
        remaining.pop("src")
        query = remaining.urlencode()
        return HttpResponseRedirect(same_site_path(request.path) + (f"?{query}" if query else ""))

    @staticmethod
    def _has_code(request: HttpRequest) -> bool:
        # A query string past DATA_UPLOAD_MAX_NUMBER_FIELDS is the view's to refuse (or ignore): raising
        # here would answer every endpoint, JSON ones included, with Django's bare HTML 400.
        try:
            return "src" in request.GET
        except TooManyFieldsSent:
            return False


FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
form_logger = logging.getLogger("helpline.request")


class FormBodyMiddleware:
    """Refuses, with one log line, a form that names a charset other than UTF-8; reads multipart forms whole.

    Django refuses such a form by raising BadRequest wherever the form is first read, which is inside the
    CSRF check; the error page runs that check again, so the answer was a 500 and a long traceback. Our
    pages are UTF-8 and browsers send their forms in the page's encoding, so only scripts send anything else.
    The CSRF check also streams a multipart body away, after which a JSON endpoint could no longer read it
    (a 500). We take no uploads, and the body is bounded by DATA_UPLOAD_MAX_MEMORY_SIZE either way.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type not in FORM_CONTENT_TYPES:
            return self.get_response(request)
        charset = (request.content_params or {}).get("charset")
        if charset is not None and charset.strip().lower() != "utf-8":
            from helpline.views import json_refusal

            form_logger.warning("refused a form sent as %.40r: only UTF-8 is accepted", charset)
            return json_refusal(400, "form_not_utf8", "Send forms encoded as UTF-8.")
        if request.content_type == "multipart/form-data":
            with contextlib.suppress(RequestDataTooBig):
                request.body  # noqa: B018 (read now, so the form parser and the view can both use it)
        return self.get_response(request)


class ScriptIntegrityMiddleware:
    """Allows a page's import map by its hash, and has browsers refuse any script that is not pinned by one.

    The import map is the one inline script (helpline/templatetags/page_scripts.py records its hash on the
    request). Listed just inside Django's CSP middleware, which leaves a policy that is already set alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.utils.csp import build_policy

        from helpline.assets import INLINE_SCRIPT_HASHES

        response = self.get_response(request)
        hashes = getattr(request, INLINE_SCRIPT_HASHES, None)
        if hashes and "Content-Security-Policy" not in response.headers:
            policy = dict(settings.SECURE_CSP)
            policy["script-src"] = [*policy.get("script-src", []), *hashes]
            response.headers["Content-Security-Policy"] = build_policy(policy)
        if not ADMIN_PATH.match(request.path):
            response.headers.setdefault("Integrity-Policy", INTEGRITY_POLICY)
        return response


class OneThreadMiddleware:
    """Listed last: makes Django run the whole middleware chain on one thread, in one trip from the event loop.

    Under ASGI Django builds the chain from the inside out and runs each middleware that can be async as
    async for as long as the one inside it is. Django's own middleware (sessions, locale, CSRF, auth,
    messages…) are `MiddlewareMixin`s, whose async form runs each `process_request` and `process_response`
    on a thread of its own: every request went from the loop to a thread and back 17 times, now 5
    (tests/unit/test_middleware_chain.py). On a busy server each trip waits its turn behind the chat sockets
    (docs/performance.md, headroom, third pass, has what a request takes there). Being sync only, this one
    makes every middleware outside it sync as well (Django's rule: a middleware that can be sync is run sync
    when the handler it wraps is). It does nothing else.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
