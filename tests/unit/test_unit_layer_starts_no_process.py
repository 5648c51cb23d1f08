"""The unit layer's rule, held by tests/unit/conftest.py: a unit test that starts a process fails, naming the
layer it belongs in; only the check tools (msgfmt, node) may run."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_starting_python_or_a_server_fails_the_test() -> None:
    for program in ([sys.executable, "manage.py", "check"], ["redis-server", "--port", "0"], "nginx -t"):
        with pytest.raises(AssertionError, match="belongs in tests/live or tests/scaled"):
            subprocess.run(program, shell=isinstance(program, str), check=False)


def test_the_check_tools_may_run() -> None:
    assert subprocess.run(["msgfmt", "--version"], capture_output=True, check=False).returncode == 0
