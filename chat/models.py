"""Chat state that lives only while a chat lasts, counsellor device keys, and admin-managed chat content.

A `Chat` row is deleted when the chat ends; its timestamps exist only to compute the wait and duration
bins at that moment (see docs/chat.md, server internals). Nothing here ever holds a key the server could read
messages with: no visitor key (`vk`), no counsellor chat key (`ck`), no ciphertext.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from chat.protocol.crypto import b64e
from chat.schema import LANGS


def new_chat_id() -> str:
    """b64 of 16 random bytes (protocol.md §4)."""
    return b64e(secrets.token_bytes(16))


def new_device_id() -> str:
    """b64 of 16 random bytes (protocol.md §3), never starting with "-".

    Operators type device ids into `certify_device` and `revoke_device`, where an id starting with "-"
    reads as an option (one id in 64 did). Drawing again keeps the ids uniform over the others.
    """
    while True:
        device_id = b64e(secrets.token_bytes(16))
        if not device_id.startswith("-"):
            return device_id


class CounsellorDevice(models.Model):
    """One counsellor browser's signing key; visitors trust it only with an organisation certificate."""

    PENDING = "pending"
    CERTIFIED = "certified"
    REVOKED = "revoked"
    STATUSES = [(PENDING, "pending"), (CERTIFIED, "certified"), (REVOKED, "revoked")]

    id = models.CharField(primary_key=True, max_length=22, default=new_device_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_devices")
    public_key = models.CharField(max_length=87, unique=True, help_text="b64 of the 65-byte P-256 point")
    pseudonym = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=9, choices=STATUSES, default=PENDING)
    certificate = models.JSONField(null=True, blank=True)
    not_after = models.DateField(null=True, blank=True)
    registered_on = models.DateField(auto_now_add=True)

    def __str__(self) -> str:
        return f"device {self.id} of {self.user} ({self.status})"


class Chat(models.Model):
    """One chat while it lasts: queued, offered to one counsellor socket, or active. Deleted at the end."""

    QUEUED = "queued"
    OFFERED = "offered"
    ACTIVE = "active"
    STATES = [(QUEUED, "queued"), (OFFERED, "offered"), (ACTIVE, "active")]

    id = models.CharField(primary_key=True, max_length=22, default=new_chat_id, editable=False)
    lang = models.CharField(max_length=2)
    state = models.CharField(max_length=7, choices=STATES, default=QUEUED)
    # The epoch of the latest handshake offered to a counsellor; `epoch_used` says whether one was offered yet.
    epoch = models.PositiveBigIntegerField(default=0)
    epoch_used = models.BooleanField(default=False)
    answered = models.BooleanField(default=False)
    resume_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the resume token, hex")
    # Exact times, kept only while the chat lasts, to compute bins and grace periods; deleted with the row.
    queued_at = models.DateTimeField()
    waiting_since = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    pending_since = models.DateTimeField(null=True, blank=True, help_text="a handshake awaits the counsellor")
    front = models.BooleanField(default=False, help_text="returned to the front of the queue")
    reserved_for = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    reserved_until = models.DateTimeField(null=True, blank=True, help_text="a hand-over waits for its receiver")
    # Who handed the chat over: it goes back to them if the colleague does not take it in time.
    transferred_from = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    device = models.ForeignKey(CounsellorDevice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    visitor_channel = models.CharField(max_length=200, blank=True)
    counsellor_channel = models.CharField(max_length=200, blank=True)
    visitor_left_at = models.DateTimeField(null=True, blank=True)
    # The visitor's socket says it is alive now and then; a silent one is treated as gone (crashed process).
    visitor_seen_at = models.DateTimeField(null=True, blank=True)
    counsellor_left_at = models.DateTimeField(null=True, blank=True)
    # While queued, the chat holds its place until then (rent, docs/protocol.md §9); null when rent is off.
    rent_paid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "front", "waiting_since"])]

    def __str__(self) -> str:
        return f"chat ({self.state})"


