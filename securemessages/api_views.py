"""The mailbox's JSON endpoints (docs/mailbox.md §6): visitors' (no cookie, proof of work, the access secret is
the only authority) and counsellors' (staff session with the counsel capability, CSRF header).

Thin: parse with securemessages.envelope, gate with securemessages.access, write with securemessages.actions.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from chat import pow as proof_of_work
from chat.schema import COUNSELLOR_TO_SERVER, SCHEMAS, FieldError, parse_json_object
from helpline.accounts.access import COUNSEL, require_staff
from helpline.views import body_within, json_methods, json_refusal
from securemessages import access, actions, conf
from securemessages.crypto import MAILBOX_RECIPIENT, EnvelopeError
from securemessages.envelope import (
    MAX_BODY_BYTES,
    Envelope,
    parse_access,
    parse_envelope,
    parse_new_thread,
    parse_pow,
    parse_wraps,
)
from securemessages.models import Message, Thread

PURGE_EVERY_SECONDS = 3600
_last_purge = 0.0


def today() -> dt.date:
    return timezone.localdate()


def _purge_now_and_then() -> None:
    # The embedded default has no cron: whichever request comes first in an hour sweeps expired threads. Reads
    # never depend on it (access.py treats an expired thread as gone), so it only frees the disk.
    global _last_purge
    if time.monotonic() - _last_purge > PURGE_EVERY_SECONDS:
        _last_purge = time.monotonic()
        actions.purge_expired(today())


def not_found() -> actions.Refused:
    """The one answer for a wrong codename, a deleted thread and an expired one."""
    return actions.Refused(404, "not_found", _("No conversation was found for this codename. Check the words; a "
                                               "conversation is deleted %(days)d days after its last message.")
                           % {"days": conf.retention_days()})


def json_body[View: Callable[..., HttpResponse]](view: View) -> View:
    """Parse the body as one strict JSON object of at most MAX_BODY_BYTES; 400 for anything else, unread."""

    @wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.content_type != "application/json":
            return json_refusal(400, "bad_request", "Send a JSON object (Content-Type: application/json).")
        raw = body_within(request, MAX_BODY_BYTES)
        if raw is None:
            return json_refusal(400, "too_large", f"The body is larger than {MAX_BODY_BYTES} bytes.")
        body = parse_json_object(raw, MAX_BODY_BYTES)
        if not isinstance(body, dict):
            return json_refusal(400, "bad_request", "The body is not one JSON object.")
        try:
            return view(request, body, *args, **kwargs)
        except EnvelopeError as error:
            return json_refusal(400, "bad_envelope", str(error))
        except actions.Refused as refused:
            return json_refusal(refused.status, refused.code, refused.message)

    return cast(View, inner)


def _fields(body: dict[str, Any], names: set[str]) -> None:
    if set(body) != names:
        raise EnvelopeError(f"expected exactly {', '.join(sorted(names))}")


def _solved(action: str, pow_field: object) -> None:
    """The request's `pow` must answer a challenge made for this action at (about) its price; any answer uses the
    challenge up."""
    if not proof_of_work.pays_for(conf.pow_kind(action), parse_pow(pow_field), conf.pow_price(action)):
        raise actions.Refused(403, "pow_invalid", _("The check that you are a person failed. Please try again."))


# --- for everyone -----------------------------------------------------------------------------------------------


@never_cache
@json_methods("GET")
def pow_challenge(request: HttpRequest) -> JsonResponse:
    """GET /mailbox/pow/?for=write|reply|open|delete → {"challenge", "iterations", "bits"}: the chat's PBKDF2
    puzzle (protocol.md §9) at that request's price, good once and for that request only."""
    action = request.GET.get("for", "")
    if action not in conf.POW_SETTINGS:
        return json_refusal(400, "bad_request", f"Ask for one of: {', '.join(conf.POW_SETTINGS)} (?for=…).")
    price = conf.pow_price(action)
    challenge = proof_of_work.make_work_challenge(conf.pow_kind(action), price, proof_of_work.CHALLENGE_SECONDS)
    return JsonResponse({"challenge": challenge, "iterations": price.iterations, "bits": price.bits})


@never_cache
@json_methods("GET")
def team(request: HttpRequest) -> JsonResponse:
    """GET /mailbox/team/ → {"devices": [{cert, ek, ek_sig}]}: whom to seal to; every client verifies each."""
    return JsonResponse({"devices": [member.as_json() for member in actions.team(today())]})


