"""Every write the mailbox makes (threads, messages, key wraps, device keys, deletion) and the counters it adds.

Each check runs before anything is written, and each write is one transaction, so a refused request changes
nothing. Refusals are raised as `Refused` with an HTTP status, a short code and a sentence for people.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from chat.models import CounsellorDevice
from chat.protocol.crypto import b64d
from chat.schema import wrapup_dimensions
from helpline.metrics.actions import increment
from helpline.metrics.catalogue import mailbox_reply_band
from securemessages import conf, erasure
from securemessages.access import oldest_kept_day
from securemessages.crypto import MAILBOX_RECIPIENT, VISITOR, verify_ek_binding, verify_message
from securemessages.envelope import Envelope, NewThread
from securemessages.models import DeviceKey, Message, Thread, Wrap


class Refused(Exception):
    """A request the mailbox will not carry out; nothing was written."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TeamMember:
    """A device messages are sealed to: certified, unexpired, of an active person, with an encryption key."""

    device: str
    cert: dict[str, Any]
    ek: str
    ek_sig: str

    def as_json(self) -> dict[str, Any]:
        return {"cert": self.cert, "ek": self.ek, "ek_sig": self.ek_sig}


def team(today: dt.date) -> list[TeamMember]:
    """Every device a message to the team is sealed to, today."""
    keys = DeviceKey.objects.select_related("device").filter(
        device__status=CounsellorDevice.CERTIFIED, device__not_after__gte=today, device__user__is_active=True,
    ).order_by("device_id")
    return [TeamMember(device=key.device_id, cert=key.device.certificate, ek=key.ek, ek_sig=key.ek_sig)
            for key in keys if isinstance(key.device.certificate, dict)]


# --- checks --------------------------------------------------------------------------------------------------


def _check_recipients(message: Envelope, members: Iterable[TeamMember]) -> None:
    known = {member.device for member in members}
    strangers = set(message.keys) - known - {MAILBOX_RECIPIENT}
    if strangers:
        raise Refused(400, "unknown_recipient", "A key is wrapped to a device that is not in the team.")


def _check_room(thread: Thread, message: Envelope) -> None:
    if thread.message_count + 1 > conf.thread_max_messages() or \
            thread.stored_chars + len(message.ct) > conf.thread_max_chars():
        raise Refused(409, "thread_full", _("This conversation is full. Please delete it and start a new one."))


def _check_visitor_signature(mailbox_signing_key: str, thread_id: str, message: Envelope) -> None:
    if message.sender != VISITOR:
        raise Refused(400, "bad_sender", "A visitor's message must be from visitor.")
    if not verify_message(b64d(mailbox_signing_key), thread_id, message.id, message.sender, message.ct, message.sig):
        raise Refused(400, "bad_signature", "The message's signature does not verify under the thread's key.")


def _store(thread: Thread, message: Envelope, cert: dict[str, Any] | None, today: dt.date) -> None:
    try:
        with transaction.atomic():
            row = Message.objects.create(thread=thread, message_id=message.id, sender=message.sender, ct=message.ct,
                                         sig=message.sig, cert=cert, written_on=today)
    except IntegrityError:
        raise Refused(409, "duplicate", "This message was already received.") from None
    Wrap.objects.bulk_create([Wrap(message=row, recipient=name, epk=wrap.epk, wk=wrap.wk)
                              for name, wrap in message.keys.items()])


# --- the visitor ------------------------------------------------------------------------------------------------


def start_thread(new: NewThread, today: dt.date) -> Thread:
    """A new thread with its first message, from the visitor's browser."""
    _check_visitor_signature(new.sk, new.thread, new.message)
    _check_recipients(new.message, team(today))
    try:
        with transaction.atomic():
            thread = Thread.objects.create(
                id=new.thread, access_hash=hashlib.sha256(new.access).hexdigest(), lang=new.lang,
                mailbox_key=new.mk, signing_key=new.sk, started_on=today, last_message_on=today,
                message_count=1, stored_chars=len(new.message.ct))
            _store(thread, new.message, None, today)
    except IntegrityError:
        raise Refused(409, "exists", _("Please make a new codename and send again.")) from None
    increment("mailbox.threads_started", new.lang)
    increment("mailbox.received", new.lang)
    return thread


def _add(thread: Thread, message: Envelope, cert: dict[str, Any] | None, today: dt.date) -> None:
    with transaction.atomic():
        locked = Thread.objects.select_for_update().get(pk=thread.pk)
        _check_room(locked, message)
        _store(locked, message, cert, today)
        first_reply = cert is not None and locked.first_reply_on is None
        Thread.objects.filter(pk=thread.pk).update(
            last_message_on=today, message_count=locked.message_count + 1,
            stored_chars=locked.stored_chars + len(message.ct), last_from_team=cert is not None,
            closed=locked.closed and cert is not None,
            first_reply_on=today if first_reply else locked.first_reply_on)
    if cert is None:
        increment("mailbox.received", thread.lang)
    elif first_reply:
        increment("mailbox.threads_answered", thread.lang)
        increment("mailbox.first_reply_days", mailbox_reply_band((today - thread.started_on).days))


