"""Routing respects the languages each counsellor answers in: the pure rule, the profile, and actions.route."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import actions
from chat.admin import CounsellorProfileForm
from chat.models import Chat, CounsellorPresence, CounsellorProfile
from chat.protocol.crypto import b64d, b64e
from chat.queue import Counsellor, Waiting, route
from helpline.accounts.actions import create_staff

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def counsellor(channel: str, user: int, langs: tuple[str, ...], since: float = 0) -> Counsellor:
    return Counsellor(channel=channel, user=user, available_since=at(since), holding=0, languages=langs)


# --- the rule (chat.queue.route) ---------------------------------------------------------------------------


def test_a_dutch_chat_waits_for_a_dutch_speaker_while_an_english_only_counsellor_is_free() -> None:
    chats = [Waiting("nl-first", "nl", at(1))]
    assert route(chats, [counsellor("en-only", 1, ("en",))], 2) == []
    # The English-only counsellor takes the English chat behind it; the Dutch one keeps waiting.
    chats.append(Waiting("en-later", "en", at(5)))
    assert route(chats, [counsellor("en-only", 1, ("en",))], 2) == [("en-later", "en-only")]
    assert route(chats, [counsellor("en-only", 1, ("en",)), counsellor("nl-too", 2, ("en", "nl"), since=9)], 2) \
        == [("nl-first", "nl-too"), ("en-later", "en-only")]


def test_first_come_first_served_holds_within_a_language() -> None:
    chats = [Waiting("nl-2", "nl", at(2)), Waiting("en-1", "en", at(1)), Waiting("nl-3", "nl", at(3)),
             Waiting("nl-1", "nl", at(0.5))]
    offers = route(chats, [counsellor("a", 1, ("nl",)), counsellor("b", 2, ("nl",), since=1)], 2)
    # The two Dutch speakers get the two Dutch chats that waited longest, the longest-available first.
    assert offers == [("nl-1", "a"), ("nl-2", "b")]


def test_a_returned_chat_still_goes_first_within_its_language() -> None:
    chats = [Waiting("nl-old", "nl", at(1)), Waiting("nl-returned", "nl", at(9), front=True),
             Waiting("en-returned", "en", at(8), front=True)]
    assert route(chats, [counsellor("nl-only", 1, ("nl",))], 2) == [("nl-returned", "nl-only")]


def test_a_chat_reserved_for_a_colleague_who_does_not_speak_its_language_waits() -> None:
    # A hand-over to someone who does not answer in that language is not offered; the reservation runs out
    # after the grace (actions.sweep) and the chat goes to anyone who speaks it.
    chats = [Waiting("nl", "nl", at(1), front=True, reserved_for=1)]
    assert route(chats, [counsellor("en-only", 1, ("en",))], 2) == []


# --- the profile ---------------------------------------------------------------------------------------------


def staff(username: str) -> Any:
    user, _ = create_staff(username, "a-long-test-password-1", ["counsellor"])
    return user


@pytest.mark.django_db
def test_without_a_profile_a_counsellor_answers_every_language() -> None:
    user = staff("no-profile")
    assert CounsellorProfile.languages_by_user({user.pk}) == {user.pk: ("en", "nl")}


@pytest.mark.django_db
def test_the_profile_sets_the_languages_and_a_damaged_one_falls_back_to_every_language() -> None:
    dutch, english, damaged = staff("dutch"), staff("english"), staff("damaged")
    CounsellorProfile.objects.create(user=dutch, languages=["nl"])
    CounsellorProfile.objects.create(user=english, languages=["en", "fr"])
    CounsellorProfile.objects.create(user=damaged, languages="nl")
    assert CounsellorProfile.languages_by_user({dutch.pk, english.pk, damaged.pk}) == {
        dutch.pk: ("nl",), english.pk: ("en",), damaged.pk: ("en", "nl")}


@pytest.mark.django_db
@pytest.mark.parametrize("languages", [[], ["fr"], ["en", "de"], "en"])
def test_a_profile_must_name_at_least_one_chat_language(languages: Any) -> None:
    with pytest.raises(ValidationError):
        CounsellorProfile(user=staff("bad"), languages=languages).full_clean()


@pytest.mark.django_db
def test_the_admin_form_ticks_languages_and_offers_only_counsellors() -> None:
    user = staff("form-user")
    manager, _ = create_staff("form-manager", "a-long-test-password-1", ["programme_manager"])
    form = CounsellorProfileForm(data={"user": user.pk, "languages": ["nl"]})
    assert form.is_valid(), form.errors
    assert form.save().languages == ["nl"]
    assert not CounsellorProfileForm(data={"user": user.pk, "languages": []}).is_valid()
    assert not CounsellorProfileForm(data={"user": manager.pk, "languages": ["en"]}).is_valid()


@pytest.mark.django_db
def test_an_operator_sets_languages_in_the_admin() -> None:
    from tests.unit.test_chat_devices import staff_client

    client, _ = staff_client("profile-admin", "admin")
    user = staff("to-be-dutch")
    assert client.get("/en/staff/admin/chat/counsellorprofile/").status_code == 200
    page = client.get("/en/staff/admin/chat/counsellorprofile/add/")
    assert page.status_code == 200 and 'type="checkbox" name="languages" value="nl"' in page.content.decode()
    token = client.cookies["csrftoken"].value
    response = client.post("/en/staff/admin/chat/counsellorprofile/add/",
                           {"user": user.pk, "languages": ["nl"], "csrfmiddlewaretoken": token})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CounsellorProfile.languages_by_user({user.pk}) == {user.pk: ("nl",)}


# --- actions.route ------------------------------------------------------------------------------------------


def waiting_chat(lang: str, minutes_ago: float, moment: dt.datetime) -> Chat:
    since = moment - dt.timedelta(minutes=minutes_ago)
    return Chat.objects.create(lang=lang, resume_hash=b64e(b64d(Chat().id)), queued_at=since, waiting_since=since,
                               visitor_channel=f"visitor.{lang}.{minutes_ago}", visitor_seen_at=moment)


def available(user: Any, channel: str, moment: dt.datetime, minutes_ago: float = 1) -> None:
    CounsellorPresence.objects.create(channel=channel, user=user, available=True, boot=actions.BOOT,
                                      available_since=moment - dt.timedelta(minutes=minutes_ago), seen_at=moment)


def offered_to() -> dict[str, str]:
    return dict(Chat.objects.filter(state=Chat.OFFERED).values_list("lang", "counsellor_channel"))


@pytest.mark.django_db
def test_route_offers_a_dutch_chat_only_to_a_counsellor_whose_profile_says_dutch() -> None:
    moment = timezone.now()
    english_only = staff("english-only")
    CounsellorProfile.objects.create(user=english_only, languages=["en"])
    dutch_chat = waiting_chat("nl", 3, moment)
    available(english_only, "socket.english-only", moment, minutes_ago=30)

    actions.route(moment)
    dutch_chat.refresh_from_db()
    assert dutch_chat.state == Chat.QUEUED  # the free English-only counsellor is not offered it

    speaks_dutch = staff("speaks-dutch")  # no profile: every language
    available(speaks_dutch, "socket.speaks-dutch", moment)
    waiting_chat("en", 1, moment)
    actions.route(moment)
    assert offered_to() == {"nl": "socket.speaks-dutch", "en": "socket.english-only"}


@pytest.mark.django_db
def test_route_reads_every_profile_in_one_query() -> None:
    moment = timezone.now()
    for number in range(4):
        user = staff(f"many-{number}")
        CounsellorProfile.objects.create(user=user, languages=["en"])
        available(user, f"socket.many-{number}", moment)
    waiting_chat("nl", 1, moment)
    with CaptureQueriesContext(connection) as queries:
        actions.route(moment)
    profile_reads = [q["sql"] for q in queries.captured_queries if "chat_counsellorprofile" in q["sql"]]
    assert len(profile_reads) == 1
    assert offered_to() == {}


@pytest.mark.django_db
def test_the_console_says_which_languages_its_counsellor_is_offered() -> None:
    from tests.unit.test_chat_devices import staff_client

    client, user = staff_client("console-languages")
    assert "You are offered chats in: English, Dutch." in client.get("/en/staff/chat/").content.decode()
    CounsellorProfile.objects.create(user=user, languages=["nl"])
    assert "You are offered chats in: Dutch." in client.get("/en/staff/chat/").content.decode()
    assert "Je krijgt chats aangeboden in: Nederlands." in client.get("/nl/staff/chat/").content.decode()
