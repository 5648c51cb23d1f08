"""The chat load shape, driven against any relay: N pairs, ~360-byte messages, one per side every 5 s.

A pair is two sockets that forward to each other. Every message carries a key; the receiving side looks up
when it was sent, so relay latency is measured end to end on one clock (everything runs on loopback).

Protocol v2 confirms every text with a receipt from the other side (docs/protocol.md §6), so each message
costs a relay two frames: the text, then the receipt back. The baseline's pairs do the same (a receipt frame of
the same size back for every message), so both relays carry the same frames for the same messages; `frames`
counts every relayed frame a client received (texts and receipts), `received` the messages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

FRAME_BYTES = 360
KEY_LENGTH = 16
LAG_PROBE_SECONDS = 0.05


@dataclass
class Stats:
    connect_ms: list[float] = field(default_factory=list)
    # Chats that started one at a time while the pairs talked (Shape.arrivals): what a new visitor waits.
    arrival_connect_ms: list[float] = field(default_factory=list)
    relay_ms: list[float] = field(default_factory=list)
    relay_at: list[float] = field(default_factory=list)  # when each of relay_ms arrived (perf_counter)
    sent: int = 0
    received: int = 0
    frames: int = 0  # relayed frames that reached a client: messages and receipts
    # How late the load generator's own event loop ran a 50 ms timer while the pairs talked: latency that is
    # the generator's (it shares the cores, and encrypts and decrypts every frame of ours), not the server's.
    loop_lag_ms: list[float] = field(default_factory=list)
    refused: int = 0  # the server said it did not deliver these (busy): not lost, the sender knows
    failed_pairs: int = 0
    errors: list[str] = field(default_factory=list)
    frame_bytes: list[int] = field(default_factory=list)
    pending: dict[str, float] = field(default_factory=dict)
    # (client, chat, seq) -> key of each message sent, so a refusal (which names chat and seq) finds its key
    sent_as: dict[tuple[int, str, int], str] = field(default_factory=dict)
    steady_at: float = 0.0  # perf_counter when the pairs started talking

    def timeline(self) -> str:
        """CSV of every relayed message: seconds since the pairs started talking, relay ms (for --samples)."""
        rows = (f"{at - self.steady_at:.3f},{ms:.2f}" for at, ms in zip(self.relay_at, self.relay_ms, strict=True))
        return "received_s,relay_ms\n" + "\n".join(rows) + "\n"

    def note_sent(self, key: str) -> None:
        self.pending[key] = time.perf_counter()
        self.sent += 1

    def note_received(self, key: str) -> None:
        started = self.pending.pop(key, None)
        if started is not None:
            moment = time.perf_counter()
            self.relay_ms.append((moment - started) * 1000)
            self.relay_at.append(moment)
            self.received += 1

    def note_refused(self, key: str | None) -> None:
        if key is not None and self.pending.pop(key, None) is not None:
            self.refused += 1

    def error(self, message: str) -> None:
        if len(self.errors) < 5:
            self.errors.append(message[:200])


def new_key() -> str:
    return secrets.token_hex(KEY_LENGTH // 2)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Pair:
    """Two connected ends; `send(side, key)` sends one frame carrying `key` from side 0 or 1."""

    async def send(self, side: int, key: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PairFactory(Protocol):
    """Makes pair `index` and records its connect time in `stats`.

    `arriving`: a new visitor while others talk (run_shape's arrivals). The counsellor's end (ours: a console
    open and available; the baseline's: the first socket) is ready before the clock starts, as it is when a
    visitor comes: a console opens once a shift, not once a chat. The time is then the visitor's alone, from
    their first request to both ends able to talk."""

    def __call__(self, index: int, stats: Stats, arriving: bool = False) -> Awaitable[Pair]: ...


@dataclass
class Shape:
    pairs: int
    seconds: float
    interval: float = 5.0  # seconds between messages, per side (each also brings a receipt back)
    connect_concurrency: int = 20  # pairs being set up at once (our chat factory sets up one at a time)
    # Our chats set up at once (--setup-concurrency); above 1 a counsellor socket may hold two chats. The
    # saturation runs keep 1: two chats at 9 frames/s each (texts and receipts) would break the per-socket
    # limit of 10/s.
    chat_setup_concurrency: int = 1
    # After the measured window, while the pairs keep talking: this many new chats, one every
    # `arrival_interval` seconds (or as soon as the last connected), each closed again once connected. The fill
    # above sets chats up back to back, so its connect times say how fast a server sets chats up; these say
    # how long one new visitor waits while the others talk. Nothing of this phase enters the other figures.
    arrivals: int = 0
    arrival_interval: float = 1.0
    drain_seconds: float = 5.0  # after the senders stop: how long nothing may arrive before the rest is lost
    drain_limit: float = 120.0  # and the longest wait for stragglers in all


async def run_shape(make_pair: PairFactory, shape: Shape, on_steady: Callable[[], None],
                    on_done: Callable[[], None]) -> tuple[Stats, float]:
    """Connect every pair (bounded concurrency), send for `seconds`, wait for stragglers; (stats, elapsed).

    Each factory records its own connect latency: from the first socket opening to both ends able to talk.
    With `shape.arrivals`, new chats then start one at a time while the pairs keep talking (`arrive`); the
    stats returned are those of the measured window, with the arrivals' connect times added.
    """
    stats = Stats()
    gate = asyncio.Semaphore(shape.connect_concurrency)

    async def connect(index: int) -> Pair | None:
        async with gate:
            try:
                pair = await asyncio.wait_for(make_pair(index, stats), timeout=120)
            except Exception as error:  # a pair that cannot connect is counted, not fatal
                stats.failed_pairs += 1
                stats.error(f"connect: {type(error).__name__}: {error}")
                return None
            return pair

    pairs = [pair for pair in await asyncio.gather(*(connect(i) for i in range(shape.pairs))) if pair]
    talking_until = time.perf_counter() + shape.seconds

    async def talk(pair: Pair, side: int) -> None:
        await asyncio.sleep(random.uniform(0, shape.interval))
        while time.perf_counter() < talking_until:
            key = new_key()
            stats.note_sent(key)
            try:
                await pair.send(side, key)
            except Exception as error:
                stats.error(f"send: {type(error).__name__}: {error}")
                return
            await asyncio.sleep(shape.interval)

    async def probe_lag() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_PROBE_SECONDS)
            stats.loop_lag_ms.append((time.perf_counter() - before - LAG_PROBE_SECONDS) * 1000)

    on_steady()
    started = stats.steady_at = time.perf_counter()
    probe = asyncio.create_task(probe_lag())
    await asyncio.gather(*(talk(pair, side) for pair in pairs for side in (0, 1)))
    probe.cancel()
    await drain(stats, shape)
    elapsed = time.perf_counter() - started
    on_done()
    measured = frozen(stats)
    if shape.arrivals:
        talking_until = time.perf_counter() + shape.arrivals * shape.arrival_interval + 5
        talkers = asyncio.gather(*(talk(pair, side) for pair in pairs for side in (0, 1)))
        measured.arrival_connect_ms = await arrive(make_pair, shape, len(pairs), measured)
        talking_until = 0.0  # the talkers stop at their next message
        await talkers
        await drain(stats, shape)
    await asyncio.gather(*(pair.close() for pair in pairs), return_exceptions=True)
    return measured, elapsed


def frozen(stats: Stats) -> Stats:
    """A copy of `stats` that later messages do not change (the readers keep noting into `stats`)."""
    copy = dataclasses.replace(stats)
    for name in ("connect_ms", "relay_ms", "relay_at", "loop_lag_ms", "frame_bytes", "errors"):
        setattr(copy, name, list(getattr(stats, name)))
    return copy


async def arrive(make_pair: PairFactory, shape: Shape, first_index: int, measured: Stats) -> list[float]:
    """Start `shape.arrivals` new chats one after another, each closed again once connected; their connect ms."""
    arrivals = Stats()
    for index in range(shape.arrivals):
        due = time.perf_counter() + shape.arrival_interval
        try:
            pair = await asyncio.wait_for(make_pair(first_index + index, arrivals, arriving=True), timeout=120)
        except Exception as error:
            measured.error(f"arrival: {type(error).__name__}: {error}")
            continue
        await pair.close()
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    return arrivals.connect_ms


async def drain(stats: Stats, shape: Shape) -> None:
    """Wait for messages still in flight until none is left or nothing arrived for `drain_seconds`.

    Under overload a server that applies backpressure holds frames back (in socket buffers) instead of
    refusing them, and delivers them after the senders stop: they count as delivered, late (their latency
    says how late), not as lost. What is still pending after a quiet `drain_seconds` is lost.
    """
    give_up = time.perf_counter() + shape.drain_limit
    heard, quiet_since = -1, time.perf_counter()
    while stats.pending and time.perf_counter() < give_up:
        moment = time.perf_counter()
        if stats.received + stats.refused != heard:
            heard, quiet_since = stats.received + stats.refused, moment
        elif moment - quiet_since > shape.drain_seconds:
            return
        await asyncio.sleep(0.05)


def padding_for(key: str, overhead: int) -> str:
    """Text that makes a frame of about FRAME_BYTES once `overhead` bytes of envelope are added."""
    return key + "|" + "x" * max(0, FRAME_BYTES - overhead - len(key) - 1)


# --- the baseline relay --------------------------------------------------------------------------------


RECEIPT_MARK = "R"  # a baseline frame starting with it is a receipt (keys are hex: never "R")


class BaselinePair(Pair):
    def __init__(self, sockets: list, readers: list[asyncio.Task[None]]) -> None:  # type: ignore[type-arg]
        self.sockets = sockets
        self.readers = readers

    async def send(self, side: int, key: str) -> None:
        frame = padding_for(key, 0)
        await self.sockets[side].send(frame)

    async def close(self) -> None:
        for socket in self.sockets:
            await socket.close()
        for reader in self.readers:
            reader.cancel()


def baseline_factory(url: str) -> PairFactory:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def make(index: int, stats: Stats, arriving: bool = False) -> Pair:
        path = f"{url}/pair/{index}-{secrets.token_hex(4)}"
        started = time.perf_counter()
        sockets = [await connect(path, compression=None, open_timeout=20, proxy=None)]
        if arriving:
            started = time.perf_counter()  # the first end waits already; time the newcomer's
        sockets.append(await connect(path, compression=None, open_timeout=20, proxy=None))
        for socket in sockets:
            assert await asyncio.wait_for(socket.recv(), 20) == "paired"
        stats.connect_ms.append((time.perf_counter() - started) * 1000)

        async def read(socket) -> None:  # type: ignore[no-untyped-def]
            try:
                async for frame in socket:
                    stats.frames += 1
                    if str(frame).startswith(RECEIPT_MARK):
                        continue
                    stats.frame_bytes.append(len(frame))
                    key = str(frame)[:KEY_LENGTH]
                    stats.note_received(key)
                    # As a v2 client does: confirm the message with a frame of its own (ours pads a receipt to
                    # the size of a short text, so it is the same size on the wire).
                    await socket.send(RECEIPT_MARK + padding_for(key, 1))
            except ConnectionClosed:
                pass

        return BaselinePair(sockets, [asyncio.create_task(read(socket)) for socket in sockets])

    return make
