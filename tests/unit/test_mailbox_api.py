"""The mailbox endpoints through Django's test client: a whole thread, the one generic answer for a wrong
codename, bad input refused with nothing written, proof of work, the size cap, retention, the team's devices,
key sharing, the staff gate and the counters."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from chat import actions as chat_actions
from chat import pow as proof_of_work
from chat import tokens
from chat.access import ChatRefused
from chat.models import CounsellorDevice
from chat.protocol.crypto import (
    b64d,
    b64e,
    generate_private_key,
    make_certificate,
    pow_solve,
    private_key_from_scalar_hex,
    public_key_bytes,
    work_check,
    work_solve,
)
from helpline.accounts.actions import create_staff
from helpline.accounts.models import SealedTOTPDevice
from helpline.metrics.models import DailyCount
from securemessages import actions, conf, crypto, envelope
from securemessages.models import DeviceKey, Message, Thread, Wrap
from tests.unit.conftest import load_protocol_vectors

pytestmark = pytest.mark.django_db
ITERATIONS = 1000  # the derivation's cost is not what these tests are about; the vectors test the real count


@dataclass
class Counsellor:
    client: Client
    user: Any
    device: CounsellorDevice
    signing: Any
    encryption: Any

    @property
    def ek_raw(self) -> bytes:
        return public_key_bytes(self.encryption)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(path, json.dumps(body), content_type="application/json",
                                headers={"X-CSRFToken": self.client.cookies["csrftoken"].value})


def org_private() -> Any:
    return private_key_from_scalar_hex(load_protocol_vectors()["org"]["private_scalar_hex"])


def counsellor(username: str, role: str = "counsellor", *, register: bool = True) -> Counsellor:
    user, _ = create_staff(username, "a-long-test-password-1", [role], with_totp=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = SealedTOTPDevice.objects.get(user=user).persistent_id
    session.save()
    client.get("/en/staff/")
    signing = generate_private_key()
    device = CounsellorDevice.objects.create(user=user, public_key=b64e(public_key_bytes(signing)))
    not_after = timezone.localdate() + dt.timedelta(days=90)
    device.certificate = make_certificate(org_private(), device.pk, username.title(), public_key_bytes(signing),
                                          not_after)
    device.status, device.not_after, device.pseudonym = CounsellorDevice.CERTIFIED, not_after, username.title()
    device.save()
    person = Counsellor(client, user, device, signing, generate_private_key())
    if register:
        ek = b64e(person.ek_raw)
        response = person.post("/mailbox/staff/device-key/", {
            "device": device.pk, "ek": ek, "ek_sig": crypto.sign_ek_binding(signing, device.pk, ek)})
        assert response.status_code == 200, response.content
    return person


def solved_pow(action: str) -> dict[str, str]:
    """The answer to a fresh challenge of GET /mailbox/pow/?for=action, as a client finds it."""
    asked = Client().get(f"/mailbox/pow/?for={action}").json()
    nonce = work_solve(b64d(asked["challenge"]), asked["iterations"], asked["bits"])
    return {"challenge": asked["challenge"], "nonce": b64e(nonce)}


def visitor_post(path: str, body: Any) -> Any:
    return Client().post(path, json.dumps(body), content_type="application/json")


def team_recipients(keys: crypto.CodenameKeys) -> dict[str, bytes]:
    recipients = {"mailbox": public_key_bytes(keys.box_private)}
    for member in actions.team(timezone.localdate()):
        recipients[member.device] = b64d(member.ek)
    return recipients


def new_thread_body(keys: crypto.CodenameKeys, text: str = "first message", lang: str = "en") -> dict[str, Any]:
    msg = envelope.build_envelope(keys.thread, crypto.VISITOR, keys.sign_private, {"t": "text", "body": text},
                                  team_recipients(keys))
    return {"v": 1, "thread": keys.thread, "access": keys.access_b64, "lang": lang, "mk": keys.mk, "sk": keys.sk,
            "msg": msg, "pow": solved_pow("write")}


def codename_keys(words: str = "tafel fiets molen kaas appel regen zomer wolk") -> crypto.CodenameKeys:
    return crypto.derive_codename_keys(words, iterations=ITERATIONS)


def counts(metric: str) -> dict[str, int]:
    return {row.dimension: row.count for row in DailyCount.objects.filter(metric=metric)}


def stored() -> tuple[int, int, int]:
    return Thread.objects.count(), Message.objects.count(), Wrap.objects.count()


# --- a whole thread ------------------------------------------------------------------------------------------


def test_a_thread_from_first_message_to_deletion() -> None:
    sam = counsellor("sam")
    keys = codename_keys()
    team = Client().get("/mailbox/team/").json()["devices"]
    assert [entry["cert"]["device"] for entry in team] == [sam.device.pk]

    created = visitor_post("/mailbox/threads/", new_thread_body(keys, "Ik wil graag iets vragen.", lang="nl"))
    assert created.status_code == 201 and created.json() == {"thread": keys.thread}
    row = Thread.objects.get()
    assert row.access_hash == keys.access_hash and row.mailbox_key == keys.mk and row.lang == "nl"
    assert isinstance(row.started_on, dt.date) and not isinstance(row.started_on, dt.datetime)

    # The counsellor's inbox lists it as new; their device opens the visitor's message.
    listed = sam.client.get("/mailbox/staff/threads/").json()["threads"]
    assert listed == [{"thread": keys.thread, "lang": "nl", "state": "new", "age_days": 0, "quiet_days": 0,
                       "messages": 1, "unshared": 0}]
    detail = sam.client.get(f"/mailbox/staff/threads/{keys.thread}/?device={sam.device.pk}").json()
    first = detail["messages"][0]
    content_key = crypto.unwrap_content_key(sam.encryption, first["key"], keys.thread, first["id"], sam.device.pk)
    assert crypto.open_body(content_key, keys.thread, first["id"], "visitor", first["ct"])["body"] == \
        "Ik wil graag iets vragen."

    # The counsellor answers, signed by their device, sealed to the mailbox and the team.
    answer = envelope.build_envelope(keys.thread, sam.device.pk, sam.signing, {"t": "text", "body": "Hallo!"},
                                     team_recipients(keys))
    assert sam.post(f"/mailbox/staff/threads/{keys.thread}/reply/", {"msg": answer}).status_code == 201
    assert sam.client.get("/mailbox/staff/threads/").json()["threads"][0]["state"] == "answered"

    # The visitor comes back with the codename and reads the answer.
    opened = visitor_post("/mailbox/open/", {"access": keys.access_b64, "pow": solved_pow("open")})
    assert opened.status_code == 200
    thread = opened.json()
    assert thread["thread"] == keys.thread and thread["mk"] == keys.mk and thread["sk"] == keys.sk
    reply = thread["messages"][1]
    assert reply["from"] == sam.device.pk and reply["cert"]["pseudonym"] == "Sam"
    assert reply["day"] == timezone.localdate().isoformat()
    assert crypto.verify_message(b64d(reply["cert"]["key"]), keys.thread, reply["id"], reply["from"], reply["ct"],
                                 reply["sig"])
    content_key = crypto.unwrap_content_key(keys.box_private, reply["key"], keys.thread, reply["id"], "mailbox")
    assert crypto.open_body(content_key, keys.thread, reply["id"], reply["from"], reply["ct"])["body"] == "Hallo!"

    # The visitor writes back: waiting again; the counsellor closes with a wrap-up.
    again = envelope.build_envelope(keys.thread, "visitor", keys.sign_private, {"t": "text", "body": "Dank je"},
                                    team_recipients(keys))
    assert visitor_post("/mailbox/reply/", {"access": keys.access_b64, "pow": solved_pow("reply"), "msg": again}) \
        .status_code == 201
    assert sam.client.get("/mailbox/staff/threads/").json()["threads"][0]["state"] == "waiting"
    closed = sam.post(f"/mailbox/staff/threads/{keys.thread}/close/", {"wrapup": {"contact": "self"}})
    assert closed.status_code == 204
    assert sam.client.get("/mailbox/staff/threads/").json()["threads"][0]["state"] == "closed"

    # Counters only: started, received (2), answered, the first answer's day band, the wrap-up code.
    assert counts("mailbox.threads_started") == {"nl": 1}
    assert counts("mailbox.received") == {"nl": 2}
    assert counts("mailbox.threads_answered") == {"nl": 1}
    assert counts("mailbox.first_reply_days") == {"0": 1}
    assert counts("mailbox.wrapup") == {"contact.self": 1}

    # The visitor deletes the thread: everything goes, and the codename opens nothing any more.
    assert visitor_post("/mailbox/delete/", {"access": keys.access_b64, "pow": solved_pow("delete")}).status_code == 204
    assert stored() == (0, 0, 0)
    assert visitor_post("/mailbox/open/", {"access": keys.access_b64, "pow": solved_pow("open")}).status_code == 404


def test_a_wrong_codename_a_deleted_thread_and_an_expired_one_get_the_same_answer(settings: Any) -> None:
    counsellor("sam")
    deleted, expired = codename_keys("a b c d e f g h"), codename_keys("h g f e d c b a")
    for keys in (deleted, expired):
        assert visitor_post("/mailbox/threads/", new_thread_body(keys)).status_code == 201
    assert visitor_post("/mailbox/delete/", {"access": deleted.access_b64, "pow": solved_pow("delete")}).status_code == 204
    Thread.objects.filter(pk=expired.thread).update(
        last_message_on=timezone.localdate() - dt.timedelta(days=settings.MAILBOX_RETENTION_DAYS))
    answers = []
    for access in (b64e(bytes(32)), deleted.access_b64, expired.access_b64):
        for path in ("/mailbox/open/", "/mailbox/delete/"):
            response = visitor_post(path, {"access": access, "pow": solved_pow(path.split("/")[2])})
            answers.append((response.status_code, response.content, response["Content-Type"]))
    assert len(set(answers)) == 1 and answers[0][0] == 404
    assert b"codename" in answers[0][1]


def test_retention_keeps_a_thread_through_its_last_day_then_the_sweep_deletes_it(settings: Any) -> None:
    counsellor("sam")
    keys = codename_keys()
    assert visitor_post("/mailbox/threads/", new_thread_body(keys)).status_code == 201
    today = timezone.localdate()
    last_day = today - dt.timedelta(days=settings.MAILBOX_RETENTION_DAYS - 1)
    Thread.objects.update(last_message_on=last_day)
    assert visitor_post("/mailbox/open/", {"access": keys.access_b64, "pow": solved_pow("open")}).json()["expires"] == \
        (last_day + dt.timedelta(days=settings.MAILBOX_RETENTION_DAYS)).isoformat() == (today + dt.timedelta(1)) \
        .isoformat()
    assert actions.purge_expired(today) == 0
    assert actions.purge_expired(today + dt.timedelta(days=1)) == 1
    assert stored() == (0, 0, 0)


# --- bad input ------------------------------------------------------------------------------------------------


def bad_bodies(keys: crypto.CodenameKeys) -> dict[str, Any]:
    good = new_thread_body(keys)
    return {
        "not json": "{",
        "a list": [],
        "missing pow": {k: v for k, v in good.items() if k != "pow"},
        "extra field": {**good, "name": "x"},
        "version 2": {**good, "v": 2},
        "short thread": {**good, "thread": b64e(bytes(8))},
        "short access": {**good, "access": b64e(bytes(31))},
        "bad language": {**good, "lang": "de"},
        "mk off curve": {**good, "mk": b64e(b"\x04" + bytes(64))},
        "message from a device": {**good, "msg": {**good["msg"], "from": b64e(bytes(16))}},
        "ciphertext not padded": {**good, "msg": {**good["msg"], "ct": b64e(bytes(100))}},
        "no device wrap": {**good, "msg": {**good["msg"], "keys": {"mailbox": good["msg"]["keys"]["mailbox"]}}},
        "signature of another thread": {**good, "thread": codename_keys("x y z").thread},
        "unknown device": {**good, "msg": {**good["msg"], "keys": {**good["msg"]["keys"],
                                                                  b64e(bytes(16)): good["msg"]["keys"]["mailbox"]}}},
        "oversized": {**good, "msg": {**good["msg"], "ct": "A" * envelope.MAX_BODY_BYTES}},
    }


def test_malformed_and_oversized_envelopes_get_400_and_nothing_is_written() -> None:
    counsellor("sam")
    keys = codename_keys()
    for name, body in bad_bodies(keys).items():
        raw = body if isinstance(body, str) else json.dumps({**body, "pow": solved_pow("write")} if "pow" in body else body)
        response = Client().post("/mailbox/threads/", raw, content_type="application/json")
        assert response.status_code == 400, name
        assert response.json()["error"] in {"bad_request", "bad_envelope", "too_large", "bad_signature",
                                            "unknown_recipient"}, name
        assert stored() == (0, 0, 0), name
    # A reply that is malformed changes nothing either.
    assert visitor_post("/mailbox/threads/", new_thread_body(keys)).status_code == 201
    before = stored()
    for name, msg in {"bad sig": {**new_thread_body(keys)["msg"], "sig": b64e(bytes(64))},
                      "garbage": {"v": 1}}.items():
        response = visitor_post("/mailbox/reply/", {"access": keys.access_b64, "pow": solved_pow("reply"), "msg": msg})
        assert response.status_code == 400, name
    assert stored() == before


# --- proof of work: the chat's PBKDF2 puzzle, one challenge per request, bound to it -------------------------


def refused_pow(response: Any) -> bool:
    return bool(response.status_code == 403 and response.json()["error"] == "pow_invalid")


def test_proof_of_work_is_required_good_and_used_once() -> None:
    counsellor("sam")
    keys = codename_keys()
    body = new_thread_body(keys)
    assert refused_pow(visitor_post("/mailbox/threads/", {**body, "pow": {"challenge": "AAAA", "nonce": "AA"}}))
    assert visitor_post("/mailbox/threads/", body).status_code == 201
    again = new_thread_body(codename_keys("q w e r t y u i"))
    assert refused_pow(visitor_post("/mailbox/threads/", {**again, "pow": body["pow"]}))
    opened = {"access": keys.access_b64, "pow": solved_pow("open")}
    assert visitor_post("/mailbox/open/", opened).status_code == 200
    assert refused_pow(visitor_post("/mailbox/open/", opened))
    assert Thread.objects.count() == 1


def test_the_pow_endpoint_asks_each_requests_price_and_sets_no_cookie(settings: Any) -> None:
    for action in ("write", "reply", "open", "delete"):
        response = Client().get(f"/mailbox/pow/?for={action}")
        assert response.status_code == 200 and not response.cookies
        asked = response.json()
        assert set(asked) == {"challenge", "iterations", "bits"}
        assert proof_of_work.Price(asked["iterations"], asked["bits"]) == conf.pow_price(action)
        assert proof_of_work.parse_challenge(asked["challenge"]) is not None
    assert conf.pow_price("delete") == conf.pow_price("open")
    for wrong in ("", "?for=join", "?for=WRITE"):
        response = Client().get(f"/mailbox/pow/{wrong}")
        assert response.status_code == 400 and response.json()["error"] == "bad_request", wrong


def test_an_answer_to_the_old_sha256_puzzle_is_refused() -> None:
    # What GET /mailbox/pow/ answered before: a bare token, solved as SHA-256(C ‖ nonce) with 14 zero bits.
    counsellor("sam")
    keys = codename_keys()
    challenge = tokens.make_token("pow", 300)
    old = {"challenge": challenge, "nonce": b64e(pow_solve(b64d(challenge), 14))}
    assert refused_pow(visitor_post("/mailbox/threads/", {**new_thread_body(keys), "pow": old}))
    assert stored() == (0, 0, 0)


def test_a_chat_join_challenge_cannot_pay_for_a_mailbox_request_nor_the_other_way_round(settings: Any) -> None:
    settings.CHAT_POW_BITS = 3  # joining costs something now
    counsellor("sam")
    keys = codename_keys()
    asked = Client().get("/chat/pow/").json()
    join = {"challenge": asked["challenge"],
            "nonce": b64e(work_solve(b64d(asked["challenge"]), asked["iterations"], asked["bits"]))}
    assert refused_pow(visitor_post("/mailbox/threads/", {**new_thread_body(keys), "pow": join}))
    assert stored() == (0, 0, 0)
    with pytest.raises(ChatRefused, match="pow_invalid"):
        chat_actions.join_work(0, solved_pow("write"), timezone.now())


@pytest.mark.parametrize(("paid", "asked"), [("open", "write"), ("delete", "write"), ("reply", "write"),
                                             ("open", "reply"), ("open", "delete"), ("delete", "open")])
def test_a_challenge_pays_only_for_the_request_it_was_made_for(paid: str, asked: str) -> None:
    counsellor("sam")
    keys = codename_keys()
    assert visitor_post("/mailbox/threads/", new_thread_body(keys)).status_code == 201
    msg = envelope.build_envelope(keys.thread, "visitor", keys.sign_private, {"t": "text", "body": "again"},
                                  team_recipients(keys))
    bodies = {"write": {**new_thread_body(codename_keys("q w e r t y u i")), "pow": solved_pow(paid)},
              "reply": {"access": keys.access_b64, "msg": msg, "pow": solved_pow(paid)},
              "open": {"access": keys.access_b64, "pow": solved_pow(paid)},
              "delete": {"access": keys.access_b64, "pow": solved_pow(paid)}}
    before = stored()
    path = {"write": "/mailbox/threads/"}.get(asked, f"/mailbox/{asked}/")
    assert refused_pow(visitor_post(path, bodies[asked]))
    assert stored() == before


def test_a_wrong_answer_uses_the_challenge_up() -> None:
    counsellor("sam")
    keys = codename_keys()
    assert visitor_post("/mailbox/threads/", new_thread_body(keys)).status_code == 201
    good = solved_pow("open")
    price = conf.pow_price("open")
    wrong = next(nonce for nonce in (bytes([n]) for n in range(256))
                 if not work_check(b64d(good["challenge"]), nonce, price.iterations, price.bits))
    assert refused_pow(visitor_post("/mailbox/open/", {"access": keys.access_b64,
                                                       "pow": {**good, "nonce": b64e(wrong)}}))
    assert refused_pow(visitor_post("/mailbox/open/", {"access": keys.access_b64, "pow": good}))


def test_a_cheaper_answer_than_asked_is_refused(settings: Any) -> None:
    counsellor("sam")
    keys = codename_keys()
    cheap = solved_pow("write")
    settings.MAILBOX_POW_WRITE_SECONDS *= 4  # the price rose more than a step while the visitor worked
    assert refused_pow(visitor_post("/mailbox/threads/", {**new_thread_body(keys), "pow": cheap}))


# The shipped prices on the shipped phone model (helpline/settings/base.py; the economics: docs/threat-model.md,
# secure messages), as the chat's are tested in tests/unit/test_chat_pow.py.
SHIPPED_PHONE_RATE = 6_000_000
ATTACKER_OVER_PHONE = 16.2 / 6.6  # one native core against the modelled phone (docs/performance.md, attack)


@pytest.fixture
def shipped_prices(settings: Any) -> None:
    settings.CHAT_POW_PHONE_RATE = SHIPPED_PHONE_RATE
    settings.MAILBOX_POW_WRITE_SECONDS, settings.MAILBOX_POW_REPLY_SECONDS = 3, 2
    settings.MAILBOX_POW_OPEN_SECONDS = 1


@pytest.mark.usefixtures("shipped_prices")
def test_a_visitors_phone_pays_seconds_not_minutes() -> None:
    seconds = {action: conf.pow_price(action).work / SHIPPED_PHONE_RATE for action in conf.POW_SETTINGS}
    # On average; a search's luck puts 95 % within three times as long: writing (and then opening) within 12 s.
    assert seconds["write"] + seconds["open"] <= 4 * 1.1
    assert seconds["reply"] + seconds["open"] <= 3 * 1.1
    assert seconds["write"] > seconds["reply"] > seconds["open"] == seconds["delete"] > 0


@pytest.mark.usefixtures("shipped_prices")
def test_opening_makes_each_online_codename_guess_cost_ten_times_the_key_derivation() -> None:
    # A guesser pays crypto.PBKDF2_ITERATIONS to turn words into an access secret, then the open's puzzle.
    assert conf.pow_price("open").work >= 0.99 * 10 * crypto.PBKDF2_ITERATIONS  # 0.99: the price's rounding
    # One native core then tries about 2.5 codenames a second (each guess hits one of N live threads with
    # probability N / 2^88).
    guesses_per_second = ATTACKER_OVER_PHONE * SHIPPED_PHONE_RATE / (
        conf.pow_price("open").work + crypto.PBKDF2_ITERATIONS)
    assert guesses_per_second < 3


def test_a_thread_has_a_size_cap(settings: Any) -> None:
    settings.MAILBOX_THREAD_MAX_MESSAGES = 2
    counsellor("sam")
    keys = codename_keys()
    assert visitor_post("/mailbox/threads/", new_thread_body(keys)).status_code == 201
    statuses = []
    for text in ("two", "three"):
        msg = envelope.build_envelope(keys.thread, "visitor", keys.sign_private, {"t": "text", "body": text},
                                      team_recipients(keys))
        statuses.append(visitor_post("/mailbox/reply/", {"access": keys.access_b64, "pow": solved_pow("reply"),
                                                         "msg": msg}))
    assert [r.status_code for r in statuses] == [201, 409]
    assert statuses[1].json()["error"] == "thread_full"
    assert Message.objects.count() == 2


# --- the team ----------------------------------------------------------------------------------------------------


def test_only_a_counsellors_own_certified_device_registers_a_key_it_signed() -> None:
    sam = counsellor("sam")
    robin = counsellor("robin", register=False)
    ek = b64e(public_key_bytes(generate_private_key()))
    # Sam's key signed by Robin's device, Robin naming Sam's device, a signature over another key: all refused.
    assert robin.post("/mailbox/staff/device-key/", {"device": sam.device.pk, "ek": ek, "ek_sig": crypto.sign_ek_binding(
        robin.signing, sam.device.pk, ek)}).status_code == 403
    assert robin.post("/mailbox/staff/device-key/", {"device": robin.device.pk, "ek": ek, "ek_sig": crypto.sign_ek_binding(
        sam.signing, robin.device.pk, ek)}).status_code == 400
    robin.device.status = CounsellorDevice.REVOKED
    robin.device.save()
    assert robin.post("/mailbox/staff/device-key/", {"device": robin.device.pk, "ek": ek, "ek_sig": crypto.sign_ek_binding(
        robin.signing, robin.device.pk, ek)}).status_code == 403
    assert set(DeviceKey.objects.values_list("device_id", flat=True)) == {sam.device.pk}
    # Revoked and expired devices drop out of the team.
    sam.device.not_after = timezone.localdate() - dt.timedelta(days=1)
    sam.device.save()
    assert Client().get("/mailbox/team/").json() == {"devices": []}


def test_a_colleague_shares_older_messages_with_a_device_certified_later() -> None:
    sam = counsellor("sam")
    keys = codename_keys()
    assert visitor_post("/mailbox/threads/", new_thread_body(keys)).status_code == 201
    robin = counsellor("robin")  # certified after the message was written
    listed = sam.client.get("/mailbox/staff/threads/").json()["threads"]
    assert listed[0]["unshared"] == 1
    detail = sam.client.get(f"/mailbox/staff/threads/{keys.thread}/?device={sam.device.pk}").json()
    message = detail["messages"][0]
    assert message["unshared"] == [robin.device.pk]
    assert robin.client.get(f"/mailbox/staff/threads/{keys.thread}/?device={robin.device.pk}").json()[
        "messages"][0]["key"] is None
    content_key = crypto.unwrap_content_key(sam.encryption, message["key"], keys.thread, message["id"], sam.device.pk)
    wrap = crypto.wrap_content_key(content_key, robin.ek_raw, keys.thread, message["id"], robin.device.pk).as_json()
    # Never to the mailbox or a stranger; then to Robin, once.
    path = f"/mailbox/staff/threads/{keys.thread}/keys/"
    assert sam.post(path, {"keys": {message["id"]: {"mailbox": wrap}}}).status_code == 400
    assert sam.post(path, {"keys": {message["id"]: {b64e(bytes(16)): wrap}}}).status_code == 400
    assert sam.post(path, {"keys": {message["id"]: {robin.device.pk: wrap}}}).json() == {"added": 1}
    assert sam.post(path, {"keys": {message["id"]: {robin.device.pk: wrap}}}).json() == {"added": 0}
    shared = robin.client.get(f"/mailbox/staff/threads/{keys.thread}/?device={robin.device.pk}").json()["messages"][0]
    content = crypto.unwrap_content_key(robin.encryption, shared["key"], keys.thread, shared["id"], robin.device.pk)
    assert crypto.open_body(content, keys.thread, shared["id"], "visitor", shared["ct"])["body"] == "first message"


def test_a_team_reply_must_be_signed_by_the_senders_own_device() -> None:
    sam, robin = counsellor("sam"), counsellor("robin")
    keys = codename_keys()
    assert visitor_post("/mailbox/threads/", new_thread_body(keys)).status_code == 201
    as_sam = envelope.build_envelope(keys.thread, sam.device.pk, sam.signing, {"t": "text", "body": "x"},
                                     team_recipients(keys))
    assert robin.post(f"/mailbox/staff/threads/{keys.thread}/reply/", {"msg": as_sam}).status_code == 403
    forged = envelope.build_envelope(keys.thread, robin.device.pk, sam.signing, {"t": "text", "body": "x"},
                                     team_recipients(keys))
    assert robin.post(f"/mailbox/staff/threads/{keys.thread}/reply/", {"msg": forged}).status_code == 400
    assert robin.post(f"/mailbox/staff/threads/{b64e(bytes(16))}/reply/", {"msg": forged}).status_code == 404
    assert Message.objects.count() == 1


def test_staff_endpoints_need_the_counsel_capability() -> None:
    manager = counsellor("manager", role="programme_manager", register=False)
    for path in ("/mailbox/staff/threads/", f"/mailbox/staff/threads/{b64e(bytes(16))}/"):
        assert Client().get(path).status_code == 302
        assert manager.client.get(path).status_code == 403
    assert Client().get("/en/staff/messages/").status_code == 302
    assert manager.client.get("/en/staff/messages/").status_code == 403


def test_visitor_pages_render_in_both_languages_without_cookies() -> None:
    for lang in ("en", "nl"):
        for path in (f"/{lang}/help/message/", f"/{lang}/help/message/about/"):
            response = Client().get(path)
            assert response.status_code == 200, path
            assert not response.cookies, path
    assert '<html lang="nl">' in Client().get("/nl/help/message/").content.decode()
