"""Resume, transfer, grace periods, reconnects, refusals at join, queue positions, the per-counsellor cap."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from django.utils import timezone

from chat import actions
from chat.models import Chat, ClosedDay, OpeningHours, ServiceSettings
from chat.protocol.crypto import b64d, b64e, public_key_bytes, work_check, work_solve
from helpline.accounts.roles import SUPERVISOR
from helpline.metrics.models import DailyCount

from .conftest import join_frame, resume_frame

pytestmark = pytest.mark.django_db(transaction=True)


def counts() -> dict[tuple[str, str], int]:
    return {(c.metric, c.dimension): c.count for c in DailyCount.objects.all()}


async def sweep_and_deliver(moment: dt.datetime) -> None:
    """What a socket's clock does, at a moment of the test's choosing."""
    from channels.layers import get_channel_layer

    outcome = await sync_to_async(actions.route)(moment)
    for event in outcome.events:
        await get_channel_layer().send(event.channel, event.message)
    if outcome.queue_changed:
        await get_channel_layer().group_send(actions.QUEUE_GROUP, {"type": "queue.changed"})


def chat_row(chat: str) -> Chat | None:
    return Chat.objects.filter(pk=chat).first()


async def active(open_visitor: Any, open_counsellor: Any, name: str = "counsellor-1") -> tuple[Any, Any]:
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor(name)
    await counsellor.take(visitor)
    await counsellor.send({"type": "available", "on": False})
    await counsellor.drain()
    return visitor, counsellor


async def test_visitor_resume_rekeys_with_the_counsellor(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await visitor.close()
    row = await sync_to_async(chat_row)(visitor.chat)
    assert row is not None and row.visitor_channel == "" and row.visitor_left_at is not None

    back = await open_visitor()
    resumed = resume_frame(visitor.resume, visitor.identity)
    back.vk = resumed["vk"]
    await back.send(resumed)
    queued = await back.expect("queued")
    assert queued["position"] == 0 and queued["chat"] == visitor.chat
    rekey = await counsellor.expect("rekey")
    assert rekey == {"type": "rekey", "chat": visitor.chat, "epoch": 1, "vk": back.vk, "ik": resumed["ik"],
                     "vsig": resumed["vsig"]}
    await counsellor.send(counsellor.accept_frame(visitor.chat, 1, back.vk))
    connected = await back.expect("connected")
    assert connected["epoch"] == 1
    # The chat goes on; the new token works once more, the old one never again.
    sent = await back.send({"type": "msg", "chat": visitor.chat, "epoch": 1, "seq": 0, "ct": b64e(bytes(272))})
    assert await counsellor.expect_text(sent)  # a queue listing from the accept may come first
    assert (await sync_to_async(counts)())[("chat.resumes", "")] == 1


async def test_resume_while_queued_keeps_the_place(open_visitor: Any) -> None:
    first = await open_visitor()
    await first.join()
    second = await open_visitor()
    await second.join()
    await first.close()
    again = await open_visitor()
    await again.send(resume_frame(first.resume))
    queued = await again.expect("queued")
    assert queued["position"] == 1 and queued["chat"] == first.chat


async def test_a_resume_the_database_failed_on_closes_the_socket_to_be_tried_again(
        open_visitor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unnamed `rate_limited` would end the chat on the visitor's page while it is still there. Closed with
    1013 (try again later), the page reconnects as after any drop and resumes with the same token."""
    visitor = await open_visitor()
    await visitor.join()
    await visitor.close()
    resume = actions.resume

    def locked(*args: Any) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(actions, "resume", locked)
    again = await open_visitor()
    await again.send(resume_frame(visitor.resume))
    closed = await again.communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 1013}, closed
    monkeypatch.setattr(actions, "resume", resume)
    last = await open_visitor()
    await last.send(resume_frame(visitor.resume))
    assert (await last.expect("queued"))["chat"] == visitor.chat


