"""Against a real Daphne: the SQLite database is briefly unavailable mid-chat (another process holds a write
lock for longer than the server's busy timeout), while visitor and counsellor keep talking.

Requirement (issue "Faults … database briefly unavailable"): afterwards the chat is still there and both can
talk; every message either reached the other side or its sender was told it was not delivered (an `error`
frame naming its seq); there is exactly one chat row; the server process lives and logged no traceback.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import time
from typing import Any

import pytest

from chat.client import (
    ChatClientError,
    ChatEnded,
    Connected,
    CounsellorClient,
    MessageReceived,
    Queued,
    ServerError,
    SocketClosed,
    VisitorClient,
)
from helpline.settings.base import DATABASES
from tests.conftest import LiveServer

pytestmark = pytest.mark.live

# Longer than the server's SQLite busy timeout, so a write that waits for the lock gives up with
# "database is locked" instead of simply waiting it out.
DATABASE_OPTIONS: Any = DATABASES["default"].get("OPTIONS", {})
BUSY_TIMEOUT = float(DATABASE_OPTIONS.get("timeout", 5))
# The process clock writes heartbeats every CHAT_TICK_SECONDS; the lock outlasts one tick plus the busy
# timeout, so at least one of those writes certainly gives up inside the outage.
TICK_SECONDS = 5.0
LOCK_SECONDS = BUSY_TIMEOUT + TICK_SECONDS + 5

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
print("released", flush=True)
"""


def chat_rows(server: LiveServer) -> int:
    with sqlite3.connect(server.database, timeout=30) as db:
        return int(db.execute("SELECT COUNT(*) FROM chat_chat").fetchone()[0])


def hold_write_lock(server: LiveServer, seconds: float) -> subprocess.Popen[str]:
    """Another process takes the database's write lock (WAL: readers go on, every writer waits)."""
    locker = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(server.database), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


LOG_RECORD = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) ")


def unhandled_tracebacks(output: str) -> list[str]:
    """Log records of failures nobody handled: ERROR/CRITICAL records (Daphne's "Exception inside
    application", Django's request errors), asyncio's lost task exceptions, and tracebacks printed outside
    any record. A WARNING with a traceback is a failure the code caught and retries (the clock's sweep)."""
    found: list[str] = []
    current = ""
    for line in output.splitlines():
        record = LOG_RECORD.match(line)
        if record:
            current = record.group(1)
            if current in {"ERROR", "CRITICAL"}:
                found.append(line)
        elif line.startswith("Traceback") and current != "WARNING":
            found.append(f"traceback outside a WARNING record, after: {current or 'nothing'}")
        elif "exception was never retrieved" in line:
            found.append(line)
    return found


async def received_texts(client: VisitorClient | CounsellorClient, wanted: set[str], timeout: float) -> set[str]:
    """The texts of `wanted` that arrive within `timeout` (a lost one is simply missing from the answer)."""
    got: set[str] = set()
    deadline = time.monotonic() + timeout
    while got != wanted and time.monotonic() < deadline:
        try:
            event = await client.wait_for(MessageReceived, lambda e: e.text in wanted,
                                          timeout=deadline - time.monotonic())
        except ChatClientError:
            break
        got.add(event.text)
    return got


def refused_seqs(client: VisitorClient | CounsellorClient) -> set[int]:
    """Seqs of messages the server told this sender it did not deliver."""
    return {event.seq for event in client.pending_events if isinstance(event, ServerError) and event.seq is not None}


async def test_chat_survives_the_database_being_locked(private_live_server: LiveServer) -> None:
    server = private_live_server
    counsellor = await server.available_counsellor()
    visitor = VisitorClient(server.base_url, org_public_key=server.org_public_key)
    locker: subprocess.Popen[str] | None = None
    others: list[VisitorClient] = []
    try:
        await visitor.join("en")
        chat = (await visitor.wait_for(Queued)).chat
        await visitor.wait_for(Connected, timeout=30)
        await counsellor.wait_for(Connected, lambda event: event.chat == chat, timeout=30)
        await visitor.send_text("before")
        assert (await counsellor.wait_for(MessageReceived)).text == "before"

        locker = await asyncio.to_thread(hold_write_lock, server, LOCK_SECONDS)
        # A newcomer's join needs a write (a new chat row): they must end up queued or be told to retry,
        # never silently dropped, and never queued twice.
        newcomer = VisitorClient(server.base_url, org_public_key=server.org_public_key)
        others.append(newcomer)
        await newcomer.join("en")
        # Both talk through the whole outage, including the moment the server's writes give up.
        from_visitor: list[str] = []
        from_counsellor: list[str] = []
        for second in range(int(LOCK_SECONDS) + 3):
            from_visitor.append(f"visitor during {second}")
            await visitor.send_text(from_visitor[-1])
            from_counsellor.append(f"counsellor during {second}")
            await counsellor.send_text(chat, from_counsellor[-1])
            await asyncio.sleep(1)
        await asyncio.to_thread(locker.wait, 30)

        closed = [type(client).__name__ for client in (visitor, counsellor)
                  if any(isinstance(event, SocketClosed) for event in client.pending_events)]
        errors = [event for client in (visitor, counsellor) for event in client.pending_events
                  if isinstance(event, ServerError)]
        assert not closed, f"the outage closed the socket of {closed} (errors sent: {errors})"
        arrived_at_counsellor = await received_texts(counsellor, set(from_visitor), timeout=30)
        arrived_at_visitor = await received_texts(visitor, set(from_counsellor), timeout=30)
        # A message that did not arrive must be one its sender was told about (an error frame with its seq).
        lost_visitor = len(from_visitor) - len(arrived_at_counsellor) - len(refused_seqs(visitor))
        lost_counsellor = len(from_counsellor) - len(arrived_at_visitor) - len(refused_seqs(counsellor))
        assert (lost_visitor, lost_counsellor) == (0, 0), "messages vanished without their sender being told"

        await visitor.send_text("after")
        assert (await counsellor.wait_for(MessageReceived, lambda e: e.text == "after", timeout=30)).text == "after"
        await counsellor.send_text(chat, "still here")
        assert (await visitor.wait_for(MessageReceived, lambda e: e.text == "still here", timeout=30)).text
        newcomer_events = newcomer.pending_events
        newcomer_queued = any(isinstance(event, Queued) for event in newcomer_events)
        newcomer_told = any(isinstance(event, ServerError) for event in newcomer_events)
        assert newcomer_queued or newcomer_told, f"the newcomer was neither queued nor told: {newcomer_events}"
        assert chat_rows(server) == 1 + newcomer_queued, "no chat is lost or duplicated"

        await visitor.leave()
        assert (await counsellor.wait_for(ChatEnded, lambda event: event.chat == chat, timeout=30)).by == "visitor"
        assert server.process is not None and server.process.poll() is None, "the server process died"
        output = server.output()
        # Proof that the outage really reached the server (otherwise this test would prove nothing).
        assert "database is locked" in output, "the lock never made a server write give up"
        assert unhandled_tracebacks(output) == [], output[-3000:]
    finally:
        if locker is not None and locker.poll() is None:
            locker.kill()
        for client in others:
            await client.close()
        await visitor.close()
        await counsellor.close()
