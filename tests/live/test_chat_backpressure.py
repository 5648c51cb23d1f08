"""Against a real Daphne: a socket whose consumer cannot keep up is no longer read (backpressure).

Requirement (issue "Scale": bounded queues and backpressure under overload): the server holds at most a few
frames of a socket in memory beyond what its consumer is handling; the rest wait in TCP, which slows the
sender. Without it Daphne reads a socket as fast as data arrives, and a sender can pile any amount of data
into the server's memory while the consumer is busy.

The consumer is made busy the way a real overload or outage does it: its `join` waits for the database,
which another process holds locked (as in test_chat_fault_database). Meanwhile the client sends as fast as
TCP lets it.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest
import websockets
from websockets.typing import Origin

from chat.protocol import crypto
from tests.conftest import LiveServer
from tests.live.test_chat_fault_database import BUSY_TIMEOUT, hold_write_lock

pytestmark = pytest.mark.live

FLOOD_FRAME = json.dumps({"type": "typing", "v": 1, "chat": "c" * 22, "pad": "x" * 60_000})
OFFERED_BYTES = 48 * 1024 * 1024
# What a stopped reader still lets through on loopback: the server's receive buffer and the client's send
# buffer (a few MiB at most with Linux's autotuning) plus the frames read before the pause. Without the
# pause Daphne reads all OFFERED_BYTES within a second or two.
HELD_BACK_BELOW = 16 * 1024 * 1024


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_busy_socket_is_not_read_and_its_sender_is_held_back(private_live_server: LiveServer) -> None:
    server = private_live_server
    assert server.process is not None
    identity = crypto.generate_private_key()
    vk = crypto.b64e(crypto.public_key_bytes(crypto.generate_private_key()))
    keys = {"vk": vk, "ik": crypto.b64e(crypto.public_key_bytes(identity)), "vsig": crypto.sign_visitor_key(identity, vk)}
    rss_before = rss_kib(server.process.pid)
    locker = hold_write_lock(server, BUSY_TIMEOUT + 6)
    try:
        async with websockets.connect(server.ws_url + "/ws/visitor/", origin=Origin(server.base_url), open_timeout=10,
                                      max_size=None) as socket:
            await socket.send(json.dumps({"type": "join", "v": 2, **keys, "lang": "en"}))
            await asyncio.sleep(0.3)  # the join is now waiting for the database
            handed_over = 0
            deadline = time.monotonic() + BUSY_TIMEOUT - 1.5  # well inside the wait: the consumer reads nothing
            while handed_over < OFFERED_BYTES and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(socket.send(FLOOD_FRAME), timeout=1.0)
                except TimeoutError:
                    break  # TCP stopped taking data: the server is not reading
                handed_over += len(FLOOD_FRAME)
            rss_during = rss_kib(server.process.pid)
    finally:
        locker.wait(timeout=30)
    assert handed_over < HELD_BACK_BELOW, f"the server kept reading: {handed_over} bytes taken"
    assert handed_over > 0
    # What it did take stayed in TCP, not in the server: far less than was offered got into its memory.
    assert rss_during - rss_before < HELD_BACK_BELOW // 1024
    # The process lives on and serves.
    with urllib.request.urlopen(server.base_url + "/chat/pow/", timeout=10) as response:
        assert response.status == 200
