"""Writes for chats: join, resume, offer, accept, transfer, end, sweeps; each counts what happened.

Each action takes plain values, checks access with `chat.access.access_chat` where it names a chat, changes
the database in one transaction, and returns one `chat.outcome.Outcome`: the events each socket must hear
(the acting socket included) and whether the queue changed. A refusal is `chat.access.ChatRefused(code)`.
Consumers only call these and hand the outcome to `chat.delivery.deliver`, so the rules run the same from a
socket, a test or a management command. Sync code: consumers call it through `helpline.database.on_database`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from chat import pow as proof_of_work
from chat import queue
from chat.access import COUNSELLOR, VISITOR, Act, ChatRefused, Role, SocketIdentity, access_chat
from chat.hours import is_open_at
from chat.models import Chat, CounsellorDevice, CounsellorPresence, ServiceSettings
from chat.outcome import Outcome
from chat.protocol.crypto import b64e, utc_today, verify_certificate, verify_handshake, verify_visitor_key
from chat.schema import wrapup_dimensions
from chat.tokens import forget_expired, make_token, use_once
from helpline.metrics.actions import increment, increment_each, increment_hour_of_week
from helpline.metrics.catalogue import HELPED, NEXT_STEPS, minutes_bin, service_level

# This server process, recorded with each counsellor socket it holds (which process has which socket).
BOOT: Final = secrets.token_hex(8)
FEEDBACK_PURPOSE: Final = "feedback"
FEEDBACK_SECONDS: Final = 3600
QUEUE_GROUP: Final = "chat.queue"


def now() -> dt.datetime:
    return timezone.now()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _count(metric: str, dimension: str = "") -> None:
    increment(metric, dimension)


# --- reads the rules need ---------------------------------------------------------------------------------


def service_is_open(moment: dt.datetime) -> bool:
    return is_open_at(moment)


def waiting(moment: dt.datetime | None = None) -> Any:
    """The queued chats that hold a place: their visitor is here (one who left, by a reload, a lost connection
    or a server restart that closed every socket, is not counted, listed or offered until they resume) and
    their rent is paid (protocol.md §9: an unpaid place keeps no one out and is offered to no one)."""
    rent_paid = Q(rent_paid_until__isnull=True) | Q(rent_paid_until__gte=moment or now())
    return Chat.objects.filter(state=Chat.QUEUED).exclude(visitor_channel="").filter(rent_paid)


def waiting_count(moment: dt.datetime | None = None) -> int:
    return int(waiting(moment).count())


def _waiting(chats: Any) -> list[queue.Waiting]:
    return [queue.Waiting(chat=c.id, lang=c.lang, waiting_since=c.waiting_since, front=c.front,
                          reserved_for=c.reserved_for_id, visitor_present=bool(c.visitor_channel)) for c in chats]


def queue_listing(moment: dt.datetime) -> list[dict[str, object]]:
    return queue.queue_listing(_waiting(waiting()), moment)


def queue_position(chat_id: str) -> int:
    return queue.queue_position(chat_id, _waiting(waiting()))


def relay_peer(role: Role, identity: SocketIdentity, chat_id: str | None) -> str:
    """The channel a `msg` or `typing` of this socket goes to: the other party's socket, or "" when nobody can
    receive it now (the chat is queued or being handed over, or the other side's socket is away). The sender
    is then told the message was `undelivered`, and its page sends it again once someone holds the chat."""
    chat = access_chat(role, identity, chat_id, Act.SPEAK)
    if chat.state != Chat.ACTIVE:
        return ""
    if role == VISITOR:
        return chat.counsellor_channel if _counsellor_present(chat) else ""
    return chat.visitor_channel


# --- visitor ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitorKeys:
    """The keys a visitor's `join` or `resume` carries: this epoch's ECDH key `vk`, the chat's identity key `ik`
    and `vsig`, ik's signature over vk (docs/protocol.md, key continuity). The server keeps none of them: the
    visitor's socket holds them in memory to pass them to whichever counsellor socket is offered the chat."""

    vk: str
    ik: str
    vsig: str

    @classmethod
    def from_frame(cls, fields: dict[str, Any]) -> VisitorKeys:
        return cls(vk=fields["vk"], ik=fields["ik"], vsig=fields["vsig"])

    def check(self) -> None:
        """A broken client is caught here, before a counsellor sees its keys (they check them too)."""
        if not verify_visitor_key(self.ik, self.vk, self.vsig):
            raise ChatRefused("bad_signature", "The visitor key is not signed by the identity key.")

    def fields(self) -> dict[str, str]:
        return {"vk": self.vk, "ik": self.ik, "vsig": self.vsig}


def join(channel: str, current_chat: str | None, lang: str, keys: VisitorKeys, pow_solution: Any,
         moment: dt.datetime) -> Outcome:
    """Put a visitor in the queue (the socket hears `chat.joined`), or refuse: closed, queue_full,
    pow_required, pow_invalid, bad_signature for keys that do not sign each other, or bad_frame for a socket
    that already has a chat.

    A refusal is counted outside any transaction (it must stay counted); the chat and its counters are made in
    one, so a join that fails on the database leaves no chat behind to duplicate."""
    if current_chat:
        raise ChatRefused("bad_frame", "This socket already has a chat.")
    keys.check()
    if not service_is_open(moment):
        _count("chat.refused", "closed")
        raise ChatRefused("closed")
    queue_length = waiting_count(moment)
    if queue.queue_is_full(queue_length, settings.MAX_QUEUE_LENGTH):
        _count("chat.refused", "queue_full")
        raise ChatRefused("queue_full")
    solved = join_work(queue_length, pow_solution, moment)
    rent_until = _rent_until(moment, proof_of_work.join_credit(queue_length, moment, solved))
    token = b64e(secrets.token_bytes(32))
    with transaction.atomic():
        chat = Chat.objects.create(lang=lang, resume_hash=_hash(token), queued_at=moment, waiting_since=moment,
                                   visitor_channel=channel, visitor_seen_at=moment, rent_paid_until=rent_until)
        _count("chat.offered", lang)
        increment_hour_of_week("chat.demand_how", moment)
        position = queue_position(chat.id)
    outcome = Outcome(queue_changed=True)
    return outcome.tell(channel, "chat.joined", chat=chat.id, resume=token, position=position, **keys.fields(),
                        rent_until=_timestamp(rent_until))


def join_work(held: int, pow_solution: Any, moment: dt.datetime) -> proof_of_work.Price | None:
    """The price a join's `pow` solved, or None when joining is free now; refuses pow_required, pow_invalid.

    An answer to at least half the price asked now is good: the price may have risen a step while the
    visitor worked (a challenge says what it asked, so an old cheap one cannot buy more than it paid for)."""
    price = proof_of_work.join_price(held, moment)
    if price is None:
        return None
    if pow_solution is None:
        raise ChatRefused("pow_required")
    solved = proof_of_work.check_work(proof_of_work.JOIN, pow_solution)
    if solved is None or 2 * solved.work < price.work:
        _count("chat.refused", "pow_invalid")
        raise ChatRefused("pow_invalid")
    return solved


def _rent_until(moment: dt.datetime, seconds: float) -> dt.datetime | None:
    """The end of a place paid for `seconds` from `moment`; None when there is no rent."""
    if settings.CHAT_RENT_SECONDS <= 0:
        return None
    return moment + dt.timedelta(seconds=seconds)


def _timestamp(moment: dt.datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def refuse_rate_limited_join() -> None:
    _count("chat.refused", "rate_limited")


def _next_epoch(chat: Chat) -> int:
    """A new handshake gets a new epoch, except the very first one, which is 0."""
    if chat.epoch_used:
        chat.epoch += 1
    chat.epoch_used = True
    return chat.epoch


def _counsellor_present(chat: Chat) -> bool:
    return bool(chat.counsellor_channel) and chat.counsellor_left_at is None


@transaction.atomic
def resume(channel: str, current_chat: str | None, token: str, keys: VisitorKeys, moment: dt.datetime) -> Outcome:
    """Give a returning visitor their chat back with a new token (the socket hears `chat.resumed`, its
    counsellor `chat.presence` back and then `chat.rekey`); refuse a token that is unknown, used or late with
    resume_invalid."""
    if current_chat:
        raise ChatRefused("bad_frame", "This socket already has a chat.")
    keys.check()
    chat = Chat.objects.select_for_update().filter(resume_hash=_hash(token)).first()
    if chat is None:
        raise ChatRefused("resume_invalid")
    late = chat.visitor_left_at is not None and (moment - chat.visitor_left_at).total_seconds() \
        > settings.RESUME_GRACE_SECONDS
    if late:
        raise ChatRefused("resume_invalid")
    new_token = b64e(secrets.token_bytes(32))
    displaced = chat.visitor_channel if chat.visitor_channel != channel else ""
    chat.resume_hash = _hash(new_token)
    chat.visitor_channel = channel
    chat.visitor_left_at = None
    chat.visitor_seen_at = moment
    if chat.rent_paid_until is not None and chat.rent_paid_until < moment:
        chat.rent_paid_until = moment  # the socket asks for rent at once; the unpaid time starts again
    rekey: dict[str, Any] | None = None
    if chat.state != Chat.QUEUED and _counsellor_present(chat):
        rekey = {"chat": chat.id, "epoch": _next_epoch(chat), **keys.fields()}
        chat.pending_since = moment
    chat.save()
    _count("chat.resumes")
    outcome = Outcome(queue_changed=chat.state == Chat.QUEUED)
    outcome.tell(displaced, "chat.displaced")
    position = queue_position(chat.id) if chat.state == Chat.QUEUED else 0
    outcome.tell(channel, "chat.resumed", chat=chat.id, resume=new_token, position=position, **keys.fields(),
                 rent_until=_timestamp(chat.rent_paid_until))
    if rekey is not None:
        outcome.tell(chat.counsellor_channel, "chat.presence", chat=chat.id, peer="back")
        outcome.tell(chat.counsellor_channel, "chat.rekey", **rekey)
    return outcome


def visitor_left(chat_id: str | None, channel: str, moment: dt.datetime) -> Outcome:
    """The visitor's socket closed: the chat waits RESUME_GRACE_SECONDS for a `resume`, and a counsellor
    holding it hears at once that the visitor is away, and for how long the chat waits."""
    with transaction.atomic():
        chat = Chat.objects.select_for_update().filter(pk=chat_id or "", visitor_channel=channel).first()
        if chat is None:
            return Outcome()
        chat.visitor_channel = ""
        chat.visitor_left_at = moment
        chat.save(update_fields=["visitor_channel", "visitor_left_at"])
    # A queued visitor who left leaves the listing; a chat someone holds stays where it is.
    outcome = Outcome(queue_changed=chat.state == Chat.QUEUED)
    if chat.state != Chat.QUEUED and _counsellor_present(chat):
        outcome.tell(chat.counsellor_channel, "chat.presence", chat=chat.id, peer="away",
                     grace=settings.RESUME_GRACE_SECONDS)
    return outcome


# --- rent: a waiting chat keeps its place by solving a fresh puzzle every CHAT_RENT_SECONDS (protocol.md §9) ---


def ask_rent(identity: SocketIdentity, chat_id: str, moment: dt.datetime) -> Outcome:
    """The visitor's socket found its place running low: the socket hears `chat.rent` with the puzzle for the
    next period (`ask`), or, while places are free, with its place simply extended."""
    chat = access_chat(VISITOR, identity, chat_id, Act.PAY_RENT)
    if chat.state != Chat.QUEUED or chat.rent_paid_until is None:
        return Outcome()
    held = waiting(moment).exclude(pk=chat.pk).count() + 1
    price = proof_of_work.rent_price(held, moment)
    if price is None:
        until = _rent_until(moment, 2 * settings.CHAT_RENT_SECONDS)
        lapsed = chat.rent_paid_until < moment
        Chat.objects.filter(pk=chat.pk, state=Chat.QUEUED).update(rent_paid_until=until)
        return Outcome(queue_changed=lapsed).tell(identity.channel, "chat.rent", chat=chat.id,
                                                  rent_until=_timestamp(until))
    seconds = int(settings.CHAT_RENT_SECONDS + settings.RESUME_GRACE_SECONDS)
    challenge = proof_of_work.make_work_challenge(proof_of_work.rent_kind(chat.id), price, seconds)
    due = max(0, int((chat.rent_paid_until - moment).total_seconds()))
    ask = {"challenge": challenge, "iterations": price.iterations, "bits": price.bits, "due": due}
    return Outcome().tell(identity.channel, "chat.rent", chat=chat.id, rent_until=_timestamp(chat.rent_paid_until),
                          ask=ask)


@transaction.atomic
def pay_rent(identity: SocketIdentity, chat_id: str, pow_solution: Any, moment: dt.datetime) -> Outcome:
    """A `rent` answer: one more period of place (at most two ahead), or pow_invalid. A chat that left the
    queue meanwhile owes nothing, and the answer changes nothing."""
    chat = access_chat(VISITOR, identity, chat_id, Act.PAY_RENT, lock=True)
    if chat.state != Chat.QUEUED or chat.rent_paid_until is None:
        return Outcome()
    if proof_of_work.check_work(proof_of_work.rent_kind(chat.id), pow_solution) is None:
        raise ChatRefused("pow_invalid")
    period = dt.timedelta(seconds=settings.CHAT_RENT_SECONDS)
    lapsed = chat.rent_paid_until < moment
    chat.rent_paid_until = min(max(chat.rent_paid_until, moment) + period, moment + 2 * period)
    chat.save(update_fields=["rent_paid_until"])
    return Outcome(queue_changed=lapsed).tell(identity.channel, "chat.rent", chat=chat.id,
                                              rent_until=_timestamp(chat.rent_paid_until))


def raise_if_abusive(wrapup: dict[str, Any], moment: dt.datetime) -> None:
    if "contact.abusive" in wrapup_dimensions(wrapup):
        proof_of_work.raise_for_abuse(moment)


# --- counsellor -------------------------------------------------------------------------------------------


@transaction.atomic
def register_counsellor(identity: SocketIdentity, moment: dt.datetime) -> Outcome:
    """A counsellor socket opened: record it, and hand it back this person's chats whose socket is gone."""
    outcome = Outcome()
    # One upsert (a socket's channel is new, but a presence row must never be duplicated): update_or_create
    # took a read, two savepoints and the insert for every console that opened.
    CounsellorPresence.objects.bulk_create(
        [CounsellorPresence(channel=identity.channel, user_id=_staff(identity), boot=BOOT, seen_at=moment)],
        update_conflicts=True, unique_fields=["channel"], update_fields=["user", "boot", "seen_at"])
    live = CounsellorPresence.objects.values_list("channel", flat=True)
    orphans = Chat.objects.select_for_update().filter(counsellor_id=identity.user_id).exclude(state=Chat.QUEUED).filter(
        Q(counsellor_left_at__isnull=False) | ~Q(counsellor_channel__in=live))
    for chat in orphans:
        chat.counsellor_channel = identity.channel
        chat.counsellor_left_at = None
        if chat.visitor_channel:
            # The visitor's socket holds its key: it sends the `rekey` (VisitorConsumer.chat_offer).
            chat.pending_since = moment
            outcome.tell(chat.visitor_channel, "chat.offer", chat=chat.id, epoch=_next_epoch(chat),
                         counsellor=identity.channel)
        chat.save()
    return outcome


def _staff(identity: SocketIdentity) -> int:
    if identity.user_id is None:
        raise ValueError("a counsellor socket always has a user")
    return identity.user_id


def single_process() -> bool:
    """An in-memory channel layer cannot span processes, so there is only this one."""
    from channels.layers import InMemoryChannelLayer

    return issubclass(import_string(str(settings.CHANNEL_LAYERS["default"]["BACKEND"])), InMemoryChannelLayer)


def set_available(identity: SocketIdentity, on: bool, moment: dt.datetime) -> Outcome:
    CounsellorPresence.objects.filter(channel=identity.channel).update(available=on,
                                                                        available_since=moment if on else None)
    if on:
        count_capacity(_staff(identity), moment)
    return Outcome(queue_changed=True)


def count_capacity(user_id: int, moment: dt.datetime) -> None:
    """chat.capacity_how: once per available counsellor per hour (the cache remembers who was counted)."""
    hour = moment.replace(minute=0, second=0, microsecond=0).isoformat()
    if cache.add(f"chat:capacity:{user_id}:{hour}", 1, timeout=3700):
        increment_hour_of_week("chat.capacity_how", moment)


def counsellor_left(identity: SocketIdentity, moment: dt.datetime) -> Outcome:
    """A counsellor socket closed: its offers go back to the queue; its active chats wait for it a while."""
    return _counsellor_channel_gone(identity.channel, moment)


def _counsellor_channel_gone(channel: str, moment: dt.datetime) -> Outcome:
    outcome = Outcome(queue_changed=True)
    CounsellorPresence.objects.filter(channel=channel).delete()
    for chat in Chat.objects.filter(counsellor_channel=channel, state=Chat.OFFERED):
        outcome.add(_requeue(chat, moment, front=True, reason="requeued"))
    held = Chat.objects.filter(counsellor_channel=channel, state=Chat.ACTIVE, counsellor_left_at__isnull=True)
    for chat_id, visitor_channel in held.values_list("pk", "visitor_channel"):
        outcome.tell(visitor_channel, "chat.presence", chat=chat_id, peer="away")
    held.update(counsellor_left_at=moment)
    return outcome


def heartbeat(role: Role, channel: str, moment: dt.datetime) -> None:
    """An open socket is alive: sweeps treat sockets silent for a few ticks as gone (their process died)."""
    if role == VISITOR:
        heartbeat_many([channel], [], moment)
    else:
        heartbeat_many([], [channel], moment)


HEARTBEAT_CHUNK: Final = 500  # below SQLite's limit on bound parameters, with room to spare


def heartbeat_many(visitor_channels: list[str], counsellor_channels: list[str], moment: dt.datetime) -> None:
    """`heartbeat` for every socket of a process at once: a few UPDATEs whatever the number of sockets."""
    for start in range(0, len(visitor_channels), HEARTBEAT_CHUNK):
        chunk = visitor_channels[start:start + HEARTBEAT_CHUNK]
        Chat.objects.filter(visitor_channel__in=chunk).update(visitor_seen_at=moment)
    for start in range(0, len(counsellor_channels), HEARTBEAT_CHUNK):
        chunk = counsellor_channels[start:start + HEARTBEAT_CHUNK]
        CounsellorPresence.objects.filter(channel__in=chunk).update(seen_at=moment)
        available = CounsellorPresence.objects.filter(channel__in=chunk, available=True)
        for user_id in set(available.values_list("user_id", flat=True)):
            count_capacity(user_id, moment)


def silent_since(moment: dt.datetime) -> dt.datetime:
    """Sockets not heard from since this moment are gone: three missed heartbeats."""
    return moment - dt.timedelta(seconds=3 * settings.CHAT_TICK_SECONDS)


def _org_public_raw() -> bytes | None:
    from chat.org_key import org_public_key_bytes

    return org_public_key_bytes()


def device_certificate(user_id: int | None, device_id: str, moment: dt.datetime) -> dict[str, Any] | None:
    """The certificate of this user's certified, unexpired device, or None."""
    if user_id is None:
        return None
    device = CounsellorDevice.objects.filter(pk=device_id, user_id=user_id, status=CounsellorDevice.CERTIFIED).first()
    if device is None or not isinstance(device.certificate, dict):
        return None
    if device.not_after is not None and device.not_after < utc_today():
        return None
    org_public = _org_public_raw()
    if org_public is not None and not certificate_verifies(json.dumps(device.certificate, sort_keys=True),
                                                             org_public, utc_today()):
        return None
    return device.certificate


@functools.lru_cache(maxsize=1024)
def certificate_verifies(certificate: str, org_public: bytes, today: dt.date) -> bool:
    """Whether a certificate (its JSON) verifies under the organisation key on `today`: a function of these three
    alone, so each device's is checked once a day rather than at every accept. Its device row is still read
    at every accept, so a device revoked or expired stops being accepted at once."""
    try:
        verify_certificate(json.loads(certificate), org_public, today)
    except ValueError:
        return False
    return True


@transaction.atomic
def accept(identity: SocketIdentity, fields: dict[str, Any], offered_vk: str | None, moment: dt.datetime) -> Outcome:
    """A counsellor answers an offer or a rekey (`offered_vk`: the visitor key this socket was offered for that
    epoch): the visitor hears `chat.connected`, the counsellor's socket `chat.accepted`."""
    chat = access_chat(COUNSELLOR, identity, fields["chat"], Act.ACCEPT, lock=True)
    if fields["epoch"] != chat.epoch or offered_vk is None:
        raise ChatRefused("unknown_chat")
    cert = device_certificate(identity.user_id, fields["device"], moment)
    if cert is None or not verify_handshake(cert, chat.id, chat.epoch, offered_vk, fields["ck"], fields["sig"]):
        raise ChatRefused("bad_signature")
    first = not chat.answered
    handed_from = chat.transferred_from_id if chat.transferred_from_id != identity.user_id else None
    chat.state = Chat.ACTIVE
    chat.pending_since = None
    chat.device_id = fields["device"]
    chat.reserved_for = None
    chat.reserved_until = None
    chat.transferred_from = None
    if first:
        chat.answered = True
        chat.accepted_at = moment
    chat.save(update_fields=["state", "pending_since", "device", "reserved_for", "reserved_until",
                             "transferred_from", "answered", "accepted_at"])
    if first:
        waited = (moment - chat.queued_at).total_seconds()
        increment_each(("chat.answered", chat.lang), ("chat.wait_bin", minutes_bin(waited)),
                       ("chat.service_level", service_level(waited)))
    frame = {"type": "connected", "chat": chat.id, "epoch": chat.epoch, "ck": fields["ck"], "sig": fields["sig"],
             "cert": cert}
    # Both sockets learn their peer from this accept, so even a chat's first message needs no database read
    # (at 2,000 chats those first reads queued up behind each other for seconds, docs/performance.md). An
    # empty visitor channel: the visitor's socket dropped meanwhile, and its resume rekeys.
    outcome = Outcome(queue_changed=True)
    outcome.tell(identity.channel, "chat.accepted", chat=chat.id, visitor=chat.visitor_channel)
    outcome.tell(chat.visitor_channel, "chat.connected", frame=frame, counsellor=identity.channel)
    if handed_from is not None:
        for channel in CounsellorPresence.objects.filter(user_id=handed_from).values_list("channel", flat=True):
            outcome.tell(channel, "chat.transferred", chat=chat.id, outcome="taken")
    return outcome


def colleague_id(to: Any) -> int | None:
    """The user id a `transfer.to` names, if that person may counsel; None otherwise."""
    user = get_user_model().objects.filter(pk=int(to), is_active=True).first()
    if user is None or not user.has_perm("accounts.counsel"):
        return None
    return int(user.pk)


@transaction.atomic
def transfer(identity: SocketIdentity, chat_id: str, to: Any, bundle: dict[str, Any] | None,
             moment: dt.datetime) -> Outcome:
    """Hand a chat to a colleague or back to the front of the queue; the next accept starts a new epoch.

    A colleague must be signed in to the console (an open counsellor socket), or nobody could take the chat:
    `bad_frame` otherwise. The sender's `bundle` (its note and the transcript so far, end-to-end encrypted to
    the colleague's devices, docs/protocol.md hand-over) goes to each of that colleague's sockets as it is.
    If nobody takes the chat within COUNSELLOR_GRACE_SECONDS it goes back to the sender (chat.transferred).
    """
    chat = access_chat(COUNSELLOR, identity, chat_id, Act.TRANSFER, lock=True)
    reserved = None
    if to != "queue":
        reserved = colleague_id(to)
        if reserved is None or not CounsellorPresence.objects.filter(user_id=reserved).exists():
            raise ChatRefused("bad_frame", "That colleague is not in the console now.")
    previous = chat.counsellor_channel
    holder = chat.counsellor_id
    outcome = _requeue(chat, moment, front=True, reason="handover", reserved_for=reserved,
                       transferred_from=holder if reserved is not None else None)
    outcome.tell(identity.channel, "chat.handed_over", chat=chat.id)
    if previous and previous != identity.channel:
        outcome.tell(previous, "chat.ended", chat=chat.id, by="counsellor", answered=True)
    if reserved is not None and bundle is not None:
        sender = get_user_model().objects.filter(pk=holder).first() if holder else None
        name = (sender.get_full_name() or sender.get_username()) if sender is not None else ""
        for channel in CounsellorPresence.objects.filter(user_id=reserved).values_list("channel", flat=True):
            outcome.tell(channel, "chat.handover", chat=chat.id, sender=name[:80] or "-", bundle=bundle)
    _count("chat.transfers")
    return outcome


def _requeue(chat: Chat, moment: dt.datetime, *, front: bool, reason: str, reserved_for: int | None = None,
             transferred_from: int | None = None) -> Outcome:
    """Put a chat back in the queue (at the front) and tell its visitor why (`reason`: handover or requeued).

    The visitor's wait still counts from their first join (`waiting_since` is kept). A chat handed to a
    colleague is reserved for them until `reserved_until`; `transferred_from` gets it back if nobody takes it.
    """
    chat.state = Chat.QUEUED
    chat.front = front
    chat.counsellor = None
    chat.counsellor_channel = ""
    chat.counsellor_left_at = None
    chat.device = None
    chat.pending_since = None
    chat.reserved_for_id = reserved_for
    chat.reserved_until = moment + dt.timedelta(seconds=settings.COUNSELLOR_GRACE_SECONDS) if reserved_for else None
    chat.transferred_from_id = transferred_from
    chat.rent_paid_until = _rent_until(moment, 2 * settings.CHAT_RENT_SECONDS)
    chat.save()
    outcome = Outcome(queue_changed=True)
    # The place now: routing may offer the chat on at once (a hand-over goes straight to its colleague).
    outcome.tell(chat.visitor_channel, "chat.queued", chat=chat.id, reason=reason, position=queue_position(chat.id),
                 rent_until=_timestamp(chat.rent_paid_until))
    return outcome


# --- ending -----------------------------------------------------------------------------------------------


def end(chat: Chat, by: str, moment: dt.datetime, wrapup: dict[str, Any] | None = None, *,
        hurry: bool = False) -> Outcome:
    """End a chat: count it, delete every trace of it, tell both sides (`hurry`: the visitor used quick exit,
    which their counsellor is told)."""
    if chat.answered and chat.accepted_at is not None:
        _count("chat.ended_by", by)
        _count("chat.duration_bin", minutes_bin(max(0.0, (moment - chat.accepted_at).total_seconds())))
        for dimension in wrapup_dimensions(wrapup or {}):
            _count("chat.wrapup", dimension)
        raise_if_abusive(wrapup or {}, moment)
    else:
        _count("chat.abandoned_queued", minutes_bin(max(0.0, (moment - chat.queued_at).total_seconds())))
    deleted, _ = Chat.objects.filter(pk=chat.pk).delete()
    outcome = Outcome(queue_changed=True)
    if not deleted:
        return outcome
    outcome.tell(chat.visitor_channel, "chat.ended", chat=chat.id, by=by, answered=chat.answered)
    # The counsellor can still code a chat the visitor (or the clock) ended: see record_late_wrapup.
    late: dict[str, Any] = {"wrapup_token": wrapup_token()} if wrapup_owed(chat, by, wrapup) else {}
    if hurry:
        late["hurry"] = True
    outcome.tell(chat.counsellor_channel, "chat.ended", chat=chat.id, by=by, answered=chat.answered, **late)
    return outcome


@transaction.atomic
def end_chat(role: Role, identity: SocketIdentity, chat_id: str, wrapup: dict[str, Any] | None, hurry: bool,
             moment: dt.datetime) -> Outcome:
    """A party ends its chat (`leave` from the visitor, with `hurry` after a quick exit; `end` from the
    counsellor, with its wrap-up)."""
    chat = access_chat(role, identity, chat_id, Act.END, lock=True)
    return end(chat, VISITOR if role == VISITOR else COUNSELLOR, moment, wrapup, hurry=hurry and role == VISITOR)


def feedback_token() -> str:
    return make_token(FEEDBACK_PURPOSE, FEEDBACK_SECONDS)


RATING_VALUES: Final = {1, 2, 3, 4, 5}
HELPED_VALUES: Final = set(HELPED)
NEXT_STEP_VALUES: Final = set(NEXT_STEPS)


def record_feedback(token: str, rating: int | None, helped: str | bool | None, next_steps: Sequence[str] = ()) -> bool:
    """Count a visitor's rating, answer and next steps once per feedback token; False if the token is not good.

    Each is a separate counter: nothing links a rating to a next step, or either to the chat."""
    if not use_once(FEEDBACK_PURPOSE, token):
        return False
    for step in next_steps:
        _count("chat.next_step", step)
    if rating is not None:
        _count("chat.rating", str(rating))
    if isinstance(helped, bool):
        helped = "yes" if helped else "no"
    if helped is not None:
        _count("chat.helped", helped)
    return True


# --- routing and sweeps -----------------------------------------------------------------------------------


def forget_sockets_of_an_earlier_boot(moment: dt.datetime) -> None:
    """At the start of the only server process (the embedded default): no socket survived the restart.

    Every visitor is marked away (they have RESUME_GRACE_SECONDS to come back, as after any dropped
    connection, and are not counted or listed meanwhile) and every counsellor socket is gone, so no chat
    whose visitor vanished in the restart waits in the queue as a ghost, inflating positions, the counsellors'
    list and the proof-of-work difficulty, until some socket's sweep notices (it took ~2 minutes).
    """
    for channel in CounsellorPresence.objects.values_list("channel", flat=True):
        _counsellor_channel_gone(channel, moment)  # nobody is left to tell: the outcome has no socket to go to
    Chat.objects.exclude(visitor_channel="").update(visitor_channel="", visitor_left_at=moment)


def sweep(moment: dt.datetime) -> Outcome:
    """End chats whose visitor did not come back, requeue chats whose counsellor did not, drop stale offers,
    and give hand-overs nobody took back to their sender."""
    outcome = Outcome()
    silent = silent_since(moment)
    for channel in CounsellorPresence.objects.filter(seen_at__lt=silent).values_list("channel", flat=True):
        outcome.add(_counsellor_channel_gone(channel, moment))
    Chat.objects.exclude(visitor_channel="").filter(visitor_seen_at__lt=silent).update(
        visitor_channel="", visitor_left_at=moment)
    visitor_deadline = moment - dt.timedelta(seconds=settings.RESUME_GRACE_SECONDS)
    for chat in Chat.objects.filter(visitor_channel="", visitor_left_at__lt=visitor_deadline):
        outcome.add(end(chat, "timeout", moment))
    # A visitor who is there but leaves the rent unpaid as long as one may be away: the same ending. (Away,
    # nobody can pay: the resume grace above decides, and a resume starts the unpaid time again.)
    for chat in Chat.objects.filter(state=Chat.QUEUED, rent_paid_until__lt=visitor_deadline).exclude(
            visitor_channel=""):
        outcome.add(end(chat, "timeout", moment))
    counsellor_deadline = moment - dt.timedelta(seconds=settings.COUNSELLOR_GRACE_SECONDS)
    for chat in Chat.objects.filter(counsellor_left_at__lt=counsellor_deadline).exclude(state=Chat.QUEUED):
        outcome.add(_requeue(chat, moment, front=True, reason="requeued"))
    for chat in Chat.objects.filter(pending_since__lt=counsellor_deadline).exclude(state=Chat.QUEUED):
        # The counsellor's socket did not answer its offer or rekey in time: it is not taking chats.
        CounsellorPresence.objects.filter(channel=chat.counsellor_channel).update(available=False)
        if chat.state == Chat.ACTIVE:
            outcome.tell(chat.counsellor_channel, "chat.ended", chat=chat.id, by="timeout", answered=True)
        outcome.add(_hand_back(chat, moment) or _requeue(chat, moment, front=True, reason="requeued"))
    forget_expired(moment)
    outcome.add(_reservations_expired(moment))
    return outcome


def _reservations_expired(moment: dt.datetime) -> Outcome:
    """A hand-over nobody took goes back to its sender (see `_hand_back`); after that, or without a sender, to
    anyone."""
    outcome = Outcome()
    for chat in Chat.objects.filter(state=Chat.QUEUED, reserved_until__lt=moment):
        back = _hand_back(chat, moment)
        if back is not None:
            outcome.add(back)
            continue
        chat.reserved_for_id = None
        chat.reserved_until = None
        chat.save(update_fields=["reserved_for", "reserved_until"])
        outcome.queue_changed = True
    return outcome


def _hand_back(chat: Chat, moment: dt.datetime) -> Outcome | None:
    """A chat handed to a colleague who did not take it in time goes back to the counsellor who handed it over,
    reserved for them for another grace period, if they still have the console open (they hear `transferred
    returned`, and their console takes the offer as for a chat it holds). None when that does not apply."""
    sender = chat.transferred_from_id
    if sender is None or chat.reserved_for_id == sender:
        return None
    channels = list(CounsellorPresence.objects.filter(user_id=sender).values_list("channel", flat=True))
    if not channels:
        return None
    outcome = _requeue(chat, moment, front=True, reason="handover", reserved_for=sender, transferred_from=sender)
    for channel in channels:
        outcome.tell(channel, "chat.transferred", chat=chat.id, outcome="returned")
    return outcome


@transaction.atomic  # one write lock per pass; a pass that fails part way keeps nothing (its events are lost)
def route(moment: dt.datetime, *, sweeping: bool = True) -> Outcome:
    """Sweep (the clock's passes), then offer waiting chats to available counsellor sockets (queue.route
    decides who gets what). Passes asked for by a queue change skip the sweep: only time makes it find more."""
    outcome = sweep(moment) if sweeping else Outcome()
    queued = list(waiting(moment))
    if not queued:
        return outcome
    reserved = {chat.reserved_for_id for chat in queued if chat.reserved_for_id is not None}
    presences = list(CounsellorPresence.objects.filter(Q(available=True) | Q(user_id__in=reserved)))
    if not presences:
        return outcome
    users = {p.user_id for p in presences}
    # Only these counsellors' chats: counting every chat in progress made each pass read them all.
    holding = dict(Chat.objects.exclude(state=Chat.QUEUED).filter(counsellor_id__in=users)
                   .values_list("counsellor_id").annotate(n=Count("pk")))
    languages = counsellor_languages(users)
    counsellors = [queue.Counsellor(channel=p.channel, user=p.user_id, available_since=p.available_since or moment,
                                    holding=holding.get(p.user_id, 0), languages=languages[p.user_id],
                                    available=p.available)
                   for p in presences]
    cap = ServiceSettings.current().per_counsellor_cap
    user_of = {p.channel: p.user_id for p in presences}
    by_id = {chat.id: chat for chat in queued}
    for chat_id, channel in queue.route(_waiting(queued), counsellors, cap):
        chat = by_id[chat_id]
        epoch = chat.epoch + 1 if chat.epoch_used else 0
        # Conditional update: only one process can turn a queued chat into an offer.
        taken = Chat.objects.filter(pk=chat_id, state=Chat.QUEUED, epoch=chat.epoch).update(
            state=Chat.OFFERED, counsellor_id=user_of[channel], counsellor_channel=channel, epoch=epoch,
            epoch_used=True, pending_since=moment, counsellor_left_at=None)
        if taken:
            outcome.queue_changed = True
            outcome.tell(chat.visitor_channel, "chat.offer", chat=chat_id, epoch=epoch, counsellor=channel,
                         lang=chat.lang, waiting=queue.waiting_minutes(chat.waiting_since, moment),
                         expires=settings.COUNSELLOR_GRACE_SECONDS)
    return outcome


def purge(moment: dt.datetime, older_than_minutes: int | None = None) -> tuple[Outcome, int]:
    """The periodic sweep; with `older_than_minutes`, also end every chat that began longer ago than that."""
    outcome = sweep(moment)
    removed = 0
    if older_than_minutes is not None:
        cutoff = moment - dt.timedelta(minutes=older_than_minutes)
        for chat in Chat.objects.filter(queued_at__lt=cutoff):
            outcome.add(end(chat, "timeout", moment))
            removed += 1
    return outcome, removed


# --- wrap-up after the chat ended, and counsellors' languages ---------------------------------------------

WRAPUP_PURPOSE: Final = "wrapup"
WRAPUP_SECONDS: Final = 3600


def wrapup_owed(chat: Chat, by: str, wrapup: dict[str, Any] | None) -> bool:
    """A counsellor held this answered chat and it ended without their wrap-up (the visitor left, a timeout,
    or their own `end` without codes): they get a token to send the wrap-up later."""
    return chat.answered and chat.state == Chat.ACTIVE and not (by == COUNSELLOR and wrapup)


def wrapup_token() -> str:
    """A one-time token for POST /<lang>/staff/chat/wrapup/. It holds random bytes, an expiry and a MAC,
    nothing about the chat, and nothing is stored until it is used (then only a used-marker, chat.tokens)."""
    return make_token(WRAPUP_PURPOSE, WRAPUP_SECONDS)


def record_late_wrapup(token: str, wrapup: dict[str, Any]) -> bool:
    """Count a validated wrap-up once per token (chat.wrapup, like `end.wrapup`); False if the token is not good."""
    if not use_once(WRAPUP_PURPOSE, token):
        return False
    for dimension in wrapup_dimensions(wrapup):
        _count("chat.wrapup", dimension)
    raise_if_abusive(wrapup, now())
    return True


def counsellor_languages(user_ids: set[int]) -> dict[int, tuple[str, ...]]:
    """The chat languages of each of these counsellors (CounsellorProfile; none = every language), one query."""
    from chat.models import CounsellorProfile

    return CounsellorProfile.languages_by_user(user_ids)


def wrapup_fields(event: dict[str, Any]) -> dict[str, str]:
    """What a chat.ended note adds to the counsellor's `ended` frame: the wrap-up token, when it carries one."""
    token = event.get("wrapup_token")
    return {"wrapup_token": token} if isinstance(token, str) else {}
