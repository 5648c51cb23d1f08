"""What a process does once for all its sockets (chat.process), and what each socket remembers (its peers).

- A socket remembers the peer an accept connected it to, or the gate allowed; a transfer, a resume or an end
  makes it ask again.
- A message for an idle socket is passed on at once, in the sender's turn; one for a chat the socket does not
  hold is not passed on at all; a closed socket is freed without waiting for the garbage collector.
- A socket whose frames queue up faster than the process handles them refuses messages, naming each one.
- A message that waited past its deadline in the server is refused by name, and the process then sheds new
  work: a visitor who joins waits in the queue at their true place until the overload has passed.
- A socket whose channel layer fails under it still runs its disconnect: its chats wait for it as usual.
- One heartbeat per process covers every socket of that process.
"""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings

from chat import actions, process
from chat.consumers import MESSAGES
from chat.limits import OVERLOAD_HOLD_SECONDS, SHED_AFTER_SECONDS
from chat.models import Chat, CounsellorPresence
from chat.protocol.crypto import b64e
from helpline.accounts.roles import SUPERVISOR
from helpline.upstream import SEND_NOW_EXTENSION, PausingInbox

from .conftest import process_work_settled, resume_frame
from .test_chat_lifecycle import active

pytestmark = pytest.mark.django_db(transaction=True)
INBOX_BACKLOG_LIMIT = django_settings.CHAT_INBOX_BACKLOG_LIMIT


async def next_relayed_seq(counsellor: Any) -> int:
    """The seq of the next message relayed to `counsellor`, skipping queue listings broadcast meanwhile."""
    while True:
        frame = json.loads(await counsellor.receive_text())
        if frame["type"] != "queue":
            return int(frame["seq"])


def msg(chat: str, seq: int) -> dict[str, Any]:
    return {"type": "msg", "chat": chat, "epoch": 0, "seq": seq, "ct": b64e(bytes([seq % 256]) * 272)}


