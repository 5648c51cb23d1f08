"""Production refuses every unsafe or incomplete configuration: the rules as a plain function, the system
check that lists them, and the guard the server calls before it serves. The real start-up (manage.py and
helpline.serve as processes) is tests/live/test_production_start.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from helpline.settings.checks import problems_in, production_problems, refuse_unsafe_production
from helpline.settings.env import env_bool, env_int

GOOD_KEY = "BHJoh24Z2316ZR1V1fPNCLDxTw8tmaw4PVbnBcxYst4JJy80YNEIRNnYp3wPb1dUyOHH-jpYxmcfkZnYcQr0OHg"
GOOD: dict[str, Any] = {
    "debug": False,
    "secret_key": "x7Q9mZ2vL4pR8tW1nB6cY3kD5fH0jG2sA9eU4iO7qX1zV8bN3mC6",
    "allowed_hosts": ["help.example.org"],
    "org_public_key": GOOD_KEY,
    "totp_seed_key": "p3Rk8sW2qZ7vN1xL5cH9mB4tY6jD0fG8aE2uI7oQ3zV5bC1nM9kX",
    "database_url": "postgres://helpline:pw@127.0.0.1:5432/helpline",
    "redis_url": "redis://127.0.0.1:6379/0",
    "processes": 2,
}
GOOD_SETTINGS = {"PRODUCTION": True, "DEBUG": False, "SECRET_KEY": GOOD["secret_key"],
                 "ALLOWED_HOSTS": GOOD["allowed_hosts"], "ORG_PUBLIC_KEY": GOOD_KEY,
                 "TOTP_SEED_KEY": GOOD["totp_seed_key"],
                 "DATABASE_URL": GOOD["database_url"], "REDIS_URL": GOOD["redis_url"], "SERVER_PROCESSES": 2}


def test_a_good_configuration_has_no_problem() -> None:
    assert production_problems(**GOOD) == []


@pytest.mark.parametrize(
    ("change", "named_variable"),
    [
        ({"debug": True}, "HELPLINE_DEBUG"),
        ({"secret_key": ""}, "HELPLINE_SECRET_KEY"),
        ({"secret_key": "django-insecure-" + "a" * 60}, "HELPLINE_SECRET_KEY"),
        ({"secret_key": "short"}, "HELPLINE_SECRET_KEY"),
        ({"allowed_hosts": []}, "HELPLINE_ALLOWED_HOSTS"),
        ({"allowed_hosts": ["*"]}, "HELPLINE_ALLOWED_HOSTS"),
        ({"org_public_key": ""}, "HELPLINE_ORG_PUBLIC_KEY"),
        ({"org_public_key": "not-a-key"}, "HELPLINE_ORG_PUBLIC_KEY"),
        ({"totp_seed_key": ""}, "HELPLINE_TOTP_SEED_KEY"),
        ({"totp_seed_key": "change-me-" + "a" * 60}, "HELPLINE_TOTP_SEED_KEY"),
        ({"totp_seed_key": "short"}, "HELPLINE_TOTP_SEED_KEY"),
        ({"totp_seed_key": GOOD["secret_key"]}, "HELPLINE_TOTP_SEED_KEY"),
        ({"database_url": ""}, "HELPLINE_DATABASE_URL"),
        ({"redis_url": ""}, "HELPLINE_REDIS_URL"),
        ({"redis_url": "", "processes": 3}, "HELPLINE_REDIS_URL"),
    ],
)
def test_contract_production_refuses_unsafe_configuration(change: dict[str, Any], named_variable: str) -> None:
    problems = production_problems(**(GOOD | change))
    assert len(problems) == 1 and named_variable in problems[0], problems


def test_one_process_may_run_without_redis() -> None:
    assert production_problems(**(GOOD | {"redis_url": "", "processes": 1})) == []


def test_every_problem_is_listed_at_once() -> None:
    problems = production_problems(debug=True, secret_key="", allowed_hosts=[], org_public_key="", totp_seed_key="",
                                   database_url="", redis_url="", processes=2)
    assert len(problems) == 7


def test_the_embedded_default_and_tests_are_not_held_to_production_rules(settings: Any) -> None:
    assert settings.PRODUCTION is False and settings.DATABASE_URL == ""
    assert problems_in(settings) == []


def helpline_errors() -> list[Any]:
    return [message for message in run_checks(tags=["security"]) if message.id == "helpline.E001"]


def test_the_system_check_lists_each_problem_as_an_error() -> None:
    with override_settings(**GOOD_SETTINGS):
        assert helpline_errors() == []
    with override_settings(**(GOOD_SETTINGS | {"DATABASE_URL": "", "REDIS_URL": ""})):
        errors = helpline_errors()
    assert [error.level for error in errors] == [40, 40]  # ERROR: manage.py commands stop
    assert "HELPLINE_DATABASE_URL" in errors[0].msg and "HELPLINE_REDIS_URL" in errors[1].msg
    assert all(error.msg.startswith("Refusing to start in production") for error in errors)


def test_the_server_start_guard_raises_on_an_unsafe_configuration() -> None:
    with override_settings(**GOOD_SETTINGS):
        refuse_unsafe_production()
    with override_settings(**(GOOD_SETTINGS | {"ORG_PUBLIC_KEY": ""})), \
            pytest.raises(ImproperlyConfigured, match="HELPLINE_ORG_PUBLIC_KEY"):
        refuse_unsafe_production()


def test_a_bad_value_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_MAX_QUEUE_LENGTH", "lots")
    with pytest.raises(ImproperlyConfigured, match="HELPLINE_MAX_QUEUE_LENGTH"):
        env_int("HELPLINE_MAX_QUEUE_LENGTH", 30, minimum=1)
    monkeypatch.setenv("HELPLINE_PROCESSES", "0")
    with pytest.raises(ImproperlyConfigured, match="HELPLINE_PROCESSES must be at least 1"):
        env_int("HELPLINE_PROCESSES", 1, minimum=1)
    monkeypatch.setenv("HELPLINE_TLS", "maybe")
    with pytest.raises(ImproperlyConfigured, match="HELPLINE_TLS"):
        env_bool("HELPLINE_TLS")
