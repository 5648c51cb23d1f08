"""A real Daphne process, started as `make run` starts it, logs and stores no client address or header."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from tests.conftest import LiveServer, make_live_server

pytestmark = pytest.mark.live

CANARY_AGENT = "CanaryBrowser/7.3 (canary-agent-5f1e)"
CANARY_REFERRER = "https://canary-referrer.invalid/page-8c2d"
CANARY_FORWARDED = "203.0.113.77"


@pytest.fixture
def logging_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = make_live_server(tmp_path, HELPLINE_LOG_LEVEL="INFO")
    server.extra_args = ["--access-log"]
    server.start()
    yield server
    server.stop()


def get(server: LiveServer, path: str) -> int:
    request = urllib.request.Request(
        server.base_url + path,
        headers={"User-Agent": CANARY_AGENT, "Referer": CANARY_REFERRER, "X-Forwarded-For": CANARY_FORWARDED,
                 "X-Real-IP": CANARY_FORWARDED, "Forwarded": f"for={CANARY_FORWARDED}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


async def abrupt_websockets(server: LiveServer, count: int) -> None:
    """Open websockets on real and unknown routes with canary headers and drop them without a close."""
    headers = {"User-Agent": CANARY_AGENT, "X-Forwarded-For": CANARY_FORWARDED, "Origin": server.base_url}

    async def one(path: str) -> None:
        try:
            connection = await websockets.connect(server.ws_url + path, additional_headers=headers, open_timeout=5)
        except Exception:
            return
        connection.transport.abort()

    await asyncio.gather(*(one("/ws/visitor/" if i % 2 else "/ws/no-such-route/") for i in range(count)))


def half_requests(server: LiveServer, count: int) -> None:
    """Start HTTP requests and hang up in the middle of them."""
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /en/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + CANARY_AGENT.encode() + b"\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def every_database_value(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        dump = []
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                dump.append(repr(row))
        return "\n".join(dump)
    finally:
        connection.close()


def wait_until_output_settles(server: LiveServer, quiet: float = 1.0, limit: float = 15.0) -> None:
    """Until nothing more was written for `quiet` seconds (at most `limit`): what the disconnects make it log."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = len(server.output())
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)


def test_contract_no_client_address_or_headers_in_logs_or_database(logging_server: LiveServer) -> None:
    for path in ["/en/", "/nl/", "/en/privacy/", "/en/staff/sign-in/", "/en/does-not-exist/", "/static/helpline/site.css",
                 "/en/help/right-now/?src=poster"]:
        assert get(logging_server, path) == (404 if "does-not-exist" in path else 200)
    asyncio.run(abrupt_websockets(logging_server, 40))
    half_requests(logging_server, 20)
    wait_until_output_settles(logging_server)  # Daphne's application checker runs every second
    logging_server.stop()
    # The banner names the server's own address; any other address would be a client's.
    output = logging_server.output().replace(f"127.0.0.1:{logging_server.port}", "<server>")
    assert "GET /en/privacy/ 200" in output, "the access log we asked for is there"
    for canary in (CANARY_AGENT, "canary-agent", CANARY_REFERRER, "canary-referrer", CANARY_FORWARDED, "127.0.0.1",
                   "client=["):
        assert canary not in output, f"{canary!r} leaked into the server output"
    stored = every_database_value(logging_server.database)
    for canary in ("canary-agent", "canary-referrer", CANARY_FORWARDED, "127.0.0.1"):
        assert canary not in stored, f"{canary!r} stored in the database"


def test_run_twice_does_not_fail_or_duplicate(private_live_server: LiveServer) -> None:
    private_live_server.restart()
    connection = sqlite3.connect(private_live_server.database)
    users = connection.execute("SELECT username FROM auth_user ORDER BY username").fetchall()
    connection.close()
    assert [u[0] for u in users] == ["demo-admin", "demo-counsellor", "demo-manager", "demo-supervisor"]
    assert "Staff sign-in:" in private_live_server.output()
