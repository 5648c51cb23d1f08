"""Against the real Daphne: a waiting visitor who stops paying rent loses the place to the next visitor, and one
who pays keeps it (protocol.md §9)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat.client import Queued, RentAsked, ServerError, VisitorClient
from tests.conftest import LiveServer, make_live_server

pytestmark = pytest.mark.live

RENT_SECONDS = 2


def busy_live_server(tmp_path: Path, rent_seconds: int) -> LiveServer:
    """Two places, so one waiting chat makes the queue busy; a short rent period; a light modelled phone, so
    puzzles stay small on a loaded machine (clients solve whatever the server asks)."""
    server = make_live_server(tmp_path, HELPLINE_QUICK_EXIT_URL="about:blank", HELPLINE_MAX_QUEUE_LENGTH="2",
                              HELPLINE_CHAT_RENT_SECONDS=str(rent_seconds), HELPLINE_CHAT_POW_PHONE_RATE="300000")
    server.start()
    return server


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = busy_live_server(tmp_path, RENT_SECONDS)
    yield server
    server.stop()


async def waiting_visitor(server: LiveServer, *, pay: bool) -> VisitorClient:
    visitor = VisitorClient(server.base_url, org_public_key=server.org_public_key)
    visitor.pay_rent = pay
    await visitor.join("en")
    await visitor.wait_for(Queued, timeout=60)
    return visitor


async def test_a_visitor_who_does_not_pay_loses_the_place(busy_server: LiveServer) -> None:
    payer = await waiting_visitor(busy_server, pay=True)
    idle = await waiting_visitor(busy_server, pay=False)
    newcomer = VisitorClient(busy_server.base_url, org_public_key=busy_server.org_public_key)
    try:
        await idle.wait_for(RentAsked, timeout=60)
        # At most two periods are paid ahead: after that the idle visitor's place is the next visitor's.
        deadline = asyncio.get_running_loop().time() + 2 * RENT_SECONDS + 30
        while True:
            await newcomer.join("en")
            outcome = await newcomer.wait_for((Queued, ServerError), timeout=60)  # type: ignore[arg-type]
            if isinstance(outcome, Queued):
                break
            assert outcome.code == "queue_full"
            assert asyncio.get_running_loop().time() < deadline, "the unpaid place never opened up"
            await asyncio.sleep(0.5)
        # The payer's place is still the payer's: the queue is full again.
        late = VisitorClient(busy_server.base_url, org_public_key=busy_server.org_public_key)
        await late.join("en")
        assert (await late.wait_for(ServerError, timeout=60)).code == "queue_full"
        await late.close()
    finally:
        for client in (payer, idle, newcomer):
            await client.close()
