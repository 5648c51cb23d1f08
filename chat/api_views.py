"""Unprefixed JSON endpoints: proof-of-work challenges, visitor feedback, counsellor device registration, and the
colleagues a counsellor can hand a chat to.

Visitor endpoints set no cookie and read none; the device API is for signed-in counsellors (require_staff)
and checks CSRF through the X-CSRFToken header like any staff POST.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from chat import actions
from chat import pow as proof_of_work
from chat.models import CounsellorDevice
from chat.protocol.crypto import b64d, load_public_key, make_certificate, utc_today
from chat.schema import parse_json_object
from helpline.accounts.access import COUNSEL, require_staff
from helpline.disk_privacy import forget_on_disk
from helpline.views import body_within, json_methods

MAX_BODY_BYTES = 1024
DEMO_CERTIFICATE_DAYS = 90


def _refused(status: int, error: str) -> JsonResponse:
    # `error` is the sentence itself (the clients show it); `message` repeats it for the shared shape.
    return JsonResponse({"error": error, "message": error}, status=status)


def _too_large() -> JsonResponse:
    return _refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes")


@never_cache
@json_methods("GET")
def pow_challenge(request: HttpRequest) -> JsonResponse:
    """GET /chat/pow/ → {"challenge", "iterations", "bits"}: the PBKDF2 puzzle a join costs now (protocol.md §9);
    bits 0 means joining is free."""
    moment = actions.now()
    price = proof_of_work.join_price(actions.waiting_count(moment), moment) or proof_of_work.Price(1, 0)
    challenge = proof_of_work.make_work_challenge(proof_of_work.JOIN, price, proof_of_work.CHALLENGE_SECONDS)
    return JsonResponse({"challenge": challenge, "iterations": price.iterations, "bits": price.bits})


FEEDBACK_FIELDS = {"feedback", "rating", "helped", "next"}


@csrf_exempt
@never_cache
@json_methods("POST")
def feedback(request: HttpRequest) -> HttpResponse:
    """POST /chat/feedback/ {"feedback": token, "rating": 1-5|null, "helped": yes|no|unsure|true|false|null,
    "next": [codes of chat.next_step, each once] (optional)}.

    The one-time token from the `ended` frame is the only authority: no cookie, no CSRF token, one use.
    """
    if request.content_type != "application/json":
        return _refused(415, "send JSON")
    raw = body_within(request, MAX_BODY_BYTES)
    if raw is None:
        return _too_large()
    body = parse_json_object(raw, MAX_BODY_BYTES)
    if not isinstance(body, dict) or set(body) - FEEDBACK_FIELDS or not isinstance(body.get("feedback"), str):
        return _refused(400, "expected {feedback, rating, helped, next}")
    rating, helped, steps = body.get("rating"), body.get("helped"), body.get("next")
    if not (rating is None or (type(rating) is int and rating in actions.RATING_VALUES)):
        return _refused(400, "rating must be 1 to 5")
    if not (helped is None or type(helped) is bool or (type(helped) is str and helped in actions.HELPED_VALUES)):
        return _refused(400, "helped must be yes, no or unsure")
    if steps is not None and not (isinstance(steps, list) and steps and len(set(steps)) == len(steps)
                                  and all(type(s) is str and s in actions.NEXT_STEP_VALUES for s in steps)):
        return _refused(400, "next must list what you will do next, each once")
    if rating is None and helped is None and not steps:
        return _refused(400, "nothing to record")
    if not actions.record_feedback(body["feedback"], rating, helped, steps or ()):
        return _refused(403, "this feedback link was used or has expired")
    forget_on_disk()  # no earlier version of the counters keeps this chat's rating apart from the others
    return HttpResponse(status=204)


def _user_id(request: HttpRequest) -> int:
    # require_staff has let only a signed-in staff member through.
    return int(request.user.pk or 0)


def _device_json(device: CounsellorDevice) -> dict[str, Any]:
    cert = device.certificate if device.status == CounsellorDevice.CERTIFIED else None
    return {"device": device.id, "status": device.status, "cert": cert}


def demo_org_private_key() -> ec.EllipticCurvePrivateKey | None:
    """The embedded default's organisation key, only when DEMO_AUTOCERTIFY is on and the file exists."""
    if not getattr(settings, "DEMO_AUTOCERTIFY", False):
        return None
    path = Path(settings.VAR_DIR) / "org_private_key.pem"
    if not path.exists():
        return None
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def certify(device: CounsellorDevice, org_private: ec.EllipticCurvePrivateKey, pseudonym: str,
            days: int) -> CounsellorDevice:
    """Sign a device's key with the organisation key and mark it certified."""
    not_after = utc_today() + dt.timedelta(days=days)
    device.certificate = make_certificate(org_private, device.id, pseudonym, b64d(device.public_key), not_after)
    device.pseudonym = pseudonym
    device.not_after = not_after
    device.status = CounsellorDevice.CERTIFIED
    device.save()
    return device


@never_cache
@json_methods("POST")
@require_staff(COUNSEL)
def register_device(request: HttpRequest) -> JsonResponse:
    """POST /chat/device/ {"key": b64 point} → 201 {"device", "status"} (certified at once only in the demo)."""
    raw = body_within(request, MAX_BODY_BYTES)
    if raw is None:
        return _too_large()
    body = parse_json_object(raw, MAX_BODY_BYTES)
    if not isinstance(body, dict) or set(body) != {"key"} or not isinstance(body["key"], str):
        return _refused(400, "expected {key}")
    try:
        load_public_key(b64d(body["key"]))
    except ValueError:
        return _refused(400, "key must be b64 of a 65-byte P-256 point")
    try:
        device = CounsellorDevice.objects.create(user_id=_user_id(request), public_key=body["key"])
    except IntegrityError:
        return _refused(409, "this key is already registered")
    org_private = demo_org_private_key()
    if org_private is not None:
        user: Any = request.user
        certify(device, org_private, (user.first_name or "Counsellor")[:40], DEMO_CERTIFICATE_DAYS)
    return JsonResponse({"device": device.id, "status": device.status}, status=201)


@never_cache
@json_methods("GET")
@require_staff(COUNSEL)
def device_status(request: HttpRequest, device: str) -> JsonResponse:
    """GET /chat/device/<D>/ → {"device", "status", "cert"}; someone else's device is answered like a missing one."""
    row = CounsellorDevice.objects.filter(pk=device, user_id=_user_id(request)).first()
    if row is None:
        return _refused(404, "no such device")
    return JsonResponse(_device_json(row))


@never_cache
@json_methods("GET")
@require_staff(COUNSEL)
def colleagues(request: HttpRequest) -> JsonResponse:
    """GET /chat/colleagues/ → {"colleagues": [{id, name, online, available, devices: [{cert, ek, ek_sig}]}]}: whom
    the console's hand-over dialog offers (docs/protocol.md §10); the console verifies every device itself."""
    from chat.views import handover_colleagues

    return JsonResponse({"colleagues": handover_colleagues(request.user, utc_today())})
