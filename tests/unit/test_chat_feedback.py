"""After-chat feedback: helped Yes / Not sure / No, and "what will you do next?", counted and nothing else."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from chat import tokens
from helpline.metrics.models import DailyCount


def post(body: object) -> int:
    response = Client(enforce_csrf_checks=True).post("/chat/feedback/", json.dumps(body),
                                                     content_type="application/json")
    assert not response.cookies
    return response.status_code


def counts() -> dict[tuple[str, str], int]:
    return {(c.metric, c.dimension): c.count for c in DailyCount.objects.all()}


@pytest.mark.django_db
def test_next_steps_are_counted_one_count_per_code_with_the_answers() -> None:
    token = tokens.make_token("feedback", 60)
    assert post({"feedback": token, "rating": 5, "helped": "unsure",
                 "next": ["safety-plan", "professional"]}) == 204
    assert counts() == {("chat.rating", "5"): 1, ("chat.helped", "unsure"): 1, ("chat.next_step", "safety-plan"): 1,
                        ("chat.next_step", "professional"): 1}


@pytest.mark.django_db
def test_next_steps_alone_are_enough() -> None:
    assert post({"feedback": tokens.make_token("feedback", 60), "next": ["not-sure"]}) == 204
    assert counts() == {("chat.next_step", "not-sure"): 1}


@pytest.mark.django_db
@pytest.mark.parametrize("steps", [["go-to-the-police"], "selfhelp", ["selfhelp", "selfhelp"], [1], [], ["x"] * 7])
def test_bad_next_steps_are_refused_and_nothing_is_counted(steps: object) -> None:
    token = tokens.make_token("feedback", 60)
    assert post({"feedback": token, "rating": 4, "next": steps}) == 400
    assert not DailyCount.objects.exists()
    assert post({"feedback": token, "rating": 4}) == 204, "a refused request does not use the token up"
