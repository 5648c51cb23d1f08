"""Proof of work: the PBKDF2 puzzle's prices, schedule and challenges, abuse raises; one-time tokens; the
feedback endpoint. (The mailbox's prices: tests/unit/test_mailbox_api.py.)"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from chat import pow as proof_of_work
from chat import tokens
from chat.models import Chat
from chat.protocol.crypto import WORK_MAX_ITERATIONS, b64d, b64e, work_check, work_solve

# Using a token writes its used-marker to the database (chat.tokens).
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def test_tokens_are_bound_to_their_purpose() -> None:
    token = tokens.make_token("feedback", 60)
    assert not tokens.use_once("pow", token)
    assert tokens.use_once("feedback", token)
    assert not tokens.use_once("feedback", token)


def test_the_pow_endpoint_asks_nothing_while_the_queue_is_quiet_and_sets_no_cookie() -> None:
    response = Client().get("/chat/pow/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"challenge", "iterations", "bits"}
    assert body["bits"] == 0
    assert not response.cookies


def test_the_pow_endpoint_asks_the_join_price_when_busy(settings: Any) -> None:
    settings.MAX_QUEUE_LENGTH = 10
    for _ in range(3):  # 3 of 10 places held: pressure 1
        Chat.objects.create(lang="en", resume_hash=secrets.token_hex(32), queued_at=timezone.now(),
                            waiting_since=timezone.now(), visitor_channel="somewhere")
    body = Client().get("/chat/pow/").json()
    expected = proof_of_work.schedule().join_price(1.0)
    assert expected is not None
    assert (body["iterations"], body["bits"]) == (expected.iterations, expected.bits)
    assert proof_of_work.parse_challenge(body["challenge"]) is not None


# --- the PBKDF2 puzzle's prices and schedule ---------------------------------------------------------------

PLAN = proof_of_work.Schedule(phone_rate=6_000_000, join_seconds=2.5, rent_duty=0.4, rent_seconds=60)


@given(st.floats(min_value=1, max_value=2**45))
def test_a_price_asks_about_the_work_wanted_and_checking_an_answer_stays_cheap(work: float) -> None:
    price = proof_of_work.price_for_work(work)
    assert 1 <= price.iterations <= WORK_MAX_ITERATIONS
    assert price.bits >= 1
    if work >= 2 * WORK_MAX_ITERATIONS:
        assert 0.75 * work <= price.work <= 1.25 * work


def test_pressure_is_nil_while_quiet_full_from_a_fifth_and_full_when_raised() -> None:
    assert PLAN.pressure(0, 30) == PLAN.pressure(3, 30) == 0
    assert 0 < PLAN.pressure(4, 30) < PLAN.pressure(5, 30) < 1
    assert PLAN.pressure(6, 30) == PLAN.pressure(30, 30) == 1
    assert PLAN.pressure(0, 30, raised=True) == 1
    assert PLAN.join_price(0) is None and PLAN.rent_price(0) is None


@given(st.floats(min_value=0.01, max_value=60))
def test_a_phone_price_costs_the_modelled_phone_about_its_seconds(seconds: float) -> None:
    rate = django_settings.CHAT_POW_PHONE_RATE
    price = proof_of_work.phone_price(seconds)
    assert price.bits >= 1
    if seconds * rate >= 2 * WORK_MAX_ITERATIONS:
        assert 0.75 * seconds <= price.work / rate <= 1.25 * seconds


def test_a_free_phone_price_is_one_attempt_any_nonce_answers() -> None:
    assert proof_of_work.phone_price(0) == proof_of_work.Price(1, 0)


def test_a_join_costs_at_most_its_budget_on_the_modelled_phone() -> None:
    price = PLAN.join_price(1.0)
    assert price is not None
    assert price.work / PLAN.phone_rate <= 1.25 * PLAN.join_seconds


@given(st.floats(min_value=0.01, max_value=1), st.integers(min_value=1, max_value=24))
def test_leaving_and_joining_again_never_keeps_a_place_cheaper_than_rent(pressure: float, bits: int) -> None:
    rent = PLAN.rent_price(pressure)
    assert rent is not None
    solved = proof_of_work.Price(WORK_MAX_ITERATIONS, bits)
    credit = PLAN.join_credit(pressure, solved)
    # What the join's work buys, as place-seconds per iteration, is at most what rent buys.
    assert credit / solved.work <= PLAN.rent_seconds / rent.work * 1.0001


def test_places_are_free_to_keep_while_the_queue_is_quiet() -> None:
    assert PLAN.join_credit(0, None) == 2 * PLAN.rent_seconds


# The attacker's edge: one core of the best native solver against the modelled phone (docs/performance.md,
# attack: 4-lane SHA-NI PBKDF2 in C, 16.2 M iterations a second, against Chromium's WebCrypto scaled to a
# Pixel 5-class phone, 6.6 M).
ATTACKER_OVER_PHONE = 16.2 / 6.6


def test_one_native_core_keeps_under_a_quarter_of_the_default_queue() -> None:
    # What one core's work pays rent for is a number of places (six at the default prices, with 30 places),
    # beyond the tenth of the queue that is free while it is quiet: under a quarter from 27 places on.
    assert proof_of_work.places_affordable(PLAN, 30, ATTACKER_OVER_PHONE * PLAN.phone_rate) == 6
    for capacity in (27, 100, 1000):
        held = proof_of_work.places_affordable(PLAN, capacity, ATTACKER_OVER_PHONE * PLAN.phone_rate)
        assert held < capacity / 4, (capacity, held)


def test_without_rent_one_core_keeps_the_whole_queue() -> None:
    free = proof_of_work.Schedule(phone_rate=6_000_000, join_seconds=3, rent_duty=0.4, rent_seconds=0)
    assert proof_of_work.places_affordable(free, 30, 1) == 30


# --- PBKDF2 challenges ----------------------------------------------------------------------------------------


def work_answer(kind: str, price: proof_of_work.Price, now: float | None = None) -> dict[str, str]:
    challenge = proof_of_work.make_work_challenge(kind, price, 60, now)
    nonce = work_solve(b64d(challenge), price.iterations, price.bits)
    return {"challenge": challenge, "nonce": b64e(nonce)}


def test_a_work_answer_is_good_once_and_says_what_it_paid() -> None:
    price = proof_of_work.Price(64, 3)
    answer = work_answer(proof_of_work.JOIN, price)
    assert proof_of_work.check_work(proof_of_work.JOIN, answer) == price
    assert proof_of_work.check_work(proof_of_work.JOIN, answer) is None


def test_a_wrong_answer_uses_the_challenge_up() -> None:
    price = proof_of_work.Price(16, 8)
    answer = work_answer(proof_of_work.JOIN, price)
    wrong = next(nonce for nonce in (bytes([n]) for n in range(256))
                 if not work_check(b64d(answer["challenge"]), nonce, 16, 8))
    assert proof_of_work.check_work(proof_of_work.JOIN, {**answer, "nonce": b64e(wrong)}) is None
    assert proof_of_work.check_work(proof_of_work.JOIN, answer) is None


def test_a_challenge_is_bound_to_its_price_its_kind_and_its_time() -> None:
    price = proof_of_work.Price(32, 2)
    answer = work_answer(proof_of_work.rent_kind("chat-a"), price)
    raw = bytearray(b64d(answer["challenge"]))
    raw[4] = 1  # claim one bit instead of two
    cheaper = {"challenge": b64e(bytes(raw)), "nonce": answer["nonce"]}
    assert proof_of_work.check_work(proof_of_work.rent_kind("chat-a"), cheaper) is None
    assert proof_of_work.check_work(proof_of_work.rent_kind("chat-b"), answer) is None
    assert proof_of_work.check_work(proof_of_work.JOIN, answer) is None
    old = work_answer(proof_of_work.JOIN, price, now=1000)
    assert proof_of_work.check_work(proof_of_work.JOIN, old) is None
    assert proof_of_work.check_work(proof_of_work.rent_kind("chat-a"), answer) == price


def test_an_answer_pays_for_at_least_half_the_price_asked_once() -> None:
    asked = proof_of_work.Price(16, 3)
    assert proof_of_work.pays_for("mailbox write", work_answer("mailbox write", asked), asked)
    assert proof_of_work.pays_for("mailbox write", work_answer("mailbox write", proof_of_work.Price(16, 2)), asked)
    assert not proof_of_work.pays_for("mailbox write", work_answer("mailbox write", proof_of_work.Price(15, 2)), asked)
    used = work_answer("mailbox write", asked)
    assert proof_of_work.pays_for("mailbox write", used, asked)
    assert not proof_of_work.pays_for("mailbox write", used, asked)
    assert not proof_of_work.pays_for("mailbox reply", work_answer("mailbox write", asked), asked)


@pytest.mark.parametrize("challenge", ["", "AA", b64e(bytes(45)), b64e(bytes(44)), b64e(b"\xff" * 4 + bytes(41))])
def test_challenges_we_did_not_make_are_refused(challenge: str) -> None:
    assert proof_of_work.check_work(proof_of_work.JOIN, {"challenge": challenge, "nonce": "AA"}) is None


# --- abuse raises the price, for a while, in the shared cache ------------------------------------------------


def test_an_abuse_mark_raises_prices_for_a_while(settings: Any) -> None:
    settings.CHAT_POW_BITS = None
    moment = timezone.now()
    assert proof_of_work.join_price(0, moment) is None
    proof_of_work.raise_for_abuse(moment)
    assert proof_of_work.join_price(0, moment) == proof_of_work.schedule().join_price(1.0)
    assert proof_of_work.rent_price(1, moment) == proof_of_work.schedule().rent_price(1.0)
    later = moment + dt.timedelta(seconds=settings.CHAT_POW_ABUSE_SECONDS + 60)
    assert proof_of_work.join_price(0, later) is None
    # One value in the cache, whole minutes, nothing about the chat.
    assert cache.get(proof_of_work.ABUSE_CACHE_KEY) % 60 == 0


def post_feedback(body: object) -> int:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/chat/feedback/", json.dumps(body), content_type="application/json")
    assert not response.cookies
    return response.status_code


@pytest.mark.django_db
def test_feedback_counts_once_per_token() -> None:
    from helpline.metrics.models import DailyCount

    token = tokens.make_token("feedback", 60)
    assert post_feedback({"feedback": token, "rating": 4, "helped": "unsure"}) == 204
    assert post_feedback({"feedback": token, "rating": 4, "helped": "unsure"}) == 403
    counts = {(c.metric, c.dimension): c.count for c in DailyCount.objects.all()}
    assert counts == {("chat.rating", "4"): 1, ("chat.helped", "unsure"): 1}


@pytest.mark.django_db
def test_feedback_accepts_true_false_for_helped() -> None:
    from helpline.metrics.models import DailyCount

    assert post_feedback({"feedback": tokens.make_token("feedback", 60), "rating": None, "helped": True}) == 204
    assert DailyCount.objects.get(metric="chat.helped").dimension == "yes"


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"rating": 4},
    {"feedback": "x", "rating": 4},
    {"feedback": "TOKEN", "rating": 6},
    {"feedback": "TOKEN", "rating": True},
    {"feedback": "TOKEN", "rating": 4.0},
    {"feedback": "TOKEN", "helped": "maybe"},
    {"feedback": "TOKEN", "helped": 1},
    {"feedback": "TOKEN"},
    {"feedback": "TOKEN", "rating": 3, "comment": "free text is never taken"},
    ["TOKEN"],
])
def test_feedback_is_strict(body: object) -> None:
    from helpline.metrics.models import DailyCount

    token = tokens.make_token("feedback", 60)
    if isinstance(body, dict) and body.get("feedback") == "TOKEN":
        body["feedback"] = token
    assert post_feedback(body) in {400, 403}
    assert not DailyCount.objects.exists()


@pytest.mark.django_db
def test_a_used_token_stays_used_after_a_restart_and_the_row_says_nothing() -> None:
    from django.core.cache import cache

    from chat.models import UsedToken

    token = tokens.make_token("feedback", 600, now=1_800_000_000)
    assert tokens.use_once("feedback", token, now=1_800_000_100)
    cache.clear()  # what a restart of the server (or of Redis) does to anything kept in the cache
    assert not tokens.use_once("feedback", token, now=1_800_000_200)
    row = UsedToken.objects.get()
    assert token[:22] not in row.marker and len(row.marker) == 64
    # The token expires at 1_800_000_600 (2027-01-15 08:10 UTC); the row keeps only the next whole hour.
    assert row.expires_hour.isoformat() == "2027-01-15T09:00:00+00:00"


@pytest.mark.django_db
def test_the_sweep_forgets_used_tokens_once_they_would_have_expired() -> None:
    import datetime as dt

    from chat.models import UsedToken

    token = tokens.make_token("pow", 60, now=1_800_000_000)
    assert tokens.use_once("pow", token, now=1_800_000_001)
    assert tokens.forget_expired(dt.datetime.fromtimestamp(1_800_000_061, dt.UTC)) == 0  # not before the hour
    assert tokens.forget_expired(dt.datetime.fromtimestamp(1_800_003_601, dt.UTC)) == 1
    assert not UsedToken.objects.exists()
