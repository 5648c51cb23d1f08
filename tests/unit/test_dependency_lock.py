"""The hashed lock (requirements/) is in step with pyproject.toml: every dependency is pinned to one release
inside its declared range, with hashes; production's lock holds no development tool and not the Python chat
client; every declared range is one minor version (or tighter), cryptography's included. `make lock` rewrites
the lock after pyproject.toml changes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PINNED = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)(?:\s*;[^\\]*)?\s*\\\n((?:\s+--hash=sha256:[0-9a-f]{64}\s*\\?\n?)+)",
                    re.MULTILINE)


def locked(name: str) -> dict[str, list[Version]]:
    """Package → the versions pinned for it (one, or one per platform marker), each with at least one hash."""
    text = (REPO / "requirements" / name).read_text(encoding="utf-8")
    pins: dict[str, list[Version]] = {}
    for package, version, hashes in PINNED.findall(text):
        assert "--hash=sha256:" in hashes
        pins.setdefault(canonicalize_name(package), []).append(Version(version))
    unhashed = [line for line in text.splitlines() if "==" in line and not line.rstrip().endswith("\\")]
    assert not unhashed, unhashed
    return pins


def declared(*extras: str) -> list[Requirement]:
    requirements = [Requirement(text) for text in PROJECT["dependencies"]]
    for extra in extras:
        requirements += [Requirement(text) for text in PROJECT["optional-dependencies"][extra]
                         if not text.startswith("helpline")]
    return requirements


@pytest.mark.parametrize(("lock", "extras"), [("prod.txt", ()), ("dev.txt", ("client", "dev"))])
def test_every_dependency_is_locked_inside_its_range(lock: str, extras: tuple[str, ...]) -> None:
    pins = locked(lock)
    for requirement in declared(*extras):
        versions = pins.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is not in requirements/{lock}: run `make lock`"
        assert all(requirement.specifier.contains(v) for v in versions), (requirement, versions, "run `make lock`")


def test_production_installs_neither_the_chat_client_nor_development_tools() -> None:
    pins = locked("prod.txt")
    for name in ("websockets", "pytest", "playwright", "mypy", "ruff", "uv", "pip-audit", "hypothesis"):
        assert canonicalize_name(name) not in pins, name
    assert "websockets" in locked("dev.txt")


def test_every_declared_range_is_one_minor_version_at_most() -> None:
    for requirement in declared("client", "dev"):
        bounds = {spec.operator: Version(spec.version) for spec in requirement.specifier}
        assert set(bounds) == {">=", "<"}, requirement
        low, high = bounds[">="], bounds["<"]
        assert (high.major, high.minor) == (low.major, low.minor + 1), requirement
