"""Against the real Daphne: a queue longer than the counsellors can hold drains, first come first served,
and no counsellor ever holds more chats than the per-counsellor cap (2 by default)."""

from __future__ import annotations

import asyncio
import time

import pytest

from chat.client import ChatEnded, CounsellorClient, Queued, VisitorClient
from chat.client.counsellor import enrol_device
from chat.client.http import sign_in_staff
from tests.conftest import LiveServer

pytestmark = pytest.mark.live

VISITORS = 12


async def test_a_long_queue_drains_within_the_cap(private_live_server: LiveServer) -> None:
    server = private_live_server
    counsellors = []
    for name in ("demo-counsellor", "demo-supervisor"):
        staff = await sign_in_staff(server.base_url, name, server.demo_password(name),
                                    lambda name=name: server.demo_code(name), code_attempts=1)
        counsellor = CounsellorClient(staff, await enrol_device(staff))
        await counsellor.open()
        counsellors.append(counsellor)
    org_public_key = (server.var_dir / "org_public_key.txt").read_text().strip()
    visitors = [VisitorClient(server.base_url, org_public_key=org_public_key) for _ in range(VISITORS)]
    try:
        for visitor in visitors:  # one by one: each fetches (and solves) a fresh proof-of-work challenge
            await visitor.join("en")
            await visitor.wait_for(Queued)
        assert len({visitor.chat for visitor in visitors if visitor.chat}) == VISITORS
        for counsellor in counsellors:
            await counsellor.set_available(True)

        answered_order: list[int] = []
        waiting = list(range(VISITORS))
        deadline = time.monotonic() + 120
        while waiting and time.monotonic() < deadline:
            assert all(len(counsellor.sessions) <= 2 for counsellor in counsellors), "over the cap"
            ready = [index for index in waiting if visitors[index].session is not None]
            for index in ready:
                answered_order.append(index)
                waiting.remove(index)
                await visitors[index].leave()
                await visitors[index].wait_for(ChatEnded, timeout=30)
            if not ready:
                await asyncio.sleep(0.1)
        assert not waiting, f"still waiting: {waiting}"
        # First come, first served: with two counsellors answering at once, nobody overtakes by more than a few.
        assert all(abs(position - index) <= 3 for position, index in enumerate(answered_order)), answered_order
    finally:
        for client in [*visitors, *counsellors]:
            await client.close()