# --- the visitor -------------------------------------------------------------------------------------------------


def _message_for_visitor(message: Message) -> dict[str, Any]:
    wrap = next((w for w in message.wraps.all() if w.recipient == MAILBOX_RECIPIENT), None)
    return {"id": message.message_id, "from": message.sender, "ct": message.ct, "sig": message.sig,
            "cert": message.cert, "day": message.written_on.isoformat(),
            "key": {"epk": wrap.epk, "wk": wrap.wk} if wrap else None}


def _thread_for_visitor(thread: Thread) -> dict[str, Any]:
    messages = thread.messages.prefetch_related("wraps")
    return {"thread": thread.id, "lang": thread.lang, "mk": thread.mailbox_key, "sk": thread.signing_key,
            "started": thread.started_on.isoformat(), "state": actions.state_of(thread),
            "expires": (thread.last_message_on + dt.timedelta(days=conf.retention_days())).isoformat(),
            "reply_days": conf.reply_days(), "messages": [_message_for_visitor(m) for m in messages]}


@csrf_exempt
@never_cache
@json_methods("POST")
@json_body
def start(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """POST /mailbox/threads/ {v, thread, access, lang, mk, sk, msg, pow} → 201 {"thread"}."""
    _purge_now_and_then()
    new = parse_new_thread(body)
    _solved("write", new.pow)
    thread = actions.start_thread(new, today())
    return JsonResponse({"thread": thread.id}, status=201)


def _visitor_thread(body: dict[str, Any], names: set[str], action: str) -> tuple[Thread, Envelope | None]:
    """Check the body's fields, the access secret, the envelope if any, then the proof of work (so a malformed
    request does not use it up), then open the thread; an unknown secret raises the generic not_found()."""
    _purge_now_and_then()
    _fields(body, names)
    secret = parse_access(body["access"])
    message = parse_envelope(body["msg"]) if "msg" in names else None
    _solved(action, body["pow"])
    thread = access.thread_for_access(secret, today())
    if thread is None:
        raise not_found()
    return thread, message


@csrf_exempt
@never_cache
@json_methods("POST")
@json_body
def open_thread(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """POST /mailbox/open/ {access, pow} → 200 the thread with the mailbox's key wraps, or the generic 404."""
    thread, _message = _visitor_thread(body, {"access", "pow"}, "open")
    return JsonResponse(_thread_for_visitor(thread))


@csrf_exempt
@never_cache
@json_methods("POST")
@json_body
def reply(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """POST /mailbox/reply/ {access, pow, msg} → 201, or the generic 404."""
    thread, message = _visitor_thread(body, {"access", "pow", "msg"}, "reply")
    assert message is not None
    actions.visitor_reply(thread, message, today())
    return JsonResponse({"id": message.id}, status=201)


@csrf_exempt
@never_cache
@json_methods("POST")
@json_body
def delete(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """POST /mailbox/delete/ {access, pow} → 204, or the generic 404."""
    thread, _message = _visitor_thread(body, {"access", "pow"}, "delete")
    actions.delete_thread(thread)
    return HttpResponse(status=204)


# --- the team ---------------------------------------------------------------------------------------------------


def _own_device(request: HttpRequest, device_id: object) -> Any:
    device = access.own_certified_device(request.user, device_id, today())
    if device is None:
        raise actions.Refused(403, "not_your_device", "Use a certified device of your own.")
    return device


def _thread_or_404(thread_id: str) -> Thread:
    thread = access.open_thread(thread_id, today())
    if thread is None:
        raise actions.Refused(404, "not_found", "No such thread.")
    return thread


def _staff_json[View: Callable[..., HttpResponse]](view: View) -> View:
    @wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except actions.Refused as refused:
            return json_refusal(refused.status, refused.code, refused.message)

    return cast(View, inner)


@never_cache
@json_methods("POST")
@require_staff(COUNSEL)
@json_body
def device_key(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """POST /mailbox/staff/device-key/ {device, ek, ek_sig}: the encryption key of one's own certified device."""
    _fields(body, {"device", "ek", "ek_sig"})
    device = _own_device(request, body["device"])
    if not isinstance(body["ek"], str) or not isinstance(body["ek_sig"], str):
        raise EnvelopeError("ek and ek_sig must be strings")
    actions.register_device_key(device, body["ek"], body["ek_sig"])
    return JsonResponse({"device": device.pk, "ek": body["ek"]})


@never_cache
@json_methods("GET")
@require_staff(COUNSEL)
def inbox(request: HttpRequest) -> JsonResponse:
    """GET /mailbox/staff/threads/ → {"threads": [{thread, lang, state, age_days, quiet_days, messages, unshared}]}."""
    day = today()
    threads = actions.threads_in_inbox(day)
    unshared = actions.missing_wraps(threads, actions.team(day))
    return JsonResponse({"threads": [
        {"thread": t.id, "lang": t.lang, "state": actions.state_of(t), "age_days": (day - t.started_on).days,
         "quiet_days": (day - t.last_message_on).days, "messages": t.message_count, "unshared": unshared[t.id]}
        for t in threads]})


@never_cache
@json_methods("GET")
@require_staff(COUNSEL)
@_staff_json
def thread_detail(request: HttpRequest, thread_id: str) -> JsonResponse:
    """GET /mailbox/staff/threads/<id>/?device=D → the thread, each message with D's wrap (or null) and the list of
    team devices each message is not yet wrapped to."""
    thread = _thread_or_404(thread_id)
    device = access.own_certified_device(request.user, request.GET.get("device"), today())
    members = {member.device for member in actions.team(today())}
    messages = []
    for message in thread.messages.prefetch_related("wraps"):
        wraps = {w.recipient: w for w in message.wraps.all()}
        own = wraps.get(device.pk) if device is not None else None
        messages.append({"id": message.message_id, "from": message.sender, "ct": message.ct, "sig": message.sig,
                         "cert": message.cert, "day": message.written_on.isoformat(),
                         "key": {"epk": own.epk, "wk": own.wk} if own else None,
                         "unshared": sorted(members - set(wraps))})
    return JsonResponse({"thread": thread.id, "lang": thread.lang, "mk": thread.mailbox_key,
                         "sk": thread.signing_key, "state": actions.state_of(thread),
                         "age_days": (today() - thread.started_on).days, "messages": messages})


@never_cache
@json_methods("POST")
@require_staff(COUNSEL)
@json_body
def team_reply(request: HttpRequest, body: dict[str, Any], thread_id: str) -> HttpResponse:
    """POST /mailbox/staff/threads/<id>/reply/ {msg} → 201: an answer signed by one's own certified device."""
    _fields(body, {"msg"})
    message = parse_envelope(body["msg"])
    device = _own_device(request, message.sender)
    actions.team_reply(_thread_or_404(thread_id), device, message, today())
    return JsonResponse({"id": message.id}, status=201)


@never_cache
@json_methods("POST")
@require_staff(COUNSEL)
@json_body
def share_keys(request: HttpRequest, body: dict[str, Any], thread_id: str) -> HttpResponse:
    """POST /mailbox/staff/threads/<id>/keys/ {keys: {message id: {device: {epk, wk}}}} → {"added": n}."""
    _fields(body, {"keys"})
    if not isinstance(body["keys"], dict) or not 0 < len(body["keys"]) <= 200:
        raise EnvelopeError("keys must map 1 to 200 message ids to wraps")
    wraps = {}
    for message_id, by_device in body["keys"].items():
        parsed = parse_wraps(by_device, f"keys.{message_id}")
        if MAILBOX_RECIPIENT in parsed:
            raise EnvelopeError("the mailbox's wraps are never replaced")
        wraps[message_id] = parsed
    added = actions.add_wraps(_thread_or_404(thread_id), wraps, today())
    return JsonResponse({"added": added})


@never_cache
@json_methods("POST")
@require_staff(COUNSEL)
@json_body
def close(request: HttpRequest, body: dict[str, Any], thread_id: str) -> HttpResponse:
    """POST /mailbox/staff/threads/<id>/close/ {wrapup} → 204; the codes follow the chat's `end.wrapup` rule."""
    _fields(body, {"wrapup"})
    try:
        SCHEMAS[COUNSELLOR_TO_SERVER]["end"].optional["wrapup"](body["wrapup"])
    except FieldError as error:
        raise EnvelopeError(f"wrapup {error}") from None
    actions.close_thread(_thread_or_404(thread_id), body["wrapup"])
    return HttpResponse(status=204)
