"""The service's own permissions, enrolment links, staff sessions and authenticators.

Staff users are Django's; roles are groups (see roles.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.accounts import seeds


class StaffCapability(models.Model):
    """No table: exists so the capabilities below are real, assignable Django permissions."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("counsel", "Can take and answer chats"),
            ("supervise", "Can watch the queue and counsellor load and transfer chats"),
            ("view_statistics", "Can see and export aggregate statistics"),
        ]

    def __str__(self) -> str:
        return "staff capability"


class EnrolmentInvitation(models.Model):
    """An administrator's single-use, expiring permission for one person to enrol an authenticator app.

    Only a hash of the link's token is kept; the link itself is shown once, to whoever issued it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"enrolment link for user {self.user_id}"


class SessionKeyDigest(str):
    """A session key as the database holds it: already a digest, never digested again."""

    __slots__ = ()


class SessionKeyDigestField(models.CharField):  # type: ignore[type-arg]
    """Writes and looks up a session key as its SHA-256 digest, so the table never holds a usable key."""

    def from_db_value(self, value: str | None, _expression: Any, _connection: Any) -> SessionKeyDigest | None:
        return None if value is None else SessionKeyDigest(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or isinstance(value, SessionKeyDigest):
            return value
        return hashlib.sha256(str(value).encode()).hexdigest()


class StaffSession(AbstractBaseSession):
    """A staff session (visitors have none), under a digest of its key: see helpline/accounts/sessions.py."""

    session_key = SessionKeyDigestField(max_length=64, primary_key=True)

    @classmethod
    def get_session_store_class(cls) -> Any:
        from helpline.accounts.sessions import SessionStore

        return SessionStore


class RecoveryCodes(StaticDevice):  # type: ignore[misc]
    """A person's single-use recovery codes, each kept as its digest (seeds.recovery_code_digest), never in
    clear: django-otp's StaticDevice keeps the codes themselves, which a database reader could then use.
    Checking a code stays StaticDevice's own (used once, throttled), given the typed code's digest."""

    class Meta:
        proxy = True
        verbose_name = "recovery codes"
        verbose_name_plural = "recovery codes"

    def verify_token(self, token: Any) -> bool:
        return bool(super().verify_token(seeds.recovery_code_digest(str(token), self.user_id)))


class SealedTOTPDevice(TimestampMixin, ThrottlingMixin, Device):  # type: ignore[misc]
    """An authenticator app (TOTP) whose seed is kept sealed (helpline/accounts/seeds.py), not in clear.

    django-otp's TOTPDevice keeps the seed as plain hex, from which a database reader makes every code.
    The arithmetic stays django-otp's own: the methods below are TOTPDevice's, reused unchanged, and
    tests/unit/test_accounts_secrets.py checks they accept and refuse exactly what TOTPDevice does.
    """

    sealed_key = models.TextField(help_text="The seed, sealed with TOTP_SEED_KEY for this user.")
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    verify_token = TOTPDevice.verify_token
    get_throttle_factor = TOTPDevice.get_throttle_factor
    config_url = TOTPDevice.config_url
    _read_str_from_settings = TOTPDevice._read_str_from_settings

    class Meta(Device.Meta):  # type: ignore[misc]
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        return seeds.open_seed(self.sealed_key, self.user_id)

    def set_seed(self, seed: bytes) -> None:
        self.sealed_key = seeds.seal_seed(seed, self.user_id)
