"""Staff sign-in (password, then a second factor), enrolment, recovery codes, and the staff home."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import segno
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from helpline.accounts import actions
from helpline.accounts.access import require_staff, second_factor_verified
from helpline.accounts.forms import OneTimeCodeForm
from helpline.accounts.guessing import remember_browser
from helpline.accounts.roles import ROLE_DESCRIPTIONS, ROLE_LABELS, roles_of

RECOVERY_CODES_SESSION_KEY = "accounts_new_recovery_codes"


class StaffLoginView(LoginView):
    """Password step; always continues to the second factor (Django rotates the session here)."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = False

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # Just signed out (sign_out): the page also deletes the console's sealed records in this browser.
        return {**super().get_context_data(**kwargs), "signed_out": self.request.GET.get("signed_out") == "1"}

    def get_success_url(self) -> str:
        target = reverse("accounts:second_factor")
        next_url = self.get_redirect_url()
        return f"{target}?next={next_url}" if next_url else target


def _safe_next(request: HttpRequest) -> str:
    next_url = request.GET.get("next") or request.POST.get("next") or ""
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                                    require_https=request.is_secure()):
        return next_url
    return reverse("accounts:home")


def _is_enrolment_link(path: str) -> bool:
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return False
    return match.view_name == "accounts:enrol"


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """Verify with the person's authenticator; on the way to an enrolment link, go there instead."""
    user = request.user
    next_url = _safe_next(request)
    if _is_enrolment_link(next_url):
        return redirect(next_url)
    if second_factor_verified(user, request.session):
        return redirect(next_url)
    if actions.confirmed_totp_device(user) is None:
        # The password alone never enrols an authenticator: that takes a link an administrator issued.
        return render(request, "accounts/needs_enrolment.html")
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = actions.verify_second_factor(user, form.cleaned_data["code"])
        if device is not None:
            return _complete_sign_in(request, device, redirect(next_url))
        form.add_error("code", _("That code is not right, or it was already used. Try the next code."))
    return render(request, "accounts/second_factor.html", {"form": form, "next": next_url})


def _complete_sign_in(request: HttpRequest, device: Any, response: HttpResponse) -> HttpResponse:
    """Mark the session verified under a new key and a new CSRF token, as Django does at the password step,
    and remember this browser for this person (accounts/guessing.py).

    Whoever learnt the key the session had after the password step (or planted it) holds nothing now.
    """
    otp_login(request, device)
    request.session.cycle_key()
    rotate_token(request)
    remember_browser(request, response, request.user.get_username())
    return response


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest, token: str) -> HttpResponse:
    """Set up an authenticator app with a link an administrator issued: after the password, used once.

    A link that is unknown, used, expired or someone else's gets the same answer.
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.path)
    invitation = actions.enrolment_invitation(token, request.user)
    if invitation is None:
        return render(request, "accounts/enrolment_link_invalid.html", status=404)
    device = actions.pending_totp_device(request.user)
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].replace(" ", "")):
            codes = actions.enrol_with_invitation(invitation, device)
            response = _complete_sign_in(request, device, redirect("accounts:recovery_codes"))
            request.session[RECOVERY_CODES_SESSION_KEY] = codes
            return response
        form.add_error("code", _("That code is not right. Check the time on your phone and try again."))
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/enrol.html",
        {
            "form": form,
            # A viewBox, not a fixed size: the style sheet sizes it, and a fixed size was cut off there.
            "qr_svg": qr.svg_inline(scale=5, omitsize=True, dark="#1b1b1b", light="#ffffff",
                                    title=_("QR code for your authenticator app")),
            "secret_base32": _base32_secret(device.bin_key),
        },
    )


def _base32_secret(key: bytes) -> str:
    import base64

    raw = base64.b32encode(key).decode().rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


@require_staff()
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Shows new recovery codes once, right after enrolment; a reload shows nothing."""
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    return render(request, "accounts/recovery_codes.html", {"codes": codes})


@require_staff()
@require_POST
def regenerate_recovery_codes(request: HttpRequest) -> HttpResponse:
    device = actions.confirmed_totp_device(request.user)
    if device is None:
        return redirect("accounts:second_factor")
    request.session[RECOVERY_CODES_SESSION_KEY] = actions.confirm_totp_and_issue_recovery_codes(device)
    return redirect("accounts:recovery_codes")


@require_staff()
def home(request: HttpRequest) -> HttpResponse:
    roles = roles_of(request.user)
    return render(
        request,
        "accounts/home.html",
        {"roles": [(ROLE_LABELS[role], ROLE_DESCRIPTIONS[role]) for role in roles]},
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Sign out, from whichever staff page; the sign-in page that follows deletes the console's sealed chat
    records in this browser (chat/signed-out.js): the console page wipes them itself, other pages cannot."""
    logout(request)
    return redirect(f"{reverse('accounts:login')}?signed_out=1")


def locked_out(request: HttpRequest, *_args: Any, **_kwargs: Any) -> HttpResponse:
    """django-axes calls this when a username is locked: say so, and say when to try again."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked_out.html", {"cooloff_minutes": minutes}, status=429)
