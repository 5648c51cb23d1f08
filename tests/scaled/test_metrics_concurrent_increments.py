"""Counters lose no increment when many processes and threads count at once: six processes of four threads
each race on SQLite (a file of its own) and on PostgreSQL (a throwaway cluster). Processes and a database
server: the scaled layer. The counters' rules in one process are tests/unit/test_metrics_actions.py."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.scaled

REPO = Path(__file__).resolve().parent.parent.parent

PROCESSES, THREADS, EACH = 6, 4, 40

WORKER = textwrap.dedent("""
    import datetime, os, sys, threading, time
    import django
    django.setup()
    from django.db import connection
    from helpline.metrics.actions import increment, increment_hour_of_week
    go = sys.argv[1]
    while not os.path.exists(go):
        time.sleep(0.01)
    moment = datetime.datetime(2026, 3, 3, 14, 10, tzinfo=datetime.UTC)
    errors = []
    def work():
        try:
            for _ in range(int(sys.argv[2])):
                increment("chat.offered", "en", day=datetime.date(2026, 3, 3))
                increment_hour_of_week("chat.demand_how", moment)
        except Exception as error:  # reported through the exit code
            errors.append(error)
        finally:
            connection.close()
    threads = [threading.Thread(target=work) for _ in range(int(sys.argv[3]))]
    for t in threads: t.start()
    for t in threads: t.join()
    sys.exit(repr(errors) if errors else 0)
""")


def run_race(env: dict[str, str], tmp_path: Path) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(go), str(EACH), str(THREADS)], cwd=REPO, env=env,
                                stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    go.touch()
    for worker in workers:
        _out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-2000:]


def counts_after_race(env: dict[str, str]) -> tuple[int, int]:
    script = ("import django; django.setup();"
              "from helpline.metrics.models import DailyCount, HourOfWeekCount as H;"
              "print(DailyCount.objects.get(metric='chat.offered').count, H.objects.get(metric='chat.demand_how').count)")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    daily, hourly = out.stdout.split()
    return int(daily), int(hourly)


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HELPLINE_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "helpline.settings.test", "HELPLINE_VAR_DIR": str(tmp_path / "var")})
    return env


def test_contract_concurrent_increments_lose_nothing_on_sqlite(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"HELPLINE_DATABASE_URL": f"sqlite://{tmp_path / 'race.sqlite3'}"}
    run_race(env, tmp_path)
    assert counts_after_race(env) == (PROCESSES * THREADS * EACH, PROCESSES * THREADS * EACH)


def _initdb() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return found[-1] if found else shutil.which("initdb")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster in a temporary folder, on a free port, stopped afterwards."""
    initdb = _initdb()
    if initdb is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb) is not installed; `make system-packages` (part of `make test`) installs it")
        pytest.skip("PostgreSQL is not installed here")
    bindir = Path(initdb).parent
    # Outside pytest's tmp_path, whose parents only root may enter.
    cluster = Path(tempfile.mkdtemp(prefix="helpline-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(cluster, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = cluster / "data", _free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    options = f"-p {port} -k {cluster} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(cluster / "log"),
                    "-w", "start"], check=True, capture_output=True)
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE helpline_race")
        yield f"postgres://postgres@127.0.0.1:{port}/helpline_race"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(cluster, ignore_errors=True)


def test_contract_concurrent_increments_lose_nothing_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    env = base_env(tmp_path) | {"HELPLINE_DATABASE_URL": postgres_url}
    run_race(env, tmp_path)
    assert counts_after_race(env) == (PROCESSES * THREADS * EACH, PROCESSES * THREADS * EACH)
