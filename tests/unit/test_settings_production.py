"""Production settings refuse every unsafe configuration, and accept a good one with a clean check --deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpline.settings.checks import production_problems

REPO = Path(__file__).resolve().parent.parent.parent
GOOD_KEY = "BHJoh24Z2316ZR1V1fPNCLDxTw8tmaw4PVbnBcxYst4JJy80YNEIRNnYp3wPb1dUyOHH-jpYxmcfkZnYcQr0OHg"
GOOD_ENV = {
    "HELPLINE_SECRET_KEY": "x7Q9mZ2vL4pR8tW1nB6cY3kD5fH0jG2sA9eU4iO7qX1zV8bN3mC6",
    "HELPLINE_ALLOWED_HOSTS": "help.example.org",
    "HELPLINE_ORG_PUBLIC_KEY": GOOD_KEY,
    "HELPLINE_TLS": "1",
    "HELPLINE_TOTP_SEED_KEY": "p3Rk8sW2qZ7vN1xL5cH9mB4tY6jD0fG8aE2uI7oQ3zV5bC1nM9kX",
}


def run_with_prod_settings(tmp_path: Path, env_changes: dict[str, str | None], *command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPLINE_", "DJANGO_"))}
    env.update(GOOD_ENV)
    env.update({"DJANGO_SETTINGS_MODULE": "helpline.settings.prod", "HELPLINE_VAR_DIR": str(tmp_path)})
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run([sys.executable, "manage.py", *command], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(
    ("change", "named_variable"),
    [
        ({"HELPLINE_DEBUG": "1"}, "HELPLINE_DEBUG"),
        ({"HELPLINE_SECRET_KEY": None}, "HELPLINE_SECRET_KEY"),
        ({"HELPLINE_SECRET_KEY": "django-insecure-" + "a" * 60}, "HELPLINE_SECRET_KEY"),
        ({"HELPLINE_SECRET_KEY": "short"}, "HELPLINE_SECRET_KEY"),
        ({"HELPLINE_ALLOWED_HOSTS": None}, "HELPLINE_ALLOWED_HOSTS"),
        ({"HELPLINE_ALLOWED_HOSTS": ""}, "HELPLINE_ALLOWED_HOSTS"),
        ({"HELPLINE_ALLOWED_HOSTS": "*"}, "HELPLINE_ALLOWED_HOSTS"),
        ({"HELPLINE_ORG_PUBLIC_KEY": None}, "HELPLINE_ORG_PUBLIC_KEY"),
        ({"HELPLINE_ORG_PUBLIC_KEY": "not-a-key"}, "HELPLINE_ORG_PUBLIC_KEY"),
        ({"HELPLINE_TOTP_SEED_KEY": None}, "HELPLINE_TOTP_SEED_KEY"),
        ({"HELPLINE_TOTP_SEED_KEY": "change-me-" + "a" * 60}, "HELPLINE_TOTP_SEED_KEY"),
        ({"HELPLINE_TOTP_SEED_KEY": "short"}, "HELPLINE_TOTP_SEED_KEY"),
        ({"HELPLINE_TOTP_SEED_KEY": GOOD_ENV["HELPLINE_SECRET_KEY"]}, "HELPLINE_TOTP_SEED_KEY"),
    ],
)
def test_contract_production_refuses_unsafe_configuration(tmp_path: Path, change: dict[str, str | None],
                                                          named_variable: str) -> None:
    result = run_with_prod_settings(tmp_path, change, "check")
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    assert named_variable in result.stderr


def test_production_check_deploy_is_clean_with_a_sample_environment(tmp_path: Path) -> None:
    result = run_with_prod_settings(tmp_path, {}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_bad_number_in_environment_names_the_variable(tmp_path: Path) -> None:
    result = run_with_prod_settings(tmp_path, {"HELPLINE_MAX_QUEUE_LENGTH": "lots"}, "check")
    assert result.returncode != 0
    assert "HELPLINE_MAX_QUEUE_LENGTH" in result.stderr


def test_production_problems_is_empty_for_a_good_configuration() -> None:
    assert production_problems(debug=False, secret_key=GOOD_ENV["HELPLINE_SECRET_KEY"],
                               allowed_hosts=["help.example.org"], org_public_key=GOOD_KEY,
                               allowed_hosts_from_env=True, totp_seed_key=GOOD_ENV["HELPLINE_TOTP_SEED_KEY"]) == []


def test_production_problems_lists_every_problem_at_once() -> None:
    problems = production_problems(debug=True, secret_key="", allowed_hosts=[], org_public_key="",
                                   allowed_hosts_from_env=False, totp_seed_key="")
    assert len(problems) == 5
