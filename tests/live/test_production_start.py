"""A production start as an operator makes it: `manage.py` and `python -m helpline.serve` as processes with
the production settings. Unsafe or incomplete configurations stop before anything is served; a complete one
passes `check --deploy`. The rules one by one are tests/unit/test_settings_production.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port
from tests.unit.test_settings_production import GOOD_KEY

pytestmark = pytest.mark.live

GOOD_ENV = {
    "HELPLINE_SECRET_KEY": "x7Q9mZ2vL4pR8tW1nB6cY3kD5fH0jG2sA9eU4iO7qX1zV8bN3mC6",
    "HELPLINE_ALLOWED_HOSTS": "help.example.org",
    "HELPLINE_ORG_PUBLIC_KEY": GOOD_KEY,
    "HELPLINE_TOTP_SEED_KEY": "p3Rk8sW2qZ7vN1xL5cH9mB4tY6jD0fG8aE2uI7oQ3zV5bC1nM9kX",
    "HELPLINE_TLS": "1",
    # Never connected to by these commands: `check` reads the configuration only.
    "HELPLINE_DATABASE_URL": "postgres://helpline:pw@127.0.0.1:9/helpline",
    "HELPLINE_REDIS_URL": "redis://127.0.0.1:9/0",
}


def run_with_prod_settings(tmp_path: Path, env_changes: dict[str, str | None], *command: str
                           ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPLINE_", "DJANGO_"))}
    env.update(GOOD_ENV)
    env.update({"DJANGO_SETTINGS_MODULE": "helpline.settings.prod", "HELPLINE_VAR_DIR": str(tmp_path)})
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run([sys.executable, *command], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_production_check_deploy_is_clean_with_a_sample_environment(tmp_path: Path) -> None:
    result = run_with_prod_settings(tmp_path, {}, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["HELPLINE_DATABASE_URL", "HELPLINE_REDIS_URL", "HELPLINE_ORG_PUBLIC_KEY"])
def test_manage_py_refuses_a_production_configuration_without(tmp_path: Path, missing: str) -> None:
    result = run_with_prod_settings(tmp_path, {missing: None}, "manage.py", "check")
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr and missing in result.stderr


def test_one_declared_process_may_run_without_redis(tmp_path: Path) -> None:
    result = run_with_prod_settings(tmp_path, {"HELPLINE_REDIS_URL": None, "HELPLINE_PROCESSES": "1"},
                                    "manage.py", "check")
    assert result.returncode == 0, result.stderr


def test_the_server_refuses_to_start_without_a_database_url(tmp_path: Path) -> None:
    port = free_port()
    result = run_with_prod_settings(tmp_path, {"HELPLINE_DATABASE_URL": None}, "-m", "helpline.serve",
                                    "--port", str(port))
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr and "HELPLINE_DATABASE_URL" in result.stderr
    assert "Serving on" not in result.stdout
    assert not (tmp_path / "helpline.sqlite3").exists()  # no database quietly made in its place


def test_a_bad_number_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    result = run_with_prod_settings(tmp_path, {"HELPLINE_MAX_QUEUE_LENGTH": "lots"}, "manage.py", "check")
    assert result.returncode != 0
    assert "HELPLINE_MAX_QUEUE_LENGTH" in result.stderr
