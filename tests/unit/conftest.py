"""Unit-test fixtures: the chat protocol's fixed test vectors."""

from __future__ import annotations

import copy
import json
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
