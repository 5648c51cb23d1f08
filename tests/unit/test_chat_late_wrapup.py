"""A wrap-up after the visitor left: who gets a token when a chat ends, and the staff endpoint that counts it once."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from chat import actions
from chat.models import Chat
from chat.outcome import Outcome
from chat.protocol.crypto import b64d, b64e
from chat.tokens import TOKEN_BYTES, make_token, token_expiry
from helpline.accounts.actions import create_staff
from helpline.accounts.models import SealedTOTPDevice
from helpline.metrics.models import DailyCount

pytestmark = pytest.mark.django_db

URL = "/en/staff/chat/wrapup/"
WRAPUP = {"contact": "self", "concern": ["own_urges", "online_images"], "action": ["crisis_info"]}
WRAPUP_DIMENSIONS = {"contact.self", "concern.own_urges", "concern.online_images", "action.crisis_info"}


def wrapup_counts() -> dict[str, int]:
    return {row.dimension: row.count for row in DailyCount.objects.filter(metric="chat.wrapup")}


def make_chat(*, state: str = Chat.ACTIVE, answered: bool = True) -> Chat:
    moment = timezone.now()
    user, _ = create_staff(f"held-{b64e(b64d(Chat().id)[:6])}", "a-long-test-password-1", ["counsellor"])
    return Chat.objects.create(lang="en", state=state, answered=answered, resume_hash=b64e(b64d(Chat().id)),
                               queued_at=moment - dt.timedelta(minutes=9), waiting_since=moment,
                               accepted_at=moment - dt.timedelta(minutes=8) if answered else None,
                               counsellor=user, visitor_channel="visitor.socket",
                               counsellor_channel="counsellor.socket" if state != Chat.QUEUED else "")


def ended_notes(outcome: Outcome) -> dict[str, dict[str, Any]]:
    return {event.channel: event.message for event in outcome.events if event.type == "chat.ended"}


# --- who is given a token when a chat ends -------------------------------------------------------------


@pytest.mark.parametrize("by", ["visitor", "timeout"])
def test_a_held_chat_ended_by_the_visitor_or_a_timeout_gives_only_the_counsellor_a_token(by: str) -> None:
    chat = make_chat()
    notes = ended_notes(actions.end(chat, by, timezone.now()))
    token = notes["counsellor.socket"]["wrapup_token"]
    assert token_expiry(actions.WRAPUP_PURPOSE, token) is not None
    assert "wrapup_token" not in notes["visitor.socket"]
    assert not Chat.objects.filter(pk=chat.pk).exists()


def test_the_counsellors_own_end_with_a_wrapup_gives_no_token_and_counts_at_once() -> None:
    notes = ended_notes(actions.end(make_chat(), "counsellor", timezone.now(), WRAPUP))
    assert "wrapup_token" not in notes["counsellor.socket"]
    assert set(wrapup_counts()) == WRAPUP_DIMENSIONS


def test_the_counsellors_own_end_without_codes_still_gives_a_token() -> None:
    notes = ended_notes(actions.end(make_chat(), "counsellor", timezone.now(), {}))
    assert "wrapup_token" in notes["counsellor.socket"]


@pytest.mark.parametrize(("state", "answered"), [(Chat.QUEUED, False), (Chat.OFFERED, False), (Chat.OFFERED, True)])
def test_no_token_for_a_chat_nobody_held(state: str, answered: bool) -> None:
    # An offer not yet accepted is not that counsellor's conversation, even when someone answered it before.
    notes = ended_notes(actions.end(make_chat(state=state, answered=answered), "visitor", timezone.now()))
    assert all("wrapup_token" not in event for event in notes.values())


def test_the_consumer_forwards_exactly_the_token_from_the_note() -> None:
    # CounsellorConsumer.chat_ended passes **actions.wrapup_fields(event) to its `ended` frame.
    assert actions.wrapup_fields({"type": "chat.ended", "chat": "c", "by": "visitor", "answered": True,
                                  "wrapup_token": "t"}) == {"wrapup_token": "t"}
    assert actions.wrapup_fields({"type": "chat.ended", "chat": "c", "by": "counsellor", "answered": True}) == {}


def test_the_token_carries_nothing_about_the_chat_and_nothing_is_stored_for_it() -> None:
    chat = make_chat()
    token = ended_notes(actions.end(chat, "visitor", timezone.now()))["counsellor.socket"]["wrapup_token"]
    raw = b64d(token)
    assert len(raw) == TOKEN_BYTES  # 16 random bytes, the expiry and a MAC: no room for anything else
    assert b64d(chat.id) not in raw
    assert chat.id not in token
    # Two chats never share a token, and the chat row (the only place the id was) is gone.
    other = ended_notes(actions.end(make_chat(), "visitor", timezone.now()))["counsellor.socket"]["wrapup_token"]
    assert other != token
    assert Chat.objects.count() == 0


def test_the_token_is_good_for_an_hour_and_only_for_wrapups() -> None:
    token = actions.wrapup_token()
    expiry = token_expiry(actions.WRAPUP_PURPOSE, token)
    assert expiry is not None and 3590 <= expiry - time.time() <= 3600
    assert token_expiry(actions.FEEDBACK_PURPOSE, token) is None
    assert not actions.record_feedback(token, 5, None)


def test_record_late_wrapup_counts_once() -> None:
    token = actions.wrapup_token()
    assert actions.record_late_wrapup(token, WRAPUP)
    assert not actions.record_late_wrapup(token, WRAPUP)
    assert wrapup_counts() == dict.fromkeys(WRAPUP_DIMENSIONS, 1)


# --- the endpoint -----------------------------------------------------------------------------------------


def staff_client(username: str, role: str = "counsellor") -> Client:
    user, _ = create_staff(username, "a-long-test-password-1", [role], with_totp=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = SealedTOTPDevice.objects.get(user=user).persistent_id
    session.save()
    client.get("/en/staff/")  # sets the CSRF cookie
    return client


def post(client: Client, body: Any, *, csrf: bool = True, content_type: str = "application/json") -> Any:
    token = client.cookies["csrftoken"].value if csrf else ""
    return client.post(URL, body if isinstance(body, str) else json.dumps(body), content_type=content_type,
                       headers={"X-CSRFToken": token})


@pytest.fixture
def counsellor() -> Client:
    return staff_client("late-wrapup")


def test_a_token_counts_its_wrapup_exactly_once(counsellor: Client) -> None:
    token = actions.wrapup_token()
    assert post(counsellor, {"token": token, "wrapup": WRAPUP}).status_code == 204
    assert wrapup_counts() == dict.fromkeys(WRAPUP_DIMENSIONS, 1)

    replay = post(counsellor, {"token": token, "wrapup": {"contact": "test"}})
    assert replay.status_code == 409
    assert replay.json()["error"]
    assert wrapup_counts() == dict.fromkeys(WRAPUP_DIMENSIONS, 1)


def test_a_token_from_a_real_end_is_accepted(counsellor: Client) -> None:
    token = ended_notes(actions.end(make_chat(), "visitor", timezone.now()))["counsellor.socket"]["wrapup_token"]
    assert post(counsellor, {"token": token, "wrapup": {"contact": "someone_else"}}).status_code == 204
    assert wrapup_counts() == {"contact.someone_else": 1}


def forged(token: str) -> str:
    raw = bytearray(b64d(token))
    raw[0] ^= 1  # the MAC no longer matches the random part
    return b64e(bytes(raw))


@pytest.mark.parametrize("make", [
    lambda: forged(actions.wrapup_token()),
    lambda: make_token(actions.FEEDBACK_PURPOSE, 3600),  # authentic, but for another purpose
    lambda: "not-a-token",
    lambda: "",
])
def test_a_forged_token_is_refused_and_counts_nothing(counsellor: Client, make: Any) -> None:
    response = post(counsellor, {"token": make(), "wrapup": WRAPUP})
    assert response.status_code == 403
    assert response.json()["error"]
    assert wrapup_counts() == {}


def test_an_expired_token_is_refused_and_counts_nothing(counsellor: Client) -> None:
    token = make_token(actions.WRAPUP_PURPOSE, 3600, now=time.time() - 3601)
    response = post(counsellor, {"token": token, "wrapup": WRAPUP})
    assert response.status_code == 410
    assert response.json()["error"]
    assert wrapup_counts() == {}


@pytest.mark.parametrize("wrapup", [
    {"contact": "nobody"},
    {"mood": "self"},
    {"concern": []},
    {"contact": ["self", 1]},
    {"contact": True},
    ["contact", "self"],
    {},
])
def test_bad_codes_are_refused_and_leave_the_token_usable(counsellor: Client, wrapup: Any) -> None:
    token = actions.wrapup_token()
    response = post(counsellor, {"token": token, "wrapup": wrapup})
    assert response.status_code == 400
    assert response.json()["error"]
    assert wrapup_counts() == {}
    # The codes were refused before the token was used, so the corrected wrap-up still counts.
    assert post(counsellor, {"token": token, "wrapup": {"contact": "self"}}).status_code == 204
    assert wrapup_counts() == {"contact.self": 1}


@pytest.mark.parametrize(("body", "content_type"), [
    ({"token": "x", "wrapup": {"contact": "self"}, "chat": "x"}, "application/json"),
    ({"wrapup": {"contact": "self"}}, "application/json"),
    ({"token": 5, "wrapup": {"contact": "self"}}, "application/json"),
    ("not json", "application/json"),
    ("token=x", "application/x-www-form-urlencoded"),
])
def test_a_malformed_body_is_refused(counsellor: Client, body: Any, content_type: str) -> None:
    response = post(counsellor, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"]


def test_the_body_size_is_bounded(counsellor: Client) -> None:
    response = post(counsellor, {"token": "x" * 3000, "wrapup": {"contact": "self"}})
    assert response.status_code == 400


def test_without_the_csrf_header_nothing_counts(counsellor: Client) -> None:
    response = post(counsellor, {"token": actions.wrapup_token(), "wrapup": WRAPUP}, csrf=False)
    assert response.status_code == 403
    assert wrapup_counts() == {}


def test_only_post(counsellor: Client) -> None:
    assert counsellor.get(URL).status_code == 405


def test_someone_without_the_counsel_capability_is_refused() -> None:
    manager = staff_client("late-wrapup-manager", "programme_manager")
    response = post(manager, {"token": actions.wrapup_token(), "wrapup": WRAPUP})
    assert response.status_code == 403
    assert wrapup_counts() == {}


def test_the_answer_is_in_the_pages_language(counsellor: Client) -> None:
    english = post(counsellor, {"token": "nope", "wrapup": WRAPUP}).json()["error"]
    token = counsellor.cookies["csrftoken"].value
    dutch = counsellor.post("/nl/staff/chat/wrapup/", json.dumps({"token": "nope", "wrapup": WRAPUP}),
                            content_type="application/json", headers={"X-CSRFToken": token}).json()["error"]
    assert english != dutch


def test_the_console_knows_where_to_send_a_late_wrapup(counsellor: Client) -> None:
    page = counsellor.get("/en/staff/chat/").content.decode()
    assert f'data-wrapup-url="{URL}"' in page
    strings = page.split('id="chat-strings"')[1]
    for key in ("wrapup_after_end", "wrapup_save", "wrapup_failed"):
        assert f'"{key}"' in strings
