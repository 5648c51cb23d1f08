"""Rent (protocol.md §9): a waiting chat keeps its place by solving a fresh puzzle every CHAT_RENT_SECONDS.

A chat that stops paying, or whose visitor's socket is away, stops holding a place (a full queue opens up);
one that stays unpaid as long as a visitor may be away is ended; a chat ended as abusive raises the price.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from django.test import Client

from chat import actions
from chat import pow as proof_of_work
from chat.delivery import deliver
from chat.models import Chat
from chat.protocol.crypto import b64d, b64e, work_check, work_solve

from .conftest import Visitor, join_frame

pytestmark = pytest.mark.django_db(transaction=True)

RENT_SECONDS = 0.4


@pytest.fixture
def busy(settings: Any) -> Any:
    """Two places; from the second one on, joining and every rent period cost work."""
    settings.MAX_QUEUE_LENGTH = 2
    settings.CHAT_RENT_SECONDS = RENT_SECONDS
    return settings


def solved(challenge: str, iterations: int, bits: int) -> dict[str, str]:
    return {"challenge": challenge, "nonce": b64e(work_solve(b64d(challenge), iterations, bits))}


async def join_solving(visitor: Visitor) -> dict[str, Any]:
    """Join as the page does: ask /chat/pow/ for the price and solve it when it is not free."""
    asked = (await sync_to_async(Client().get)("/chat/pow/")).json()
    extra = {"pow": solved(asked["challenge"], asked["iterations"], asked["bits"])} if asked["bits"] else {}
    return await visitor.join(**extra)


def rent_paid_until(chat: str) -> float:
    until = Chat.objects.get(pk=chat).rent_paid_until
    assert until is not None
    return until.timestamp()


async def paid_after(chat: str, before: float) -> float:
    """The chat's new paid-until time once a rent answer moved it (the server sends nothing for it)."""
    deadline = asyncio.get_running_loop().time() + 10
    while (paid := await sync_to_async(rent_paid_until)(chat)) == before:
        assert asyncio.get_running_loop().time() < deadline, "the rent answer was never counted"
        await asyncio.sleep(0.02)
    return paid


async def until_unpaid(*visitors: Visitor) -> None:
    """Wait (well under a second) until these chats' paid places have run out."""
    latest = max([await sync_to_async(rent_paid_until)(visitor.chat) for visitor in visitors])
    await asyncio.sleep(max(0.0, latest - actions.now().timestamp()) + 0.05)


async def refused_with(visitor: Visitor, code: str) -> None:
    """The next error, which must be `code`; rent requests on the way (one every period) are skipped."""
    while (frame := await visitor.receive())["type"] in ("rent", "queue"):
        pass
    assert frame["type"] == "error" and frame["code"] == code, frame


async def pay_every_ask(visitor: Visitor) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            ask = await visitor.expect("rent", timeout=30)
            await visitor.send({"type": "rent", "chat": ask["chat"],
                                "pow": solved(ask["challenge"], ask["iterations"], ask["bits"])})


async def test_a_chat_that_stops_paying_rent_stops_holding_its_place(open_visitor: Any, busy: Any) -> None:
    first, second = await open_visitor(), await open_visitor()
    assert (await join_solving(first))["type"] == "queued"
    assert (await join_solving(second))["type"] == "queued"
    third = await open_visitor()
    await third.send(join_frame("en"))
    await third.error("queue_full")
    # Neither waiting visitor pays: once their paid time has run out, the queue has room again.
    await until_unpaid(first, second)
    assert (await join_solving(third))["type"] == "queued"
    for unpaid in (first, second):
        ask = await unpaid.expect("rent")
        assert ask["chat"] == unpaid.chat and ask["bits"] > 0 and ask["due"] <= 2 * RENT_SECONDS
    assert await sync_to_async(actions.waiting_count)() == 1


async def test_paying_rent_keeps_the_place(open_visitor: Any, busy: Any) -> None:
    payer, other = await open_visitor(), await open_visitor()
    await join_solving(payer)
    await join_solving(other)
    paying = asyncio.create_task(pay_every_ask(payer))
    try:
        await until_unpaid(other)
        await asyncio.sleep(RENT_SECONDS)  # a whole period more: the payer paid at least once
        assert (await join_solving(await open_visitor()))["type"] == "queued"  # the other's place
        last = await open_visitor()
        await last.send(join_frame("en"))
        await last.error("queue_full")  # the payer's place is still the payer's
        assert await sync_to_async(rent_paid_until)(payer.chat) > actions.now().timestamp()
    finally:
        paying.cancel()
        await asyncio.gather(paying, return_exceptions=True)