class CounsellorPresence(models.Model):
    """One open counsellor socket and whether it takes chats; deleted when the socket closes."""

    channel = models.CharField(primary_key=True, max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    available = models.BooleanField(default=False)
    boot = models.CharField(max_length=32, help_text="which server process holds the socket")
    available_since = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True, help_text="the socket's last sign of life")

    def __str__(self) -> str:
        return f"counsellor socket ({'available' if self.available else 'away'})"


def every_language() -> list[str]:
    return list(LANGS)


class CounsellorProfile(models.Model):
    """A counsellor's chat settings: the languages they answer chats in. No row means every language."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="chat_profile")
    languages = models.JSONField(default=every_language,
                                 help_text="codes of the chat languages this counsellor answers in: en, nl")

    class Meta:
        verbose_name = "counsellor profile"

    def __str__(self) -> str:
        return f"chat languages of {self.user}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not isinstance(self.languages, list) or not self.languages or set(self.languages) - set(LANGS):
            raise ValidationError({"languages": f"Choose at least one of: {', '.join(LANGS)}."})

    @staticmethod
    def answerable(languages: object) -> tuple[str, ...]:
        """The stored value as routing reads it, in LANGS order; an empty or unreadable one means every language,
        so a damaged row never silently keeps someone from getting chats."""
        chosen = tuple(lang for lang in LANGS if isinstance(languages, list) and lang in languages)
        return chosen or LANGS

    @classmethod
    def languages_by_user(cls, user_ids: set[int]) -> dict[int, tuple[str, ...]]:
        """Each user's chat languages, with one query whatever the number of users."""
        stored = dict(cls.objects.filter(user_id__in=user_ids).values_list("user_id", "languages"))
        return {user_id: cls.answerable(stored.get(user_id)) for user_id in user_ids}


class CannedResponse(models.Model):
    """A ready answer counsellors can insert (its text is encrypted by their browser like any message)."""

    title = models.CharField(max_length=80)
    text_en = models.TextField()
    text_nl = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "title"]

    def __str__(self) -> str:
        return self.title


class ServiceSettings(models.Model):
    """The chat service's configuration, one row (admin-editable)."""

    time_zone = models.CharField(max_length=64, default="Europe/Amsterdam")
    per_counsellor_cap = models.PositiveSmallIntegerField(default=2, help_text="chats one counsellor holds at once")

    class Meta:
        verbose_name = "service settings"
        verbose_name_plural = "service settings"

    def __str__(self) -> str:
        return "chat service settings"

    def clean(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from django.core.exceptions import ValidationError

        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"time_zone": "Not a known time zone (e.g. Europe/Amsterdam)."}) from None

    @classmethod
    def current(cls) -> ServiceSettings:
        row = cls.objects.first()
        return row if row is not None else cls()


class OpeningHours(models.Model):
    """One opening interval on a weekday (0 = Monday), in the service's time zone. None at all = always open."""

    WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"),
                (6, "Sunday")]
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    opens = models.TimeField()
    closes = models.TimeField(help_text="later than opens; split an interval that passes midnight in two")

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "opening hours"

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValidationError("Closing time must be after opening time (split an interval past midnight).")


class ClosedDay(models.Model):
    """A date the chat is closed whatever the weekly hours say (e.g. a public holiday)."""

    date = models.DateField(unique=True)
    note = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"closed {self.date}"


class UsedToken(models.Model):
    """A single-use token (proof-of-work challenge, feedback, late wrap-up) that has been used.

    Kept in the database rather than the cache so that a restart of the server (or of Redis, which keeps
    nothing) cannot make a used token good again. `marker` is a hash of the token's purpose and random
    part, which nothing else holds; `expires_hour` is the token's own expiry rounded up to the hour, so no
    row says when anyone asked for or used a token. Rows go once that hour has passed (the sweep).
    """

    marker = models.CharField(primary_key=True, max_length=64)
    expires_hour = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return "used token"
