"""Against the real Daphne: however many requests and sockets it serves, it keeps one database connection for
the sockets, and none for requests that are over (helpline/database.py, docs/performance.md)."""

from __future__ import annotations

import asyncio
import os
import urllib.request

import pytest

from chat.client import Queued, VisitorClient
from tests.conftest import LiveServer

pytestmark = pytest.mark.live

REQUESTS = 30
VISITORS = 12


def open_database_files(server: LiveServer) -> int:
    """How many descriptors the server holds on its database file: one per open SQLite connection."""
    assert server.process is not None
    folder = f"/proc/{server.process.pid}/fd"
    return sum(1 for fd in os.listdir(folder) if os.path.realpath(f"{folder}/{fd}") == str(server.database.resolve()))


async def test_requests_and_sockets_leave_no_database_connection_behind(live_server: LiveServer) -> None:
    before = open_database_files(live_server)

    def fetch(path: str) -> None:
        with urllib.request.urlopen(live_server.base_url + path, timeout=10) as response:
            response.read()

    for index in range(REQUESTS):  # each request opened a connection that stayed open after it
        await asyncio.to_thread(fetch, "/chat/pow/" if index % 2 else "/en/")
    # Each socket that did database work opened a connection of its own and kept it while it lived.
    visitors = [VisitorClient(live_server.base_url, org_public_key=live_server.org_public_key) for _ in range(VISITORS)]
    try:
        for visitor in visitors:
            await visitor.join("en")
            await visitor.wait_for(Queued, timeout=20)
        during = open_database_files(live_server)
    finally:
        for visitor in visitors:
            await visitor.leave()
            await visitor.close()
    after = open_database_files(live_server)
    # The sockets' one connection may be opened by this test (so one more than before), never one per socket.
    assert during <= max(before, 1) + 1, (before, during)
    assert after <= max(before, 1) + 1, (before, after)