async def test_the_first_messages_of_a_chat_need_no_database_read(open_visitor: Any, open_counsellor: Any,
                                                                  monkeypatch: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    asked = []
    real_relay_peer = actions.relay_peer

    def counting_relay_peer(*args: Any) -> Any:
        asked.append(args)
        return real_relay_peer(*args)

    monkeypatch.setattr(actions, "relay_peer", counting_relay_peer)
    sent = await visitor.send(msg(visitor.chat, 0))
    assert await counsellor.expect_text(sent)
    sent = await counsellor.send(msg(visitor.chat, 0))
    assert await visitor.receive_text() == sent
    assert asked == []  # both sides learnt their peer from the accept


async def test_accepting_a_chat_whose_visitor_just_dropped_keeps_the_counsellor_socket(open_visitor: Any,
                                                                                        open_counsellor: Any) -> None:
    """The visitor's tab closed between the offer and the accept: the accept must not send to nobody (the
    channel layer refuses an empty channel name, which closed the counsellor's socket with 1011)."""
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor("counsellor-1")
    await counsellor.send({"type": "available", "on": True})
    rekey = await counsellor.expect("rekey", timeout=30)
    await visitor.close()
    await counsellor.send(counsellor.accept_frame(rekey["chat"], rekey["epoch"], rekey["vk"]))
    await counsellor.nothing_but_queue_listings(timeout=1)  # no 1011 close
    # The socket still takes frames (a message to the absent visitor is refused by name, so the console holds
    # it), and the chat waits for the visitor's resume.
    await counsellor.send(msg(rekey["chat"], 0))
    assert (await counsellor.error("undelivered"))["seq"] == 0
    back = await open_visitor()
    resumed = resume_frame(visitor.resume, visitor.identity)
    back.vk = resumed["vk"]
    await back.send(resumed)
    assert (await counsellor.expect("rekey"))["chat"] == rekey["chat"]


async def test_after_a_transfer_the_visitor_speaks_to_the_new_counsellor_only(open_visitor: Any,
                                                                             open_counsellor: Any) -> None:
    visitor, first = await active(open_visitor, open_counsellor)
    sent = await visitor.send(msg(visitor.chat, 0))
    assert await first.expect_text(sent)  # the visitor's socket now remembers `first` as its peer

    colleague = await open_counsellor("colleague")
    await first.send({"type": "transfer", "chat": visitor.chat, "to": str(colleague.user.pk)})
    await visitor.expect("queued")
    await colleague.take(visitor)
    await first.drain()

    sent = await visitor.send(msg(visitor.chat, 1))
    assert await colleague.expect_text(sent)
    await first.nothing_but_queue_listings()  # the remembered peer was forgotten with the transfer


async def test_after_a_resume_the_counsellor_speaks_to_the_new_socket_only(open_visitor: Any,
                                                                          open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    sent = await counsellor.send(msg(visitor.chat, 0))
    assert await visitor.receive_text() == sent

    back = await open_visitor()
    resumed = resume_frame(visitor.resume, visitor.identity)
    back.vk = resumed["vk"]
    await back.send(resumed)
    await back.expect("queued")
    rekey = await counsellor.expect("rekey")
    await counsellor.send(counsellor.accept_frame(visitor.chat, rekey["epoch"], back.vk))
    await back.expect("connected")

    sent = await counsellor.send({**msg(visitor.chat, 0), "epoch": rekey["epoch"]})
    assert await back.receive_text() == sent


async def test_a_supervisor_transfer_stops_the_old_holder_hearing_the_visitor(open_visitor: Any,
                                                                             open_counsellor: Any) -> None:
    visitor, holder = await active(open_visitor, open_counsellor)
    supervisor = await open_counsellor("supervisor", SUPERVISOR)
    await supervisor.send({"type": "transfer", "chat": visitor.chat, "to": "queue"})
    assert (await holder.expect("ended"))["chat"] == visitor.chat
    await visitor.expect("queued")
    await visitor.send(msg(visitor.chat, 1))
    await holder.nothing_but_queue_listings()


async def test_a_backlog_of_frames_is_refused_by_name_not_relayed_late(open_visitor: Any, open_counsellor: Any,
                                                                        settings: Any) -> None:
    settings.CHAT_FRAME_BURST = 100  # the per-socket rate limit is not what is tested here
    visitor, counsellor = await active(open_visitor, open_counsellor)
    frames = 3 * INBOX_BACKLOG_LIMIT
    # Put every frame in the socket's inbox before the consumer takes the first (an unbounded queue's put
    # does not yield), as Daphne does when a process falls behind.
    for seq in range(frames):
        await visitor.communicator.input_queue.put({"type": "websocket.receive", "text": json.dumps(msg(visitor.chat,
                                                                                                          seq))})
    refused = []
    for _ in range(frames - INBOX_BACKLOG_LIMIT - 1):
        error = await visitor.error("rate_limited")
        refused.append(error["seq"])
        assert error["chat"] == visitor.chat and "not delivered" in error["message"]
    relayed = [await next_relayed_seq(counsellor) for _ in range(INBOX_BACKLOG_LIMIT + 1)]
    assert refused == list(range(frames - INBOX_BACKLOG_LIMIT - 1))
    assert relayed == list(range(frames - INBOX_BACKLOG_LIMIT - 1, frames))
    # Not the sender's fault: no strikes, the socket stays open and keeps relaying; and nothing of the
    # refused frames comes later (expect_text allows only queue listings before the next message).
    sent = await visitor.send(msg(visitor.chat, frames))
    assert await counsellor.expect_text(sent)


async def test_a_socket_whose_channel_layer_fails_still_leaves_properly(open_visitor: Any, open_counsellor: Any,
                                                                        monkeypatch: Any) -> None:
    layer = get_channel_layer()
    broken = asyncio.Event()
    real_receive = layer.receive

    async def receive_until_broken(channel: str) -> Any:
        waiting = asyncio.ensure_future(real_receive(channel))
        breaking = asyncio.ensure_future(broken.wait())
        done, _ = await asyncio.wait({waiting, breaking}, return_when=asyncio.FIRST_COMPLETED)
        if breaking in done:
            waiting.cancel()
            raise ConnectionError("the channel layer went away (as when Redis restarts)")
        breaking.cancel()
        return waiting.result()

    monkeypatch.setattr(layer, "receive", receive_until_broken)
    # Read through `receive`, as the scaled mode's layer is (the embedded one puts messages into the inbox).
    monkeypatch.setattr(layer, "deliver_into", None)
    visitor, counsellor = await active(open_visitor, open_counsellor)
    channel = await sync_to_async(lambda: Chat.objects.get(pk=visitor.chat).counsellor_channel)()
    assert await sync_to_async(CounsellorPresence.objects.filter(channel=channel).exists)()

    broken.set()
    with pytest.raises(ConnectionError):
        await counsellor.communicator.wait(timeout=10)

    # disconnect() ran: the presence is gone and the chat waits for its counsellor's grace period.
    assert not await sync_to_async(CounsellorPresence.objects.filter(channel=channel).exists)()
    row = await sync_to_async(Chat.objects.get)(pk=visitor.chat)
    assert row.counsellor_left_at is not None
    assert channel not in process.work().counsellors


async def test_one_heartbeat_covers_every_socket_of_the_process(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, _counsellor = await active(open_visitor, open_counsellor)
    other = await open_visitor()
    await other.join()
    work = process.work()
    assert len(work.visitors) == 2 and len(work.counsellors) == 1
    later = actions.now() + __import__("datetime").timedelta(minutes=5)
    await sync_to_async(actions.heartbeat_many)(sorted(work.visitors), sorted(work.counsellors), later)
    seen = await sync_to_async(lambda: sorted(Chat.objects.values_list("visitor_seen_at", flat=True)))()
    assert seen == [later, later]
    presence = await sync_to_async(CounsellorPresence.objects.get)()
    assert presence.seen_at == later
    await visitor.close()
    assert len(work.visitors) == 1


async def test_a_consumer_cancelled_before_it_could_leave_still_leaves(open_visitor: Any,
                                                                      open_counsellor: Any) -> None:
    # What Daphne does to a consumer that has not finished some seconds after its socket closed.
    visitor, counsellor = await active(open_visitor, open_counsellor)
    channel = await sync_to_async(lambda: Chat.objects.get(pk=visitor.chat).counsellor_channel)()
    assert channel in process.work().counsellors
    counsellor.communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await counsellor.communicator.future
    assert channel not in process.work().counsellors  # at once: the process no longer beats for it
    for _ in range(100):  # the rest of leaving runs in a task of its own
        if not await sync_to_async(CounsellorPresence.objects.filter(channel=channel).exists)():
            break
        await asyncio.sleep(0.05)
    assert not await sync_to_async(CounsellorPresence.objects.filter(channel=channel).exists)()
    row = await sync_to_async(Chat.objects.get)(pk=visitor.chat)
    assert row.counsellor_left_at is not None


async def test_a_backlog_is_not_held_against_the_sender_by_the_rate_limit(open_visitor: Any,
                                                                          open_counsellor: Any) -> None:
    # Frames that waited in the server's backlog are handled faster than they were sent: the per-socket rate
    # limit (10/s, bursts of 30, five strikes close) must not punish the sender for the server's delay.
    visitor, counsellor = await active(open_visitor, open_counsellor)
    frames = 100
    for seq in range(frames):
        await visitor.communicator.input_queue.put({"type": "websocket.receive", "text": json.dumps(msg(visitor.chat,
                                                                                                          seq))})
    for seq in range(frames - INBOX_BACKLOG_LIMIT - 1):
        assert (await visitor.error("rate_limited"))["seq"] == seq
    relayed = [await next_relayed_seq(counsellor) for _ in range(INBOX_BACKLOG_LIMIT + 1)]
    assert relayed == list(range(frames - INBOX_BACKLOG_LIMIT - 1, frames))
    sent = await visitor.send(msg(visitor.chat, frames))
    assert await counsellor.expect_text(sent)  # still open: no 1008


class Clock:
    """A monotonic clock the test moves: how long frames waited, and how long an overload lasts."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Transport:
    """What a PausingInbox calls on Twisted's transport; reading is not what is tested here."""

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


async def test_a_late_message_is_refused_by_name_and_new_chats_wait_until_the_overload_passes(
        open_visitor: Any, open_counsellor: Any, monkeypatch: Any) -> None:
    clock = Clock()
    monkeypatch.setattr(process.work().overload, "clock", clock)
    inbox = PausingInbox(Transport(), clock=clock)
    visitor = await open_visitor(inbox)
    await visitor.join()
    counsellor = await open_counsellor("counsellor-1")
    await counsellor.take(visitor)
    await counsellor.send({"type": "available", "on": False})
    await counsellor.drain()

    # A message the process took up only after the deadline (it was behind): refused by name, not struck.
    inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(msg(visitor.chat, 0))})
    clock.now += SHED_AFTER_SECONDS + 0.05
    refused = await visitor.error("rate_limited")
    assert (refused["chat"], refused["seq"]) == (visitor.chat, 0)
    assert refused["message"].startswith("The service is very busy")
    assert process.work().overload.active
    # The sender sends it again (a new seq), in time now: it is relayed, and the socket is still open.
    sent = await visitor.send(msg(visitor.chat, 1))
    assert await counsellor.expect_text(sent)

    # New work waits: a visitor who joins now is queued at their place, and nobody is offered the chat.
    other = await open_counsellor("counsellor-2")
    await other.send({"type": "available", "on": True})
    newcomer = await open_visitor()
    queued = await newcomer.join()
    assert queued["position"] == 1
    await other.nothing_but_queue_listings(timeout=1)
    assert await sync_to_async(Chat.objects.filter(pk=newcomer.chat, state=Chat.QUEUED).exists)()

    # The overload passes: routing resumes by itself and offers the waiting chat.
    clock.now += OVERLOAD_HOLD_SECONDS
    assert (await other.expect("rekey"))["chat"] == newcomer.chat


async def test_a_waiting_list_every_socket_has_already_wakes_none_of_them(open_visitor: Any, open_counsellor: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A routing pass that leaves the waiting list as it was (an accept, a visitor offered at once) sends no
    broadcast: it woke every open console and waiting visitor to find that out. A changed list, or a socket
    that joined the group since, still gets it to everyone."""
    from chat.consumers import CounsellorConsumer, VisitorConsumer

    woken: list[str] = []
    for consumer in (CounsellorConsumer, VisitorConsumer):
        original = consumer.queue_changed

        async def counting(self: Any, event: dict[str, Any], original: Any = original) -> None:
            woken.append(self.channel_name)
            await original(self, event)

        monkeypatch.setattr(consumer, "queue_changed", counting)
    first = await open_counsellor("first")
    second = await open_counsellor("second")
    woken.clear()  # each console's own listing, read as it opened
    await first.send({"type": "available", "on": False})  # they joined the group: the next list goes to all
    await process_settled_after_broadcast()
    assert len(woken) == 2
    woken.clear()
    for on in (True, False, True, False):  # each asks for a routing pass; the list stays empty
        await first.send({"type": "available", "on": on})
        await process_settled_after_broadcast()
    assert woken == []
    visitor = await open_visitor()
    await visitor.join()  # nobody available: the list changes, and both consoles and the visitor hear it
    await process_settled_after_broadcast()
    assert len(woken) == 3 and (await first.expect("queue"))["chats"][0]["chat"] == visitor.chat
    assert (await second.expect("queue"))["chats"][0]["chat"] == visitor.chat


async def process_settled_after_broadcast() -> None:
    """Wait past the broadcast gap until routing and the broadcast have run."""
    from .conftest import process_work_settled

    await asyncio.sleep(process.QUEUE_BROADCAST_GAP + 0.05)
    await process_work_settled()


async def test_a_join_is_offered_in_its_own_trip_to_the_database(open_visitor: Any, open_counsellor: Any,
                                                                 monkeypatch: Any) -> None:
    # A visitor who joins while a console is available waits for the pass that offers their chat. As a trip of
    # its own it waited its turn on the event loop twice more, and the offer went through the visitor's socket
    # on the channel layer (docs/performance.md). Now the join's trip routes, when no pass is running.
    import helpline.database

    counsellor = await open_counsellor()
    await counsellor.send({"type": "available", "on": True})
    await counsellor.nothing_but_queue_listings(0.3)
    trips: list[str] = []
    passes: list[bool] = []
    real_context, real_route = helpline.database.in_database_context, actions.route

    def counting_context(function: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(function, "__name__", ""))
        return real_context(function, *args, **kwargs)

    def counting_route(*args: Any, **kwargs: Any) -> Any:
        passes.append(kwargs.get("sweeping", True))
        return real_route(*args, **kwargs)

    monkeypatch.setattr(helpline.database, "in_database_context", counting_context)
    monkeypatch.setattr(actions, "route", counting_route)
    visitor = await open_visitor()
    queued = await visitor.join()
    assert queued["type"] == "queued"
    rekey = await counsellor.expect("rekey")
    assert rekey["chat"] == visitor.chat and rekey["vk"] == visitor.vk
    assert passes == [False], "one routing pass, without the clock's sweep"
    assert [trip for trip in trips if trip in ("join", "route", "then_route")] == ["then_route"], trips


async def test_a_join_while_a_pass_runs_leaves_the_routing_to_it(open_visitor: Any, open_counsellor: Any) -> None:
    # Passes never overlap: with one running, a join asks for the next, as any queue change does.
    counsellor = await open_counsellor()
    await counsellor.send({"type": "available", "on": True})
    await counsellor.nothing_but_queue_listings(0.3)
    work = process.work()
    release = asyncio.Event()

    async def running_pass() -> None:
        await release.wait()

    work.router = asyncio.create_task(running_pass())
    visitor = await open_visitor()
    assert (await visitor.join())["type"] == "queued"
    await counsellor.nothing_but_queue_listings(0.3)  # not offered yet: the running pass has it to do
    assert work.route_again
    release.set()
    await work.router
    work.queue_changed()  # what the running pass does next: another round, since a change came meanwhile
    rekey = await counsellor.expect("rekey")
    assert rekey["chat"] == visitor.chat


async def test_a_join_whose_routing_fails_is_still_queued_and_routed_by_a_pass_of_its_own(
        open_visitor: Any, open_counsellor: Any, monkeypatch: Any) -> None:
    # The join is done (its own transaction) before its trip routes: a failing pass must not lose its answer.
    counsellor = await open_counsellor()
    await counsellor.send({"type": "available", "on": True})
    await counsellor.nothing_but_queue_listings(0.3)
    real_route = actions.route
    failures = []

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(True)
            raise RuntimeError("a pass that breaks")
        return real_route(*args, **kwargs)

    monkeypatch.setattr(actions, "route", failing_once)
    visitor = await open_visitor()
    assert (await visitor.join())["type"] == "queued"
    rekey = await counsellor.expect("rekey")
    assert failures and rekey["chat"] == visitor.chat


async def test_a_message_for_an_idle_socket_is_passed_on_at_once_and_one_for_another_chat_not_at_all(
        open_visitor: Any, open_counsellor: Any) -> None:
    sent_now: list[dict[str, Any]] = []
    output: list[Any] = []  # the counsellor's communicator, once open

    def send_now(message: dict[str, Any]) -> None:  # as our server's reply_now: straight to the socket
        sent_now.append(message)
        output[0].output_queue.put_nowait(message)

    inbox = PausingInbox(Transport())
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor("counsellor-1", inbox=inbox, extensions={SEND_NOW_EXTENSION: send_now})
    output.append(counsellor.communicator)
    await counsellor.take(visitor)
    await counsellor.send({"type": "available", "on": False})
    await counsellor.drain()
    assert sent_now == []  # nothing relayed yet: the socket's own frames go its own way

    texts = [await visitor.send(msg(visitor.chat, seq)) for seq in range(3)]
    for text in texts:
        assert await counsellor.expect_text(text)
    assert [message["text"] for message in sent_now] == texts  # each in the visitor's turn, in order

    inbox.put_nowait({"type": "chat.relay", "chat": "not-a-chat-it-holds", "text": texts[0]})
    await counsellor.nothing_but_queue_listings()
    assert len(sent_now) == 3 and inbox.qsize() == 0


async def test_a_closed_socket_that_took_relays_at_once_is_freed_without_the_collector(open_visitor: Any) -> None:
    """The socket and its inbox hold each other while the socket takes relays at once; once its loop ends they
    must not, or every closed socket would wait for a full collection (docs/decisions/0008)."""
    inbox = PausingInbox(Transport())
    visitor = await open_visitor(inbox, {SEND_NOW_EXTENSION: lambda message: None})
    await visitor.join()
    socket = inbox.at_once and inbox.at_once["chat.relay"].__self__  # type: ignore[attr-defined]
    assert socket, "the socket took relays at once"
    alive = [weakref.ref(socket), weakref.ref(inbox)]
    del socket, inbox
    gc.collect()
    gc.disable()
    try:
        await visitor.close()
        await process_work_settled()
        visitor.communicator = None  # what the test still held of the socket
        await asyncio.sleep(0)
        assert [ref() is None for ref in alive] == [True, True]
    finally:
        gc.enable()


async def idle(inbox: PausingInbox) -> None:
    """Until the socket's loop waits on its empty inbox, as between two frames of a quiet socket."""
    for _ in range(1000):
        if not inbox.items and inbox.reader is not None and not inbox.reader.done():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the socket never became idle")


def read_from_socket(inbox: PausingInbox, frame: dict[str, Any] | str) -> str:
    """What our Daphne does with a text frame it read from the socket: puts it into the socket's inbox."""
    text = frame if isinstance(frame, str) else json.dumps(frame)
    inbox.put_nowait({"type": "websocket.receive", "text": text})
    return text


async def both_ends_served_at_once(open_visitor: Any, open_counsellor: Any) -> dict[str, Any]:
    """An active chat whose two sockets have our server's inbox and send-now, as in Daphne; what each was sent
    through send-now is listed, and reaches its communicator too."""
    ends: dict[str, Any] = {"visitor sent": [], "counsellor sent": [], "visitor inbox": PausingInbox(Transport()),
                            "counsellor inbox": PausingInbox(Transport())}

    def send_now(who: str) -> Any:
        def send(message: dict[str, Any]) -> None:
            ends[f"{who} sent"].append(message["text"])
            ends[who].communicator.output_queue.put_nowait(message)
        return send

    ends["visitor"] = await open_visitor(ends["visitor inbox"], {SEND_NOW_EXTENSION: send_now("visitor")})
    await ends["visitor"].join()
    ends["counsellor"] = await open_counsellor("counsellor-1", inbox=ends["counsellor inbox"],
                                               extensions={SEND_NOW_EXTENSION: send_now("counsellor")})
    await ends["counsellor"].take(ends["visitor"])
    await ends["counsellor"].send({"type": "available", "on": False})
    await ends["counsellor"].drain()
    await ends["visitor"].drain()
    return ends


async def test_a_message_read_from_an_idle_socket_is_relayed_in_that_very_turn_and_other_frames_in_the_sockets_own(
        open_visitor: Any, open_counsellor: Any, settings: Any) -> None:
    """ChatSocket.receive_at_once: a msg or typing frame reaches the peer's socket while the server is still in the
    read that brought it, both ways; a frame it does not relay, and a message over the rate limit, are answered
    in the socket's own turn as ever (refused by name, nothing relayed)."""
    settings.CHAT_FRAME_BURST = 7  # the visitor's join takes one
    settings.CHAT_FRAMES_PER_SECOND = 0.01
    ends = await both_ends_served_at_once(open_visitor, open_counsellor)
    visitor, counsellor = ends["visitor"], ends["counsellor"]
    await idle(ends["visitor inbox"])
    read_from_socket(ends["visitor inbox"], "nope")
    await visitor.error("bad_frame")

    relayed = []
    for seq in range(4):
        await idle(ends["visitor inbox"])
        relayed.append(read_from_socket(ends["visitor inbox"], msg(visitor.chat, seq)))
        assert ends["counsellor sent"] == relayed  # in the read's own turn: nothing awaited in between
    await idle(ends["visitor inbox"])
    typing = read_from_socket(ends["visitor inbox"], {"type": "typing", "chat": visitor.chat, "on": True})
    assert ends["counsellor sent"] == [*relayed, typing]
    await idle(ends["counsellor inbox"])
    answer = read_from_socket(ends["counsellor inbox"], msg(visitor.chat, 0))
    assert ends["visitor sent"] == [answer]
    for text in [*relayed, typing]:
        assert await counsellor.expect_text(text)
    assert await visitor.expect_text(answer)

    await idle(ends["visitor inbox"])
    read_from_socket(ends["visitor inbox"], msg(visitor.chat, 4))  # the burst is spent: its own turn refuses it
    refused = await visitor.error("rate_limited")
    assert (refused.get("chat"), refused.get("seq")) == (visitor.chat, 4), refused
    await counsellor.nothing_but_queue_listings()
    assert len(ends["counsellor sent"]) == 5


async def test_a_message_the_peers_inbox_has_no_room_for_is_refused_by_name_in_the_senders_turn_checked_once(
        open_visitor: Any, open_counsellor: Any, monkeypatch: Any) -> None:
    """Where the peer's inbox is full receive_at_once leaves the message to the socket's own turn, which refuses
    it by name (`busy`) as a full inbox always is; the frame is checked once, not again in that turn."""
    import chat.consumers

    ends = await both_ends_served_at_once(open_visitor, open_counsellor)
    visitor = ends["visitor"]
    checked: list[str] = []
    real_validate_frame = chat.consumers.validate_frame

    def counting_validate_frame(direction: str, text: str) -> Any:
        checked.append(text)
        return real_validate_frame(direction, text)

    monkeypatch.setattr(chat.consumers, "validate_frame", counting_validate_frame)
    monkeypatch.setattr(type(get_channel_layer()), "inbox_capacity", lambda layer, channel: 0)
    await idle(ends["visitor inbox"])
    text = read_from_socket(ends["visitor inbox"], msg(visitor.chat, 7))
    refused = await visitor.error("rate_limited")
    assert (refused["chat"], refused["seq"], refused["message"]) == (visitor.chat, 7, MESSAGES["busy"])
    assert checked == [text] and ends["counsellor sent"] == []


NOBODYS_CHAT = b64e(b"\x00" * 16)


@pytest.mark.parametrize("variant", ["malformed", "oversized", "unauthorised", "binary"])
async def test_a_wrong_message_read_from_an_idle_socket_is_refused_in_its_own_turn_and_relays_nothing(
        open_visitor: Any, open_counsellor: Any, variant: str) -> None:
    """What receive_at_once does not relay it leaves as it found it: the socket's own turn refuses it."""
    ends = await both_ends_served_at_once(open_visitor, open_counsellor)
    visitor = ends["visitor"]
    frame = msg(visitor.chat, 1)
    wrong, code = {
        "malformed": ({**frame, "seq": "1"}, "bad_frame"),
        "oversized": ({**frame, "ct": b64e(bytes(17 * 1024))}, "bad_frame"),
        "unauthorised": ({**frame, "chat": NOBODYS_CHAT}, "unknown_chat"),
        "binary": (None, "bad_frame"),
    }[variant]
    await idle(ends["visitor inbox"])
    if wrong is None:
        ends["visitor inbox"].put_nowait({"type": "websocket.receive", "bytes": json.dumps(frame).encode()})
    else:
        read_from_socket(ends["visitor inbox"], wrong)
    await visitor.error(code)
    await ends["counsellor"].nothing_but_queue_listings()
    assert ends["counsellor sent"] == []
