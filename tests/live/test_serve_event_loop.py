"""Which event loop Daphne runs on (helpline/serve.py, `choose_event_loop`): uvloop's unless told otherwise,
chosen before daphne.server makes its loop, and a wrong choice stops the start with the variable named.
Each case is a fresh interpreter, since the choice must come before Daphne is imported; the last is the server
started like `make run`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, LiveServer

pytestmark = pytest.mark.live

CHOOSE_THEN_SETUP = """
from helpline.serve import choose_event_loop, running_event_loop_name
print(choose_event_loop())
import django
django.setup()
print(running_event_loop_name())
"""

WITHOUT_UVLOOP = "import sys\nsys.modules['uvloop'] = None  # as where it is not installed: import fails\n"

SETUP_THEN_CHOOSE = """
import django
django.setup()
from helpline.serve import choose_event_loop
choose_event_loop()
"""


def run_python(code: str, event_loop: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPLINE_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = "helpline.settings.dev"
    if event_loop is not None:
        env["HELPLINE_EVENT_LOOP"] = event_loop
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("event_loop", "expected"), [(None, "uvloop"), ("uvloop", "uvloop"),
                                                      ("asyncio", "asyncio")])
def test_daphne_runs_on_the_loop_chosen(event_loop: str | None, expected: str) -> None:
    result = run_python(CHOOSE_THEN_SETUP, event_loop)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [expected, expected]


# Python 3.14 deprecates choosing a loop through asyncio's event loop policy (3.16 removes it): the choice
# must not touch it. In the child, setting a policy fails.
POLICY_UNTOUCHED = """
import asyncio
def refuse(*args):
    raise AssertionError("the event loop policy was set")
asyncio.set_event_loop_policy = refuse
"""

SPARE_LOOP = """
from helpline.upstream import close_daphnes_spare_loop, daphne_event_loop
import daphne.server
close_daphnes_spare_loop()
print(daphne.server.twisted_loop.is_closed(), daphne_event_loop().is_closed())
"""


@pytest.mark.parametrize("event_loop", [None, "asyncio"])
def test_the_choice_leaves_asyncios_policy_alone(event_loop: str | None) -> None:
    result = run_python(POLICY_UNTOUCHED + CHOOSE_THEN_SETUP, event_loop)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [event_loop or "uvloop"] * 2


@pytest.mark.parametrize(("event_loop", "spare_closed"), [(None, "True"), ("asyncio", "False")])
def test_the_loop_daphne_made_for_nothing_is_closed(event_loop: str | None, spare_closed: str) -> None:
    # With uvloop's loop given, the one daphne.server made at import is unused; with asyncio's it is the one.
    result = run_python(CHOOSE_THEN_SETUP + SPARE_LOOP, event_loop)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[2:] == [spare_closed, "False"]


def test_an_unknown_loop_stops_the_start_and_names_the_variable() -> None:
    result = run_python(CHOOSE_THEN_SETUP, "tokio")
    assert result.returncode != 0
    assert "HELPLINE_EVENT_LOOP" in result.stderr and "'tokio'" in result.stderr
    assert result.stdout == ""  # nothing chosen, Django never set up


def test_without_uvloop_the_default_is_asyncios_loop() -> None:
    result = run_python(WITHOUT_UVLOOP + CHOOSE_THEN_SETUP, None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["asyncio", "asyncio"]


def test_asking_for_uvloop_where_it_is_missing_stops_the_start() -> None:
    result = run_python(WITHOUT_UVLOOP + CHOOSE_THEN_SETUP, "uvloop")
    assert result.returncode != 0
    assert "uvloop is not installed" in result.stderr and result.stdout == ""


def test_choosing_after_daphne_made_its_loop_is_refused() -> None:
    # Too late to matter: Daphne's loop exists. Saying so beats a server that quietly runs on the other loop.
    result = run_python(SETUP_THEN_CHOOSE, None)
    assert result.returncode != 0
    assert "before daphne.server is imported" in result.stderr


def test_the_server_started_like_make_run_relays_on_uvloop(live_server: LiveServer) -> None:
    # helpline.embedded must choose before its own django.setup(), or Daphne has made asyncio's loop already.
    assert "(event loop: uvloop)" in live_server.stdout_path.read_text()
