"""The rules of backpressure as plain units: when a socket's inbox stops reading it, how long a frame waited,
how the rate limit counts frames that waited while it was not read, and when the process counts as overloaded
(helpline.upstream.PausingInbox, chat.limits.RateLimit, chat.limits.Overload).
A real Daphne holding back a real sender is tests/live/test_chat_backpressure.py."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

from chat.limits import RELAY_DEADLINE_SECONDS, SHED_AFTER_SECONDS, Overload, RateLimit
from helpline.upstream import PausingInbox


class ReadSwitch:
    """Stands in for the Twisted transport: records pause and resume, the only two calls the inbox makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:  # Twisted's name
        self.calls.append("pause")

    def resumeProducing(self) -> None:  # Twisted's name
        self.calls.append("resume")


def frame(number: int) -> dict[str, object]:
    return {"type": "websocket.receive", "text": str(number)}


async def test_the_inbox_stops_reading_at_its_bound_and_reads_again_once_drained() -> None:
    switch = ReadSwitch()
    inbox = PausingInbox(switch, pause_at=3, resume_at=1)
    inbox.put_nowait({"type": "websocket.connect"})
    inbox.put_nowait(frame(1))
    assert switch.calls == []
    inbox.put_nowait(frame(2))
    assert switch.calls == ["pause"]
    inbox.put_nowait(frame(3))  # already paused: the rest of one read still queues, paused once
    assert switch.calls == ["pause"] and inbox.qsize() == 4
    assert (await inbox.get())["type"] == "websocket.connect"
    assert (await inbox.get())["text"] == "1"
    assert switch.calls == ["pause"]  # two still waiting, above resume_at
    assert (await inbox.get())["text"] == "2"
    assert switch.calls == ["pause", "resume"]
    assert (await inbox.get())["text"] == "3"  # nothing lost, in order
    assert switch.calls == ["pause", "resume"]


async def test_a_disconnect_never_pauses_reading() -> None:
    switch = ReadSwitch()
    inbox = PausingInbox(switch, pause_at=1, resume_at=0)
    inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    assert switch.calls == [] and inbox.qsize() == 1


async def test_unread_seconds_add_up_the_pauses() -> None:
    switch = ReadSwitch()
    inbox = PausingInbox(switch, pause_at=1, resume_at=0)
    assert inbox.unread_seconds == 0.0
    inbox.put_nowait(frame(1))
    await asyncio.sleep(0.05)
    ongoing = inbox.unread_seconds
    assert ongoing >= 0.05  # a pause still going on counts
    await inbox.get()
    finished = inbox.unread_seconds
    assert finished >= ongoing
    await asyncio.sleep(0.05)
    assert inbox.unread_seconds == finished  # reading again: nothing more accrues


def test_the_rate_limit_refuses_past_its_burst() -> None:
    limit = RateLimit(rate=1, burst=3)
    assert [limit.allow() for _ in range(4)] == [True, True, True, False]


def test_frames_that_waited_unread_pass_the_rate_limit() -> None:
    # A sender who kept to 10 a second while the server did not read for 5 s has 50 frames waiting, more
    # than the burst of 30: they must pass, or the sender is struck (and closed) for the server's pause.
    limit = RateLimit(rate=10, burst=30)
    passed = 0
    while limit.allow(unread_seconds=5.0) and passed < 1000:  # the same pause, credited once
        passed += 1
    assert 50 <= passed <= 30 + 50  # never more than the burst on top of what the pause explains


def test_credit_for_unread_time_is_bounded_and_gone_once_caught_up() -> None:
    limit = RateLimit(rate=10, burst=30)
    passed = 0
    while limit.allow(unread_seconds=3600.0) and passed < 10_000:
        passed += 1
    assert passed == 30 + 300  # the burst, and at most 30 s of frames: never a store to flood with later
    limit = RateLimit(rate=10, burst=30)
    assert limit.allow(unread_seconds=2.0)
    limit.last -= 10  # ten quiet seconds: the bucket is full again, so nothing is waiting any more
    assert sum(limit.allow(unread_seconds=2.0) for _ in range(100)) == 30


def test_a_paused_socket_stays_below_the_backlog_where_messages_are_refused() -> None:
    # The consumer refuses messages once more than INBOX_BACKLOG_LIMIT frames wait. Reading stops at
    # UNREAD_PAUSE_AT, and one read adds at most SOCKET_READ_BYTES of frames (~435 bytes each, the
    # smallest chat message on the wire): so with backpressure working, nothing is refused for backlog.
    from django.conf import settings

    from helpline import upstream

    assert upstream.UNREAD_PAUSE_AT + upstream.SOCKET_READ_BYTES // 435 < settings.CHAT_INBOX_BACKLOG_LIMIT
    assert upstream.UNREAD_RESUME_AT < upstream.UNREAD_PAUSE_AT


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_inbox_says_how_long_each_frame_waited_for_its_turn() -> None:
    clock = Clock()
    inbox = PausingInbox(ReadSwitch(), pause_at=10, resume_at=1, clock=clock)
    inbox.put_nowait(frame(1))
    clock.now += 0.5
    inbox.put_nowait(frame(2))
    clock.now += 0.25
    assert (await inbox.get())["text"] == "1" and inbox.waited == 0.75
    assert (await inbox.get())["text"] == "2" and inbox.waited == 0.25