def visitor_reply(thread: Thread, message: Envelope, today: dt.date) -> None:
    """The visitor writes again (a closed thread opens again)."""
    _check_visitor_signature(thread.signing_key, thread.id, message)
    _check_recipients(message, team(today))
    _add(thread, message, None, today)


def delete_thread(thread: Thread) -> None:
    """The visitor deletes the whole thread at once; nothing stays readable (securemessages.erasure)."""
    Thread.objects.filter(pk=thread.pk).delete()
    erasure.checkpoint_after_commit()


def purge_expired(today: dt.date) -> int:
    """Delete every thread past retention; returns how many. Run by `manage.py purge_mailbox` and lazily."""
    _rows, by_model = Thread.objects.filter(last_message_on__lt=oldest_kept_day(today)).delete()
    erasure.checkpoint_after_commit()
    return int(by_model.get(Thread._meta.label, 0))


# --- the team ------------------------------------------------------------------------------------------------------


def register_device_key(device: CounsellorDevice, ek: str, ek_sig: str) -> None:
    """Record (or replace) the encryption key a certified device vouched for with its signing key."""
    cert = device.certificate if isinstance(device.certificate, dict) else {}
    if not verify_ek_binding(b64d(str(cert.get("key", ""))), device.pk, ek, ek_sig):
        raise Refused(400, "bad_signature", "ek_sig does not verify under the device's certified key.")
    try:
        with transaction.atomic():
            DeviceKey.objects.update_or_create(device=device, defaults={"ek": ek, "ek_sig": ek_sig})
    except IntegrityError:
        raise Refused(409, "exists", "This encryption key is registered to another device.") from None


def team_reply(thread: Thread, device: CounsellorDevice, message: Envelope, today: dt.date) -> None:
    """A counsellor's answer, signed by their certified device; the certificate is kept with the message."""
    if message.sender != device.pk:
        raise Refused(400, "bad_sender", "from must be the device that signs the message.")
    cert = device.certificate if isinstance(device.certificate, dict) else {}
    if not verify_message(b64d(str(cert.get("key", ""))), thread.id, message.id, message.sender, message.ct,
                          message.sig):
        raise Refused(400, "bad_signature", "The signature does not verify under the device's certificate.")
    _check_recipients(message, team(today))
    _add(thread, message, cert, today)


def add_wraps(thread: Thread, wraps: Mapping[str, Mapping[str, Any]], today: dt.date) -> int:
    """Wrap existing messages' keys to devices that lack them (a colleague's console shares a thread with a new
    device). Only team devices, only messages of this thread, never replacing a wrap; returns how many were added."""
    members = {member.device for member in team(today)}
    rows = {row.message_id: row for row in Message.objects.filter(thread=thread, message_id__in=list(wraps))}
    if set(wraps) - set(rows):
        raise Refused(400, "unknown_message", "A message id is not in this thread.")
    added = []
    for message_id, by_device in wraps.items():
        if set(by_device) - members:
            raise Refused(400, "unknown_recipient", "A key is wrapped to a device that is not in the team.")
        existing = set(rows[message_id].wraps.values_list("recipient", flat=True))
        added += [Wrap(message=rows[message_id], recipient=device, epk=wrap.epk, wk=wrap.wk)
                  for device, wrap in by_device.items() if device not in existing]
    Wrap.objects.bulk_create(added, ignore_conflicts=True)
    return len(added)


def close_thread(thread: Thread, wrapup: dict[str, Any]) -> None:
    """Close a thread with wrap-up codes (the chat's rule); each code adds one to mailbox.wrapup."""
    Thread.objects.filter(pk=thread.pk).update(closed=True)
    for dimension in wrapup_dimensions(wrapup):
        increment("mailbox.wrapup", dimension)


def missing_wraps(threads: Iterable[Thread], members: Iterable[TeamMember]) -> dict[str, int]:
    """Per thread, how many (message, team device) pairs have no wrap yet: what a console could share."""
    devices = {member.device for member in members}
    ids = [thread.pk for thread in threads]
    counts = dict.fromkeys(ids, 0)
    have: dict[int, set[str]] = {}
    for message_pk, recipient in Wrap.objects.filter(message__thread_id__in=ids, recipient__in=devices) \
            .values_list("message_id", "recipient"):
        have.setdefault(message_pk, set()).add(recipient)
    for message_pk, thread_id in Message.objects.filter(thread_id__in=ids).values_list("pk", "thread_id"):
        counts[thread_id] += len(devices - have.get(message_pk, set()))
    return counts


def state_of(thread: Thread) -> str:
    """new (nobody has answered), waiting (the visitor wrote after an answer), answered, or closed."""
    if thread.closed:
        return "closed"
    if thread.first_reply_on is None:
        return "new"
    return "answered" if thread.last_from_team else "waiting"


def threads_in_inbox(today: dt.date) -> list[Thread]:
    return list(Thread.objects.filter(last_message_on__gte=oldest_kept_day(today)).order_by("last_message_on", "pk"))
