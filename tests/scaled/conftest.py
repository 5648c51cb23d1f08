"""The scaled mode for real: Redis, a throwaway PostgreSQL cluster, two Daphne processes and nginx on loopback.

The processes are started by bench/stack.py (shared with `python -m bench --mode scaled`); this file makes
them a session fixture. Every process runs in one temporary folder on free loopback ports and is stopped
when the session ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NoReturn

import pytest

from bench import stack
from bench.stack import Deployment, render_module

__all__ = ["Deployment", "fetch", "render_module", "scaled", "which"]


def missing(what: str) -> NoReturn:
    """A missing server binary fails under CI (it installs them all) and skips on a developer's machine."""
    message = f"{what} (the scaled-mode tests need redis-server, PostgreSQL and nginx)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def which(name: str) -> str:
    try:
        return stack.which(name)
    except stack.Missing as error:
        missing(str(error))


@pytest.fixture(scope="session")
def scaled() -> Iterator[Deployment]:
    """The whole scaled deployment, once per session; every process is stopped however the session ends."""
    try:
        stack.require_binaries()
    except stack.Missing as error:
        missing(str(error))
    with stack.scaled_deployment() as deployment:
        yield deployment


def fetch(url: str, headers: dict[str, str] | None = None, data: bytes | None = None,
          source: str | None = None, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request (optionally from another loopback address), returning status, headers and body."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout,
                                            source_address=(source, 0) if source else None)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("POST" if data is not None else "GET", path, body=data, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()

