"""Unit-test fixtures: the chat protocol's fixed test vectors, and the rule that unit tests start no process."""

from __future__ import annotations

import copy
import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
# The repository's copy (kept identical to ../shared/design/vectors.json by test_design_copies.py).
PROTOCOL_VECTOR_PATHS = (REPO / "docs" / "protocol-vectors.json",)


@cache
def load_protocol_vectors() -> dict[str, Any]:
    """vectors.json for protocol.md; fails (never skips) when it cannot be found."""
    for path in PROTOCOL_VECTOR_PATHS:
        if path.exists():
            vectors: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return vectors
    pytest.fail(f"protocol vectors not found in any of {[str(path) for path in PROTOCOL_VECTOR_PATHS]}")


@pytest.fixture
def vectors() -> dict[str, Any]:
    # A copy, so that a test that tampers with a certificate cannot spoil the next one.
    return copy.deepcopy(load_protocol_vectors())


@pytest.fixture
def clear_lockouts() -> Any:
    """django-axes counts wrong passwords in the cache, which outlives a test: start and end with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# Check tools that read a file and exit: msgfmt compiles a catalogue, node runs a page script's pure
# function. Anything else (manage.py, a server, a database) makes a test a live or scaled one.
TOOLS_ALLOWED = frozenset({"msgfmt", "node"})


@pytest.fixture(autouse=True)
def _no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/unit starts no process and no server: that keeps the layer fast and its tests about rules."""
    real_popen = subprocess.Popen

    class OnlyTools(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
            program = args[0] if isinstance(args, list | tuple) else str(args).split()[0]
            if Path(str(program)).name not in TOOLS_ALLOWED:
                raise AssertionError(f"a unit test started {program}: it belongs in tests/live or tests/scaled")
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", OnlyTools)
