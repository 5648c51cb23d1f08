"""Response headers that every page carries, and the stricter ones staff pages add."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse

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
        return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))

    @staticmethod
    def _has_code(request: HttpRequest) -> bool:
        # A query string past DATA_UPLOAD_MAX_NUMBER_FIELDS is the view's to refuse (or ignore): raising
        # here would answer every endpoint, JSON ones included, with Django's bare HTML 400.
        try:
            return "src" in request.GET
        except TooManyFieldsSent:
            return False


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