async def test_a_rent_answer_the_database_failed_on_is_asked_for_again_not_refused(
        open_visitor: Any, busy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database briefly unavailable as a rent answer arrives: the visitor's page must not hear an unnamed
    `rate_limited`, which it takes for the end of the chat while the chat waits on; it is asked for a fresh
    puzzle instead, and paying that one keeps the place."""
    visitor = await open_visitor()
    await join_solving(visitor)
    await join_solving(await open_visitor())  # the queue is busy: rent is asked for
    ask = await visitor.expect("rent")
    pay_rent, failures = actions.pay_rent, []

    def locked_once(*args: Any) -> Any:
        if not failures:
            failures.append(args)
            raise OperationalError("database is locked")
        return pay_rent(*args)

    monkeypatch.setattr(actions, "pay_rent", locked_once)
    before = await sync_to_async(rent_paid_until)(visitor.chat)
    await visitor.send({"type": "rent", "chat": ask["chat"], "pow": solved(ask["challenge"], ask["iterations"],
                                                                          ask["bits"])})
    again = await visitor.receive()
    assert again["type"] == "rent" and again["challenge"] != ask["challenge"] and failures, again
    await visitor.send({"type": "rent", "chat": again["chat"],
                        "pow": solved(again["challenge"], again["iterations"], again["bits"])})
    assert await paid_after(visitor.chat, before) > before


async def test_wrong_reused_or_foreign_rent_answers_are_refused_and_change_nothing(open_visitor: Any,
                                                                                    busy: Any) -> None:
    first, second = await open_visitor(), await open_visitor()
    await join_solving(first)
    await join_solving(second)
    ask = await first.expect("rent")
    other_ask = await second.expect("rent")
    before = await sync_to_async(rent_paid_until)(first.chat)
    wrong = next(b64e(bytes([n])) for n in range(256)
                 if not work_check(b64d(ask["challenge"]), bytes([n]), ask["iterations"], ask["bits"]))
    await first.send({"type": "rent", "chat": first.chat, "pow": {"challenge": ask["challenge"], "nonce": wrong}})
    await refused_with(first, "pow_invalid")
    # The second chat's challenge, rightly solved, is not good for the first chat.
    foreign = solved(other_ask["challenge"], other_ask["iterations"], other_ask["bits"])
    await first.send({"type": "rent", "chat": first.chat, "pow": foreign})
    await refused_with(first, "pow_invalid")
    # A join challenge, rightly solved, does not pay rent either.
    price = proof_of_work.Price(ask["iterations"], ask["bits"])
    join_challenge = proof_of_work.make_work_challenge(proof_of_work.JOIN, price, 60)
    await first.send({"type": "rent", "chat": first.chat, "pow": solved(join_challenge, price.iterations, price.bits)})
    await refused_with(first, "pow_invalid")
    assert await sync_to_async(rent_paid_until)(first.chat) == before


async def test_a_rent_answer_used_twice_pays_once(open_visitor: Any, busy: Any) -> None:
    first, second = await open_visitor(), await open_visitor()
    await join_solving(first)
    await join_solving(second)
    ask = await first.expect("rent")
    before = await sync_to_async(rent_paid_until)(first.chat)
    answer = solved(ask["challenge"], ask["iterations"], ask["bits"])
    await first.send({"type": "rent", "chat": first.chat, "pow": answer})
    paid = await paid_after(first.chat, before)
    await first.send({"type": "rent", "chat": first.chat, "pow": answer})
    await refused_with(first, "pow_invalid")
    assert await sync_to_async(rent_paid_until)(first.chat) == paid


async def test_an_unpaid_chat_is_ended_once_it_was_unpaid_as_long_as_a_visitor_may_be_away(
        open_visitor: Any, busy: Any) -> None:
    first, second = await open_visitor(), await open_visitor()
    await join_solving(first)
    await join_solving(second)
    await until_unpaid(first, second)
    later = actions.now() + actions.dt.timedelta(seconds=busy.RESUME_GRACE_SECONDS + 1)
    await deliver(await sync_to_async(actions.sweep)(later))
    for visitor in (first, second):
        ended = await visitor.expect("ended")
        assert ended["by"] == "timeout"
    assert not await sync_to_async(Chat.objects.exists)()


async def test_a_chat_whose_visitor_is_away_holds_no_place(open_visitor: Any, settings: Any) -> None:
    settings.MAX_QUEUE_LENGTH = 1
    settings.CHAT_POW_BITS = 0
    gone = await open_visitor()
    await gone.join()
    await gone.close()
    # The chat waits RESUME_GRACE_SECONDS for its visitor to come back, but does not keep others out.
    assert (await (await open_visitor()).join())["type"] == "queued"


async def test_a_chat_ended_as_abusive_raises_the_price_of_joining(open_visitor: Any, open_counsellor: Any,
                                                                   settings: Any) -> None:
    settings.CHAT_POW_BITS = None
    abusive = await open_visitor()
    assert (await abusive.join())["type"] == "queued"  # a quiet queue: joining is free
    counsellor = await open_counsellor()
    await counsellor.take(abusive)
    await counsellor.send({"type": "end", "chat": abusive.chat, "wrapup": {"contact": "abusive"}})
    await abusive.expect("ended")
    nextcomer = await open_visitor()
    await nextcomer.send(join_frame("en"))
    await nextcomer.error("pow_required")
    assert (await join_solving(nextcomer))["type"] == "queued"