async def test_resume_after_the_grace_is_refused(open_visitor: Any, settings: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    await visitor.close()
    await sync_to_async(Chat.objects.filter(pk=visitor.chat).update)(
        visitor_left_at=timezone.now() - dt.timedelta(seconds=settings.RESUME_GRACE_SECONDS + 1))
    again = await open_visitor()
    await again.send(resume_frame(visitor.resume))
    await again.error("resume_invalid")


async def test_resume_takes_over_from_a_socket_still_open(open_visitor: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    other = await open_visitor()
    await other.send(resume_frame(visitor.resume))
    await other.expect("queued")
    assert (await visitor.communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4409}


async def test_visitor_gone_past_the_grace_ends_as_timeout(open_visitor: Any, open_counsellor: Any,
                                                           settings: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await visitor.close()
    await sweep_and_deliver(timezone.now() + dt.timedelta(seconds=settings.RESUME_GRACE_SECONDS + 1))
    assert (await counsellor.expect("ended"))["by"] == "timeout"
    assert not await sync_to_async(Chat.objects.exists)()
    assert (await sync_to_async(counts)())[("chat.ended_by", "timeout")] == 1


async def test_a_silent_visitor_socket_counts_as_gone(open_visitor: Any, settings: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    later = timezone.now() + dt.timedelta(seconds=3 * settings.CHAT_TICK_SECONDS + 1)
    await sync_to_async(actions.sweep)(later)
    row = await sync_to_async(chat_row)(visitor.chat)
    assert row is not None and row.visitor_channel == "" and row.visitor_left_at == later


async def test_a_silent_counsellor_socket_counts_as_gone(open_visitor: Any, open_counsellor: Any,
                                                        settings: Any) -> None:
    visitor, _counsellor = await active(open_visitor, open_counsellor)
    later = timezone.now() + dt.timedelta(seconds=3 * settings.CHAT_TICK_SECONDS + 1)
    await sync_to_async(actions.heartbeat)("visitor", (await sync_to_async(chat_row)(visitor.chat)).visitor_channel,
                                           later)
    await sync_to_async(actions.sweep)(later)
    row = await sync_to_async(chat_row)(visitor.chat)
    assert row is not None and row.counsellor_left_at == later and row.visitor_left_at is None


async def test_queued_visitor_gone_past_the_grace_counts_abandoned(open_visitor: Any, settings: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    await visitor.close()
    later = timezone.now() + dt.timedelta(seconds=settings.RESUME_GRACE_SECONDS + 1)
    await sync_to_async(actions.sweep)(later)
    assert not await sync_to_async(Chat.objects.exists)()
    assert (await sync_to_async(counts)())[("chat.abandoned_queued", "2-5")] == 1


async def test_counsellor_drop_then_back_to_the_front_of_the_queue(open_visitor: Any, open_counsellor: Any,
                                                                   settings: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor, "counsellor-2")
    waiting = await open_visitor()
    await waiting.join()
    await counsellor.close()
    # The visitor hears the truth at once, and nothing more during the grace.
    assert (await visitor.expect("presence"))["peer"] == "away"
    await sweep_and_deliver(timezone.now() + dt.timedelta(seconds=settings.COUNSELLOR_GRACE_SECONDS - 5))
    await visitor.nothing()
    await sweep_and_deliver(timezone.now() + dt.timedelta(seconds=settings.COUNSELLOR_GRACE_SECONDS + 1))
    queued = await visitor.expect("queued")
    assert queued["position"] == 1  # returned to the front, ahead of anyone who waited longer
    assert queued["reason"] == "requeued"
    assert (await waiting.expect("queued"))["position"] == 2


async def test_the_sockets_own_clock_runs_the_sweep(open_visitor: Any, open_counsellor: Any, settings: Any) -> None:
    settings.CHAT_TICK_SECONDS = 0.2
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await counsellor.close()
    settings.COUNSELLOR_GRACE_SECONDS = 0
    colleague = await open_counsellor("colleague")
    await colleague.send({"type": "available", "on": True})
    # Nobody calls the sweep: the sockets' own clocks find the counsellor gone and route the chat on.
    rekey = await colleague.expect("rekey", timeout=10)
    assert rekey["chat"] == visitor.chat and rekey["epoch"] == 1


async def test_counsellor_reconnect_reclaims_its_chats(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await counsellor.close()
    again = await open_counsellor(user=counsellor.user, device=(counsellor.device_key, counsellor.device))
    rekey = await again.expect("rekey")
    assert rekey == {"type": "rekey", "chat": visitor.chat, "epoch": 1, "vk": visitor.vk,
                     "ik": b64e(public_key_bytes(visitor.identity)), "vsig": rekey["vsig"]}
    await again.send(again.accept_frame(visitor.chat, 1, visitor.vk))
    assert (await visitor.expect("connected"))["epoch"] == 1
    sent = await again.send({"type": "msg", "chat": visitor.chat, "epoch": 1, "seq": 0, "ct": b64e(bytes(272))})
    assert await visitor.receive_text() == sent


async def test_an_unanswered_offer_goes_back_to_the_queue(open_visitor: Any, open_counsellor: Any,
                                                          settings: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor()
    await counsellor.send({"type": "available", "on": True})
    await counsellor.expect("rekey")
    later = timezone.now() + dt.timedelta(seconds=settings.COUNSELLOR_GRACE_SECONDS + 1)
    await sync_to_async(actions.sweep)(later)
    row = await sync_to_async(chat_row)(visitor.chat)
    assert row is not None and row.state == Chat.QUEUED and row.front and row.counsellor_id is None


async def test_transfer_back_to_the_queue_goes_to_another_counsellor_with_a_new_epoch(
        open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await counsellor.send({"type": "transfer", "chat": visitor.chat, "to": "queue"})
    assert (await visitor.expect("queued"))["position"] == 1
    colleague = await open_counsellor("colleague")
    _rekey, connected = await colleague.take(visitor)
    assert connected["epoch"] == 1
    # The first counsellor's socket can no longer speak on it.
    await counsellor.send({"type": "typing", "chat": visitor.chat, "on": True})
    await counsellor.error("unknown_chat")
    assert (await sync_to_async(counts)())[("chat.transfers", "")] == 1


async def test_transfer_to_a_colleague_is_offered_only_to_them(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    bystander = await open_counsellor("bystander")
    colleague = await open_counsellor("colleague")
    await bystander.send({"type": "available", "on": True})
    await counsellor.send({"type": "transfer", "chat": visitor.chat, "to": colleague.user.pk})
    await visitor.expect("queued")
    await colleague.send({"type": "available", "on": True})
    rekey = await colleague.expect("rekey")
    assert rekey["chat"] == visitor.chat and rekey["epoch"] == 1
    await bystander.drain()
    assert not any(frame["type"] == "rekey" for frame in bystander.received)


async def test_a_supervisor_may_transfer_any_chat(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    supervisor = await open_counsellor("supervisor", SUPERVISOR)
    await supervisor.send({"type": "msg", "chat": visitor.chat, "epoch": 0, "seq": 0, "ct": b64e(bytes(272))})
    await supervisor.error("unknown_chat")
    await supervisor.send({"type": "transfer", "chat": visitor.chat, "to": "queue"})
    assert (await counsellor.expect("ended"))["by"] == "counsellor"
    await visitor.expect("queued")


async def test_queue_positions_move_up(open_visitor: Any, open_counsellor: Any) -> None:
    first = await open_visitor()
    await first.join()
    second = await open_visitor()
    assert (await second.join())["position"] == 2
    await first.send({"type": "leave", "chat": first.chat})
    assert (await second.expect("queued"))["position"] == 1


async def test_per_counsellor_cap(open_visitor: Any, open_counsellor: Any) -> None:
    await sync_to_async(ServiceSettings.objects.create)(per_counsellor_cap=1)
    _visitor, counsellor = await active(open_visitor, open_counsellor)
    waiting = await open_visitor()
    await waiting.join()
    await counsellor.send({"type": "available", "on": True})
    await counsellor.drain()
    assert [frame["type"] for frame in counsellor.received].count("rekey") == 1
    row = await sync_to_async(chat_row)(waiting.chat)
    assert row is not None and row.state == Chat.QUEUED


async def test_closed_outside_opening_hours(open_visitor: Any) -> None:
    await sync_to_async(ClosedDay.objects.create)(date=timezone.localdate())
    await sync_to_async(ClosedDay.objects.create)(date=timezone.localdate() + dt.timedelta(days=1))
    await sync_to_async(ClosedDay.objects.create)(date=timezone.localdate() - dt.timedelta(days=1))
    visitor = await open_visitor()
    await visitor.send(join_frame("en"))
    await visitor.error("closed")
    assert await sync_to_async(counts)() == {("chat.refused", "closed"): 1}


async def test_open_inside_opening_hours(open_visitor: Any) -> None:
    import datetime

    await sync_to_async(OpeningHours.objects.bulk_create)([
        OpeningHours(weekday=day, opens=datetime.time(0, 0), closes=datetime.time(23, 59, 59)) for day in range(7)])
    visitor = await open_visitor()
    assert (await visitor.join())["type"] == "queued"


async def test_queue_full(open_visitor: Any, settings: Any) -> None:
    settings.MAX_QUEUE_LENGTH = 1
    settings.CHAT_POW_BITS = 0
    first = await open_visitor()
    await first.join()
    second = await open_visitor()
    await second.send(join_frame("en"))
    await second.error("queue_full")
    assert (await sync_to_async(counts)())[("chat.refused", "queue_full")] == 1


async def test_proof_of_work(open_visitor: Any, settings: Any) -> None:
    from chat import pow as proof_of_work

    settings.CHAT_POW_BITS = 6
    visitor = await open_visitor()
    await visitor.send(join_frame("en"))
    await visitor.error("pow_required")
    price = proof_of_work.Price(1, 6)
    challenge = proof_of_work.make_work_challenge(proof_of_work.JOIN, price, 60)
    bad_nonce = next(b64e(bytes([n])) for n in range(256) if not work_check(b64d(challenge), bytes([n]), 1, 6))
    await visitor.send(join_frame("en", pow={"challenge": challenge, "nonce": bad_nonce}))
    await visitor.error("pow_invalid")
    # A wrong answer used the challenge up: a right one for the same challenge is refused too.
    used = {"challenge": challenge, "nonce": b64e(work_solve(b64d(challenge), 1, 6))}
    await visitor.send(join_frame("en", pow=used))
    await visitor.error("pow_invalid")
    challenge = proof_of_work.make_work_challenge(proof_of_work.JOIN, price, 60)
    solution = {"challenge": challenge, "nonce": b64e(work_solve(b64d(challenge), 1, 6))}
    assert (await visitor.join(pow=solution))["type"] == "queued"
    # The same solution a second time is refused.
    other = await open_visitor()
    await other.send(join_frame("en", pow=solution))
    await other.error("pow_invalid")
    cells = await sync_to_async(counts)()
    assert cells[("chat.refused", "pow_invalid")] == 3


async def test_two_visitors_two_counsellors_in_parallel(open_visitor: Any, open_counsellor: Any) -> None:
    pairs = [await active(open_visitor, open_counsellor, f"c{n}") for n in range(2)]
    for visitor, counsellor in pairs:
        await visitor.drain()
        await counsellor.drain()
    for visitor, counsellor in pairs:
        sent = await visitor.send({"type": "msg", "chat": visitor.chat, "epoch": 0, "seq": 1,
                                   "ct": b64e(visitor.chat.encode() * 10)})
        assert await counsellor.expect_text(sent)  # the other pair's accept may broadcast the queue first
    await asyncio.gather(*(visitor.nothing() for visitor, _ in pairs))
