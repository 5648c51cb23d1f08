"""Proof-of-work challenges and one-time tokens: authentic, expiring, good once; feedback endpoint."""

from __future__ import annotations

import json
import struct

import pytest
from django.core.cache import cache
from django.test import Client

from chat import pow as proof_of_work
from chat import tokens
from chat.protocol.crypto import b64d, b64e, pow_solve

# Using a token writes its used-marker to the database (chat.tokens).
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def solved(bits: int, now: float | None = None) -> dict[str, str]:
    challenge = proof_of_work.make_challenge(now)
    return {"challenge": challenge, "nonce": b64e(pow_solve(b64d(challenge), bits))}


def test_challenge_layout() -> None:
    raw = b64d(proof_of_work.make_challenge(now=1000))
    assert len(raw) == 40
    assert struct.unpack(">Q", raw[16:24])[0] == 1000 + proof_of_work.CHALLENGE_SECONDS


def test_a_solution_is_good_once() -> None:
    solution = solved(8)
    assert proof_of_work.check_solution(solution, 8)
    assert not proof_of_work.check_solution(solution, 8)


def test_too_few_bits_fail_and_do_not_use_the_challenge() -> None:
    solution = solved(1)
    while proof_of_work.check_solution(solution, 16):  # pragma: no cover - a 1-bit answer rarely meets 16
        solution = solved(1)
    assert proof_of_work.check_solution(solution, 1)


def test_expired_or_forged_challenges_fail() -> None:
    assert not proof_of_work.check_solution(solved(0, now=0), 0)
    good = b64d(proof_of_work.make_challenge())
    forged = b64e(good[:16] + struct.pack(">Q", 2**40) + good[24:])
    assert not proof_of_work.check_solution({"challenge": forged, "nonce": "AA"}, 0)
    assert not proof_of_work.check_solution({"challenge": b64e(bytes(40)), "nonce": "AA"}, 0)


def test_tokens_are_bound_to_their_purpose() -> None:
    token = tokens.make_token("feedback", 60)
    assert not tokens.use_once("pow", token)
    assert tokens.use_once("feedback", token)
    assert not tokens.use_once("feedback", token)


def test_current_bits_follow_load_unless_overridden(settings: object) -> None:
    assert proof_of_work.current_bits(0) == 0
    settings.CHAT_POW_BITS = 4  # type: ignore[attr-defined]
    assert proof_of_work.current_bits(0) == 4


@pytest.mark.django_db
def test_pow_endpoint_sets_no_cookie() -> None:
    response = Client().get("/chat/pow/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"challenge", "bits"}
    assert body["bits"] == 0
    assert proof_of_work.check_solution({"challenge": body["challenge"], "nonce": "AA"}, 0)
    assert not response.cookies


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
