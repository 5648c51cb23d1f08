"""Privacy audit, scaled mode: the embedded audit's whole visit, through nginx, Redis, PostgreSQL and two Daphnes.

The scenario is tests/live/test_contract_privacy_audit.py's `whole_visit` (self-help, the no-script
self-check with a canary answer, the counter beacon, a chat with a canary sentence, feedback, a staff
sign-in and a statistics export), run against the scaled deployment, all of it through nginx (staff
forms too: test_staff_sign_in_through_nginx_on_a_non_default_port keeps the site template passing the
port on to Django's CSRF check). Every request carries the canary User-Agent, Referer, X-Forwarded-For
and X-Real-IP, including the ones the chat client makes itself (staff sign-in, device, feedback, both
websockets), and every connection comes from a loopback address of its own, CLIENT_ADDRESS.

Then it reads every row of every PostgreSQL table in every schema but the system ones, every Redis key
and value (and every command Redis was sent during the visit, captured with MONITOR, since channel-layer
messages with the chat's ciphertext pass through Redis and expire), the log of every process (both
Daphnes, nginx's access and error logs and its own output, PostgreSQL, Redis), and every file in the
deployment's folder (the var dir, the PostgreSQL data directory read as raw bytes: a canary in a WAL
segment was written to disk even if no row shows it). It fails on any canary and on the client's address.

Which addresses count as the client's: every server here listens on 127.0.0.1 and nginx reaches the
Daphnes from 127.0.0.1, so 127.0.0.1 appears legitimately (upstream addresses in nginx's access log,
listen addresses in configuration and server logs) and cannot be told apart from a client on it. So the
client connects from CLIENT_ADDRESS, another loopback address that only the client uses: any occurrence of
it is the client's address. The address the client claims in X-Forwarded-For / X-Real-IP (the embedded
audit's CANARY_ADDRESS) must not appear either.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client

import chat.client.base
import chat.client.http
from chat.client.http import sign_in_staff
from tests.conftest import next_demo_code
from tests.live import test_contract_privacy_audit as embedded
from tests.live.test_contract_privacy_audit import CANARIES, CANARY_HEADERS, Site, whole_visit
from tests.scaled.conftest import Deployment, which
from tests.scaled.test_chat_across_processes import sign_in_and_certify
from tests.scaled.test_deployment import all_redis_values

pytestmark = pytest.mark.scaled

# A loopback address nothing but this test's client uses (see the module docstring).
CLIENT_ADDRESS = "127.45.67.89"
# The embedded audit's canaries, but not 127.0.0.1 (every server's own address here), plus the client's.
SCALED_CANARIES = [canary for canary in CANARIES if canary != "127.0.0.1"] + [CLIENT_ADDRESS]


def scaled_site(scaled: Deployment) -> Site:
    base_url = scaled.nginx.base_url
    staff_url = base_url
    passwords_file = scaled.static_root.parent / "demo_credentials.json"

    def rows(sql: str) -> list[tuple[object, ...]]:
        with scaled.postgres.connect() as connection:
            return list(connection.execute(sql).fetchall())  # type: ignore[arg-type]

    def password(username: str) -> str:
        import json

        return str(json.loads(passwords_file.read_text())[username])

    async def counsellor() -> tuple[Any, Any]:
        # Production settings certify no device by themselves: the operator's command does (as in
        # test_chat_across_processes), so the device is certified with the organisation key file.
        staff = await sign_in_and_certify(scaled, staff_url, "demo-counsellor")
        return staff.session, staff.device

    return Site(base_url=base_url, rows=rows, demo_password=password,
                demo_code=lambda username: next_demo_code(scaled.env, username),
                org_public_key=scaled.org_public_key, counsellor=counsellor, staff_url=staff_url)


@pytest.fixture
def canary_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every HTTP request and websocket of this process comes from CLIENT_ADDRESS and carries the canaries.

    The scenario's own requests already carry the canary headers; the chat client's (staff sign-in, device
    registration, feedback, the websockets) send a fixed User-Agent and no Referer, so they are given the
    canary headers here too. Only the client side is changed: the servers run as deployed.
    """
    original_init = http.client.HTTPConnection.__init__

    def init(self: http.client.HTTPConnection, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("source_address", (CLIENT_ADDRESS, 0))
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(http.client.HTTPConnection, "__init__", init)
    original_request = chat.client.http._request

    def request(*args: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return original_request(*args, headers={**(headers or {}), **CANARY_HEADERS}, **kwargs)

    monkeypatch.setattr(chat.client.http, "_request", request)
    original_connect = chat.client.base.connect

    def connect(*args: Any, additional_headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        # websockets passes unknown keyword arguments to loop.create_connection: local_addr binds the source.
        return original_connect(*args, additional_headers={**(additional_headers or {}), **CANARY_HEADERS},
                                local_addr=(CLIENT_ADDRESS, 0), **kwargs)

    monkeypatch.setattr(chat.client.base, "connect", connect)


@pytest.fixture
def redis_monitor(scaled: Deployment, tmp_path: Path) -> Iterator[Path]:
    """Every command Redis receives while the test runs, as `redis-cli MONITOR` prints it (outside the
    deployment's folder, so that the file audit does not read the capture twice)."""
    capture = tmp_path / "redis-monitor.txt"
    with capture.open("wb") as out:
        process = subprocess.Popen([which("redis-cli"), "-h", "127.0.0.1", "-p", str(scaled.redis.port), "MONITOR"],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        yield capture
    finally:
        process.terminate()
        process.wait(timeout=10)


def every_postgres_row(scaled: Deployment) -> str:
    """Every row of every table in every schema the app can use (all but PostgreSQL's own), as text."""
    with scaled.postgres.connect() as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%'"
        ).fetchall()
        assert len(tables) > 10, tables  # the app's tables were found (django_*, chat_*, metrics_* ...)
        texts = []
        for schema, table in tables:
            quoted = f'"{schema}"."{table}"'
            texts.extend(str(row[0]) for row in connection.execute(f"SELECT t::text FROM {quoted} AS t"))  # type: ignore[arg-type]
        return "\n".join(texts)


def every_file(folder: Path) -> dict[str, bytes]:
    """Every regular file under `folder`, raw: logs, the var dir, nginx's temp dirs, PostgreSQL's data."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*")
            if path.is_file() and not path.is_symlink()}


def test_contract_privacy_audit_scaled(scaled: Deployment, canary_client: None, redis_monitor: Path) -> None:
    whole_visit(scaled_site(scaled))

    # The client-side patch took: nginx saw requests of this visit, and it logs no addresses (or they
    # would show CLIENT_ADDRESS below); a request from CLIENT_ADDRESS reached nginx at all.
    stored = every_postgres_row(scaled)
    assert "site.referral" in stored and "chat.answered" in stored, "the visit was counted in PostgreSQL"
    redis_values = b"\n".join(all_redis_values(redis_client.Redis(host="127.0.0.1", port=scaled.redis.port)))
    monitored = redis_monitor.read_bytes()
    # The capture ran: the chat's messages crossed Redis as channel-layer traffic during the visit.
    assert b"asgi" in monitored, monitored[:500]
    files = every_file(scaled.folder)
    logs = {name: text for name, text in files.items() if name.endswith(".log")}
    for expected in ("daphne-1.log", "daphne-2.log", "nginx/access.log", "nginx/nginx.log", "redis/redis.log",
                     "postgres/postgres.log"):
        assert expected in logs, f"no {expected} among {sorted(logs)}"
    assert b"POST /count/ 204" in logs["nginx/access.log"], "nginx logged this visit's requests"
    assert any(b"POST /count/" in logs[name] for name in ("daphne-1.log", "daphne-2.log")), "so did a Daphne"
    assert any(name.startswith("var/") for name in files), "the var dir was read"
    assert any(name.startswith("postgres/data/pg_wal/") for name in files), "PostgreSQL's WAL was read"

    for canary in SCALED_CANARIES:
        assert canary not in stored, f"{canary!r} in PostgreSQL"
        raw = canary.encode()
        assert raw not in redis_values, f"{canary!r} in a Redis key or value"
        assert raw not in monitored, f"{canary!r} in a command sent to Redis"
        for name, content in files.items():
            assert raw not in content, f"{canary!r} in {name}"


def test_the_audit_sees_a_canary_where_one_is_written(scaled: Deployment, canary_client: None) -> None:
    """The audit's readers are not blind, and the client really comes from CLIENT_ADDRESS.

    The marker is not one of the canaries, so this test leaves nothing the main audit would object to.
    """
    marker = "audit-self-check-marker-4242"
    client = redis_client.Redis(host="127.0.0.1", port=scaled.redis.port)
    client.set("audit-self-check", marker)
    try:
        assert marker.encode() in b"\n".join(all_redis_values(client))
    finally:
        client.delete("audit-self-check")
    with scaled.postgres.connect() as connection:
        connection.execute("CREATE TABLE audit_self_check (note text)")
        try:
            connection.execute("INSERT INTO audit_self_check VALUES (%s)", [marker])
            assert marker in every_postgres_row(scaled)
        finally:
            connection.execute("DROP TABLE audit_self_check")
    assert {"User-Agent", "Referer", "X-Forwarded-For"} <= set(CANARY_HEADERS)
    assert embedded.CANARY_ADDRESS in SCALED_CANARIES and CLIENT_ADDRESS in SCALED_CANARIES
    assert peer_of_http_client() == CLIENT_ADDRESS
    assert asyncio.run(peer_of_websocket_client()) == CLIENT_ADDRESS


def peer_of_http_client() -> str:
    """The address a plain HTTP request of this process now comes from, as a listener on 127.0.0.1 sees it."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        connection = http.client.HTTPConnection("127.0.0.1", listener.getsockname()[1], timeout=5)
        connection.connect()
        try:
            accepted, (address, _port) = listener.accept()
            accepted.close()
            return str(address)
        finally:
            connection.close()


async def peer_of_websocket_client() -> str:
    """The address the chat client's websocket now comes from."""
    seen: list[str] = []

    async def note(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("peername")[0])
        writer.close()

    server = await asyncio.start_server(note, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with contextlib.suppress(Exception):  # the handshake fails: the listener is no websocket server
            await chat.client.base.connect(f"ws://127.0.0.1:{port}/", open_timeout=5)
    return seen[0]


async def test_staff_sign_in_through_nginx_on_a_non_default_port(scaled: Deployment) -> None:
    site = scaled_site(scaled)
    session = await sign_in_staff(scaled.nginx.base_url, "demo-manager", site.demo_password("demo-manager"),
                                  lambda: site.demo_code("demo-manager"), code_attempts=1)
    assert session.cookie_header()
