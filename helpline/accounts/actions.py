"""Writes for staff accounts: enrolling and verifying second factors, recovery codes, demo staff."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.accounts.roles import assign_roles

RECOVERY_CODE_COUNT = 10
ENROLMENT_DEVICE_NAME = "authenticator"


def pending_totp_device(user: Any) -> TOTPDevice:
    """The user's unconfirmed authenticator enrolment, made once and reused until confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=ENROLMENT_DEVICE_NAME, confirmed=False)
    return device


def confirmed_totp_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


@transaction.atomic
def confirm_totp_and_issue_recovery_codes(device: TOTPDevice) -> list[str]:
    """Confirm an enrolment and replace any recovery codes; returns the new codes (shown once)."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
    static, _created = StaticDevice.objects.get_or_create(user=device.user, name="recovery",
                                                          defaults={"confirmed": True})
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


def verify_second_factor(user: Any, code: str) -> Any | None:
    """The device that accepts this code (TOTP first, then a single-use recovery code), or None.

    TOTPDevice refuses a code for a time step it has already accepted, so a code cannot be replayed.
    """
    code = code.replace(" ", "")
    totp = confirmed_totp_device(user)
    if totp is not None and code.isdigit() and totp.verify_token(code):
        return totp
    for static in StaticDevice.objects.filter(user=user, confirmed=True):
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
        TOTPDevice.objects.create(user=user, name=ENROLMENT_DEVICE_NAME, confirmed=True,
                                  key=secrets.token_hex(20))
    return user, created
