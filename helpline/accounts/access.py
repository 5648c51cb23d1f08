"""The one gate for staff pages and staff websockets: signed in, second factor verified, capability held.

Each condition is one line, so a test can prove each case; refusals never say whether a thing exists.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from functools import wraps
from importlib import import_module
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.shortcuts import redirect
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

View = TypeVar("View", bound=Callable[..., HttpResponse])

COUNSEL = "counsel"
SUPERVISE = "supervise"
VIEW_STATISTICS = "view_statistics"
CAPABILITIES = (COUNSEL, SUPERVISE, VIEW_STATISTICS)


class Decision(enum.Enum):
    ALLOWED = "allowed"
    SIGN_IN = "sign_in"  # not signed in at all
    SECOND_FACTOR = "second_factor"  # password ok, second factor not yet verified
    FORBIDDEN = "forbidden"  # signed in and verified, but the role does not allow it


def no_client_address(_request: HttpRequest) -> None:
    """django-axes asks for a client address; this service never has one (see asgi_privacy)."""
    return


def second_factor_verified(user: Any, session: Mapping[str, Any] | None) -> bool:
    """True when the session was verified with one of this user's confirmed OTP devices."""
    if session is None:
        return False
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id, for_verify=False)
    return device is not None and device.user_id == user.pk and device.confirmed


def staff_decision(user: Any, session: Mapping[str, Any] | None, capability: str | None) -> Decision:
    """Decide whether this user, in this session, may use something that needs `capability`.

    `capability=None` means any signed-in, verified staff member (e.g. the staff home page).
    """
    if capability is not None and capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    if user is None or not user.is_authenticated:
        return Decision.SIGN_IN
    if not user.is_active:
        return Decision.SIGN_IN
    if not second_factor_verified(user, session):
        return Decision.SECOND_FACTOR
    if capability is not None and not user.has_perm(f"accounts.{capability}"):
        return Decision.FORBIDDEN
    return Decision.ALLOWED


# A sign-in redirect carries where to come back to; past this it would exceed Django's redirect limit
# (DisallowedRedirect, logged as an error) for nothing a person would type: the query is dropped.
RETURN_PATH_LIMIT = 2000


def return_path(request: HttpRequest) -> str:
    full = request.get_full_path()
    return full if len(full) <= RETURN_PATH_LIMIT else request.path


def require_staff(capability: str | None = None) -> Callable[[View], View]:
    """View decorator applying staff_decision; the only way staff views are protected."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            decision = staff_decision(request.user, request.session, capability)
            if decision is Decision.SIGN_IN:
                return redirect_to_login(return_path(request))
            if decision is Decision.SECOND_FACTOR:
                return redirect("accounts:second_factor")
            if decision is Decision.FORBIDDEN:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def socket_staff(scope: Mapping[str, Any]) -> tuple[Any, SessionBase | None]:
    """The user and session a websocket's session cookie names, found as Django's session and authentication
    middleware find them for a request; an anonymous user and no session without one. Database work.

    Nothing of them goes into the scope: a socket keeps what the gate decided, not the session."""
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            key = parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
            if key:
                request = HttpRequest()
                request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
                return get_user(request), request.session
            break
    return AnonymousUser(), None

