"""Password guessing: slowed down without letting anyone lock a counsellor out (OWASP's device cookies).

django-axes counts wrong passwords per lockout key. A browser that completed a sign-in (password and second
factor) as someone gets a signed cookie holding a keyed digest of that username and a random browser id.
Its attempts for that username are counted under a key of their own; every other attempt for the username
shares one key. So guessing from anywhere locks out only browsers that never signed in as that person, and
the counsellor's usual browser keeps working. See docs/decisions/0005-known-browsers.md.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

SALT = "helpline.accounts.known-browser"
COOKIE_BASENAME = "staffbrowser"
KNOWN_FOR = timedelta(days=180)
# A shared computer in a helpline office may be the usual browser of several people.
USERNAMES_PER_BROWSER = 6


def cookie_name() -> str:
    # The __Host- prefix (Secure, no Domain, Path=/) where staff cookies are Secure, as for the session.
    return f"__Host-{COOKIE_BASENAME}" if settings.SESSION_COOKIE_SECURE else COOKIE_BASENAME


def username_tag(username: str) -> str:
    """A keyed digest, so the cookie names nobody to whoever reads it."""
    return salted_hmac(SALT, username, algorithm="sha256").hexdigest()[:32]


def known_usernames(request: HttpRequest) -> dict[str, str]:
    """username tag → browser id from this browser's cookie; empty when there is none or it is not ours."""
    raw = request.COOKIES.get(cookie_name())
    if not raw:
        return {}
    try:
        value = signing.loads(raw, salt=SALT, max_age=KNOWN_FOR)
    except signing.BadSignature:
        return {}
    if not isinstance(value, dict):
        return {}
    return {tag: browser for tag, browser in value.items() if isinstance(tag, str) and isinstance(browser, str)}


def known_browser_id(request: HttpRequest, username: str) -> str | None:
    return known_usernames(request).get(username_tag(username))


def lockout_key(request: HttpRequest, credentials: Mapping[str, Any] | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: what django-axes counts this attempt under.

    The username for unknown browsers; the username and a digest of the browser id for a known one (the
    digest, not the id, because django-axes writes this key into its log lines).
    """
    username = (credentials or {}).get("username")
    if username is None:
        username = request.POST.get("username")
    if not isinstance(username, str):
        return None
    browser = known_browser_id(request, username)
    if browser is None:
        return username
    return f"{username} (known browser {hashlib.sha256(browser.encode()).hexdigest()[:12]})"


def remember_browser(request: HttpRequest, response: HttpResponse, username: str) -> None:
    """After a completed sign-in: this browser is known for `username`, under a new id (OWASP: one per sign-in)."""
    known = known_usernames(request)
    tag = username_tag(username)
    known.pop(tag, None)
    known[tag] = secrets.token_urlsafe(16)
    newest = dict(list(known.items())[-USERNAMES_PER_BROWSER:])
    response.set_cookie(
        cookie_name(),
        signing.dumps(newest, salt=SALT),
        max_age=int(KNOWN_FOR.total_seconds()),
        path="/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def is_a_staff_username(name: str) -> bool:
    """Whether `name` (as a pseudonym visitors would see) is someone's username, in any case or spacing.

    A pseudonym is public; a username shown to visitors is one anyone could guess passwords for.
    """
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username__iexact=name.strip()).exists()
