"""Writes for staff accounts: enrolment links, enrolling and verifying second factors, recovery codes, demo staff."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django_otp.plugins.otp_static.models import StaticToken

from helpline.accounts.models import EnrolmentInvitation, RecoveryCodes, SealedTOTPDevice
from helpline.accounts.roles import assign_roles
from helpline.accounts.seeds import recovery_code_digest

RECOVERY_CODE_COUNT = 10
ENROLMENT_DEVICE_NAME = "authenticator"
ENROLMENT_LINK_HOURS = 72


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_enrolment_link(user: Any, *, lang: str = "en", hours: int = ENROLMENT_LINK_HOURS) -> str:
    """A new single-use enrolment link (a path) for `user`, valid for `hours`; their earlier links stop working."""
    token = secrets.token_urlsafe(24)
    EnrolmentInvitation.objects.filter(user=user).delete()
    EnrolmentInvitation.objects.create(user=user, token_hash=_token_hash(token),
                                       expires_at=timezone.now() + dt.timedelta(hours=hours))
    with translation.override(lang):
        return reverse("accounts:enrol", kwargs={"token": token})


def enrolment_invitation(token: str, user: Any) -> EnrolmentInvitation | None:
    """The unexpired invitation this token stands for, if it was issued to `user`; else None."""
    return EnrolmentInvitation.objects.filter(token_hash=_token_hash(token), user=user,
                                              expires_at__gt=timezone.now()).first()


@transaction.atomic
def enrol_with_invitation(invitation: EnrolmentInvitation, device: SealedTOTPDevice) -> list[str]:
    """Use up the invitation and make `device` the person's only authenticator; returns new recovery codes."""
    EnrolmentInvitation.objects.filter(user=invitation.user).delete()
    return confirm_totp_and_issue_recovery_codes(device)


SEED_BYTES = 20  # RFC 4226's recommended length, as django-otp's default


def new_totp_device(user: Any, *, confirmed: bool) -> SealedTOTPDevice:
    """A new authenticator with a fresh random seed, sealed before it is written."""
    device = SealedTOTPDevice(user=user, name=ENROLMENT_DEVICE_NAME, confirmed=confirmed)
    device.set_seed(secrets.token_bytes(SEED_BYTES))
    device.save()
    return device


def pending_totp_device(user: Any) -> SealedTOTPDevice:
    """The user's unconfirmed authenticator enrolment, made once and reused until confirmed."""
    device = SealedTOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device if device is not None else new_totp_device(user, confirmed=False)


def confirmed_totp_device(user: Any) -> SealedTOTPDevice | None:
    device: SealedTOTPDevice | None = SealedTOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device


@transaction.atomic
def confirm_totp_and_issue_recovery_codes(device: SealedTOTPDevice) -> list[str]:
    """Confirm an authenticator (any other of the person's stops working) and replace any recovery codes.

    Returns the new codes, shown once; only their digests are kept (RecoveryCodes).
    """
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    SealedTOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    static, _created = RecoveryCodes.objects.get_or_create(user=device.user, name="recovery",
                                                           defaults={"confirmed": True})
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=recovery_code_digest(code, device.user_id))
                                     for code in codes])
    return codes


def verify_second_factor(user: Any, code: str) -> Any | None:
    """The device that accepts this code (TOTP first, then a single-use recovery code), or None.

    SealedTOTPDevice refuses a code for a time step it has already accepted, so a code cannot be replayed.
    """
    code = code.replace(" ", "")
    totp = confirmed_totp_device(user)
    if totp is not None and code.isdigit() and totp.verify_token(code):
        return totp
    for static in RecoveryCodes.objects.filter(user=user, confirmed=True):
        if static.verify_token(code):
            return static
    return None


@transaction.atomic
def create_staff(username: str, password: str, roles: list[str], *, with_totp: bool = False) -> tuple[Any, bool]:
    """Create (or update the roles of) a staff member; with_totp gives them a confirmed authenticator.

    Returns (user, created). An existing user's password is left alone, so running this twice
    changes nothing.
    """
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.save()
    assign_roles(user, roles)
    if with_totp and confirmed_totp_device(user) is None:
        new_totp_device(user, confirmed=True)
    return user, created