@contextlib.contextmanager
def inbox_over_tcp(pause_at: int) -> Iterator[tuple[PausingInbox, Clock, socket.socket, socket.socket]]:
    """An inbox on a transport with a real socket under it (the inbox asks it how many bytes TCP holds): the
    inbox, its clock, the server's end of the socket and the sender's."""
    clock = Clock()
    ours, theirs = socket.socketpair()
    with ours, theirs:

        class Transport(ReadSwitch):
            socket = ours

        yield PausingInbox(Transport(), pause_at=pause_at, resume_at=0, clock=clock), clock, ours, theirs


async def test_frames_tcp_held_while_the_socket_was_not_read_count_as_waiting_since_the_pause() -> None:
    with inbox_over_tcp(pause_at=2) as (inbox, clock, _ours, theirs):
        inbox.put_nowait(frame(1))
        inbox.put_nowait(frame(2))  # paused at 100.0
        theirs.sendall(b"x" * (len("3") + 8))  # one more frame's bytes arrive in TCP meanwhile
        clock.now += 2.0
        await inbox.get()
        await inbox.get()  # drained at 102.0: reading resumes, with one frame's bytes held in TCP
        inbox.put_nowait(frame(3))  # what the next read brings: it was sent during the pause
        inbox.put_nowait(frame(4))  # beyond what TCP held: it arrived just now
        clock.now += 0.1
        assert (await inbox.get())["text"] == "3" and abs(inbox.waited - 2.1) < 1e-9
        assert (await inbox.get())["text"] == "4" and abs(inbox.waited - 0.1) < 1e-9


async def test_a_frame_tcp_held_during_a_pause_waits_its_turn_even_when_the_socket_is_idle() -> None:
    """PausingInbox.at_once for frames read from the socket: one TCP held while the socket was paused waited, and
    goes through the socket's turn, where that wait is seen (chat.consumers.ChatSocket.too_late); a frame read
    once those bytes are taken is handled at once again."""
    with inbox_over_tcp(pause_at=1) as (inbox, clock, ours, theirs):
        handled: list[object] = []
        inbox.at_once = {"websocket.receive": lambda item: handled.append(item["text"]) is None}
        inbox.put_nowait(frame(1))  # the socket is busy (nobody waits on the inbox): queued, and paused
        theirs.sendall(b"x" * (len("2") + 8))  # one more frame's bytes arrive in TCP meanwhile
        clock.now += 2.0
        assert (await inbox.get())["text"] == "1"  # drained: reading resumes, one frame's bytes held
        reader = asyncio.ensure_future(inbox.get())
        await asyncio.sleep(0)  # idle now
        ours.recv(64)  # the server reads what TCP held ...
        inbox.put_nowait(frame(2))  # ... a frame that waited since the pause
        assert handled == [] and (await reader)["text"] == "2" and inbox.waited == 2.0
        reader = asyncio.ensure_future(inbox.get())
        await asyncio.sleep(0)
        inbox.put_nowait(frame(3))  # read now: handled at once
        assert handled == ["3"] and not reader.done()
        reader.cancel()


def test_a_frame_past_the_deadline_is_refused_and_a_longer_wait_marks_the_process_overloaded() -> None:
    clock = Clock()
    overload = Overload(hold=3.0, clock=clock)
    assert not overload.late(RELAY_DEADLINE_SECONDS) and not overload.active
    # Late enough to refuse, not yet a sign that the process is behind (a moment's pause).
    assert overload.late(RELAY_DEADLINE_SECONDS + 0.01) and not overload.active
    assert overload.late(SHED_AFTER_SECONDS) and not overload.active
    assert overload.late(SHED_AFTER_SECONDS + 0.01)
    assert overload.active and overload.seconds_left == 3.0
    clock.now += 2.0
    assert overload.active
    clock.now += 1.0
    assert not overload.active and overload.seconds_left == 0.0


async def test_a_reader_waiting_on_an_empty_inbox_gets_the_next_item() -> None:
    inbox = PausingInbox(ReadSwitch())
    reading = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not reading.done()
    inbox.put_nowait(frame(1))
    assert (await asyncio.wait_for(reading, 5))["text"] == "1"
    assert inbox.empty() and inbox.reader is None
    cancelled = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    cancelled.cancel()  # a socket closing while its loop waits: the next reader still works
    inbox.put_nowait(frame(2))
    assert (await inbox.get())["text"] == "2"


def relay(number: int) -> dict[str, object]:
    return {"type": "chat.relay", "chat": "c", "text": str(number)}


async def test_an_idle_socket_handles_what_it_asked_for_at_once_and_a_busy_one_in_its_turn() -> None:
    """PausingInbox.at_once: only while the socket's loop waits on an empty inbox, else queued in order."""
    inbox = PausingInbox(ReadSwitch())
    handled: list[object] = []

    def handle(item: dict[str, object]) -> bool:
        handled.append(item["text"])
        return True

    inbox.at_once = {"chat.relay": handle}
    inbox.put_nowait(relay(1))  # nobody waits on the inbox yet (the socket is busy): queued
    assert handled == [] and inbox.qsize() == 1
    assert (await inbox.get())["text"] == "1"

    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)  # the socket now waits on its empty inbox: idle
    inbox.put_nowait(relay(2))
    assert handled == ["2"] and inbox.qsize() == 0 and not reader.done()
    inbox.put_nowait(frame(3))  # a type it did not ask for: queued, and wakes the socket
    inbox.put_nowait(relay(4))  # something is queued before it: queued behind it, not handled ahead of it
    assert handled == ["2"] and inbox.qsize() == 2
    assert (await reader)["text"] == "3"
    assert (await inbox.get())["text"] == "4"

    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.at_once = {"chat.relay": lambda item: False}  # the handler declines: queued as ever
    inbox.put_nowait(relay(5))
    assert (await reader)["text"] == "5"
