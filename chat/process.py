"""What one server process does once for all its chat sockets, rather than once per socket.

Three jobs, each run by at most one task per event loop (one Daphne process has one loop); all three shed new
work while the process is overloaded (chat.limits.Overload: a relayed frame waited past its deadline):

- **Clock.** Every CHAT_TICK_SECONDS: one heartbeat for every socket of this process (two UPDATEs, not one
  per socket), one sweep, one routing pass. Sweeps need a clock; with a clock per socket the work grew with
  the number of open sockets even when nothing happened (docs/performance.md).
- **Routing.** A queue change (join, accept, end, transfer…) asks for a routing pass. Passes never overlap:
  changes that arrive while one runs are handled by the next, so a burst of joins costs a few passes rather
  than one each, and SQLite sees one writer from routing at a time. While the process is overloaded no
  waiting chat is offered (the clock still sweeps): conversations in progress keep the process, new ones
  wait in the queue at their true place, and routing resumes once the overload has passed.
- **Queue broadcast.** After routing, the queue listing is read once and sent to the queue group (counsellor
  sockets, and visitor sockets while they wait) in the event, so no socket queries the database for it.
  Broadcasts are at most one per QUEUE_BROADCAST_GAP seconds; the last change is always sent. Where this
  process is the only one (the embedded layer), a listing every member already has is not sent at all:
  most routing passes (a visitor offered at once, an accept) leave the waiting list as it was, and each
  broadcast woke every open console and waiting visitor to find that out (`broadcast_needed`).

The database stays the only shared state: in the scaled mode each process runs these for its own sockets,
and routing's conditional updates keep two processes from offering the same chat.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings

from chat import actions, delivery
from chat.access import VISITOR
from chat.limits import Overload
from chat.outcome import Outcome
from chat.schema import SERVER_TO_COUNSELLOR, server_frame
from helpline.database import on_database

logger = logging.getLogger(__name__)

QUEUE_BROADCAST_GAP: Final = 0.25
# Channels' in-memory layer forgets group members after `group_expiry` (a day by default; channels-redis's
# core layer, an hour): a console open that long would stop hearing about new chats. Members are added
# again well before that. The scaled mode's Pub/Sub layer never forgets them; adding again costs nothing.
GROUP_REFRESH_SECONDS: Final = 600


@functools.cache  # asked on every layer call (every relayed message): the answer never changes
def transient_layer_errors() -> tuple[type[BaseException], ...]:
    """Errors of a channel-layer call that a second try can cure.

    After Redis restarts, each connection in channels-redis's pool fails once ("Connection closed by
    server") and then reconnects: without a retry, the rekey of a resuming visitor, or a reconnecting
    counsellor's handshake, was lost to that one failure (tests/scaled, Redis restart).
    """
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - the embedded default does not need redis
        return tuple(errors)
    return (*errors, RedisConnectionError, RedisTimeoutError)


LAYER_ATTEMPTS: Final = 3
LAYER_RETRY_PAUSE: Final = 0.2


async def on_layer(operation: Callable[[], Awaitable[Any]]) -> Any:
    """Run a channel-layer call, trying again (a few times, briefly) on a connection error."""
    for attempt in range(LAYER_ATTEMPTS):
        try:
            return await operation()
        except transient_layer_errors():
            if attempt == LAYER_ATTEMPTS - 1:
                raise
            await asyncio.sleep(LAYER_RETRY_PAUSE * (attempt + 1))
    return None


class ProcessWork:
    """The sockets of this process and the shared tasks that serve them."""

    def __init__(self) -> None:
        self.visitors: set[str] = set()
        self.counsellors: set[str] = set()
        self.queue_members: set[str] = set()
        self.clock: asyncio.Task[None] | None = None
        self.router: asyncio.Task[None] | None = None
        self.route_again = False
        self.broadcast_task: asyncio.Task[None] | None = None
        self.last_broadcast = 0.0
        # The listing this process last sent to the whole queue group, and whether a socket joined the group
        # since (it read its own listing, which may be newer): see broadcast_needed.
        self.listed: list[dict[str, object]] | None = None
        self.joined_since_listed = True
        self.last_group_refresh = time.monotonic()
        self.background: set[asyncio.Task[None]] = set()
        self.overload = Overload()
        self.routing_held: asyncio.Task[None] | None = None

    @property
    def layer(self) -> Any:
        return get_channel_layer()

    # --- sockets come and go ---

    def add_socket(self, role: str, channel: str) -> None:
        (self.visitors if role == VISITOR else self.counsellors).add(channel)
        if self.clock is None or self.clock.done():
            self.clock = asyncio.create_task(self.tick_forever())

    def forget_socket(self, role: str, channel: str) -> None:
        """Stop beating for a socket (at once, without waiting for anything)."""
        (self.visitors if role == VISITOR else self.counsellors).discard(channel)
        if not self.visitors and not self.counsellors and self.clock is not None:
            self.clock.cancel()
            self.clock = None

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in a task of its own, kept referenced until it ends; failures are logged."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background_done)

    def background_done(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("background chat work failed", exc_info=task.exception())

    async def remove_socket(self, role: str, channel: str) -> None:
        """Forget a socket; never raises, since it also runs when the channel layer itself has failed."""
        self.forget_socket(role, channel)
        try:
            await self.leave_queue_group(channel)
        except Exception:
            logger.warning("could not leave the queue group; the layer forgets members after group_expiry",
                           exc_info=True)

    async def join_queue_group(self, channel: str) -> None:
        if channel not in self.queue_members:
            self.queue_members.add(channel)
            self.joined_since_listed = True
            await on_layer(lambda: self.layer.group_add(actions.QUEUE_GROUP, channel))

    async def leave_queue_group(self, channel: str) -> None:
        if channel in self.queue_members:
            self.queue_members.discard(channel)  # first: a failed discard below must not keep it refreshed
            await on_layer(lambda: self.layer.group_discard(actions.QUEUE_GROUP, channel))

    # --- delivering what actions decided ---

    async def send(self, channel: str, event: dict[str, Any]) -> bool:
        """Send on the channel layer; False if the socket's inbox was full (it then misses this event)."""
        try:
            await on_layer(lambda: self.layer.send(channel, event))
        except ChannelFull:
            logger.info("a socket's inbox was full; one event was dropped")
            return False
        return True

    @property
    def routing(self) -> bool:
        """A routing pass is running (or about to): queue changes meanwhile wait for its next round."""
        return self.router is not None and not self.router.done()

    def queue_changed(self) -> None:
        self.route_again = True
        if not self.routing:
            self.router = asyncio.create_task(self.route_until_settled())

    async def route_until_settled(self) -> None:
        while self.route_again:
            self.route_again = False
            if self.overload.active:
                self.route_after_overload()
                self.broadcast_queue()  # waiting visitors still learn their place
                continue
            try:
                outcome = await on_database(actions.route, actions.now(), sweeping=False)
            except Exception:  # the database was busy: the clock's next pass routes again
                logger.warning("routing failed; the next tick retries", exc_info=True)
                outcome = Outcome()
            outcome.queue_changed = False  # this pass is the routing a queue change asks for
            await delivery.deliver(outcome)
            self.broadcast_queue()

    async def act_then_route(self, action: Callable[..., Outcome], *args: Any) -> tuple[Outcome, bool]:
        """Run `action(*args)` on the database and, when no routing pass is running, the pass its queue change
        asks for in the same trip (`then_route`); (outcome, whether it routed). Otherwise the action alone,
        and its queue change asks for a pass as any other does (`deliver`)."""
        if self.overload.active or self.routing:
            return await on_database(action, *args), False
        return await on_database(then_route, action, *args)

    def route_after_overload(self) -> None:
        """Ask for a routing pass once the overload has passed (a later late frame makes it wait longer)."""
        if self.routing_held is not None and not self.routing_held.done():
            return

        async def wait_then_route() -> None:
            while self.overload.active:
                await asyncio.sleep(min(self.overload.seconds_left, 0.5) + 0.01)
            self.queue_changed()

        self.routing_held = asyncio.create_task(wait_then_route())

    def broadcast_queue(self) -> None:
        """Send the queue listing soon: now if the last broadcast is old enough, else once the gap has passed."""
        if self.broadcast_task is not None and not self.broadcast_task.done():
            return
        self.broadcast_task = asyncio.create_task(self.broadcast_after_gap())

    async def broadcast_after_gap(self) -> None:
        wait = self.last_broadcast + QUEUE_BROADCAST_GAP - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.last_broadcast = time.monotonic()
        try:
            listing = await on_database(actions.queue_listing, actions.now())
            if not self.broadcast_needed(listing):
                return
            # The counsellors' frame is checked and serialised once here, not once per socket: with many
            # consoles open that per-socket work was most of a broadcast's cost (docs/performance.md).
            text = json.dumps(server_frame(SERVER_TO_COUNSELLOR, "queue", chats=listing))
            event = {"type": "queue.changed", "chats": listing, "text": text}
            self.listed, self.joined_since_listed = None, False  # unknown until the send has gone out
            await on_layer(lambda: self.layer.group_send(actions.QUEUE_GROUP, event))
            self.listed = listing
        except Exception:
            logger.warning("queue broadcast failed; the next change or tick sends it", exc_info=True)

    def broadcast_needed(self, listing: list[dict[str, object]]) -> bool:
        """False only when every member of the queue group has this very listing already: this process's
        layer reaches every member (one process), its last broadcast went out with this listing, and no
        socket joined the group since. Any doubt sends it; each socket still skips a listing it has."""
        return not (getattr(self.layer, "delivers_every_message", False) and not self.joined_since_listed
                    and listing == self.listed)

    # --- the clock ---

    async def tick_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.CHAT_TICK_SECONDS)
            await self.tick()

    async def tick(self) -> None:
        """Heartbeat, sweep and route once; a failed tick (database busy) must not stop the clock."""
        try:
            moment = actions.now()
            await on_database(actions.heartbeat_many, sorted(self.visitors), sorted(self.counsellors),
                                                                 moment)
            # Overloaded: time's sweeps only; the offers wait for route_after_overload.
            outcome = await on_database(actions.sweep if self.overload.active else actions.route, moment)
            changed, outcome.queue_changed = outcome.queue_changed, False  # this pass routed already
            await delivery.deliver(outcome)
            if changed:
                self.broadcast_queue()
                if self.overload.active:
                    self.route_after_overload()
            if time.monotonic() - self.last_group_refresh > GROUP_REFRESH_SECONDS:
                self.last_group_refresh = time.monotonic()
                for channel in sorted(self.queue_members):
                    await on_layer(functools.partial(self.layer.group_add, actions.QUEUE_GROUP, channel))
        except Exception:
            logger.warning("chat sweep failed; retrying at the next tick", exc_info=True)


def then_route(action: Callable[..., Outcome], *args: Any) -> tuple[Outcome, bool]:
    """On the database thread: `action(*args)` (its last argument the moment), then, if it changed the queue, a
    routing pass in a transaction of its own; (both outcomes, in that order; whether it routed).

    A visitor who joins waits for the pass that offers their chat: as a trip of its own it waited its turn on
    the event loop twice more, and its offer went through the visitor's socket on the channel layer (at
    2,000 talking chats and half a core, each turn is tens of milliseconds). Here the offer is the joining
    socket's own event. A pass that fails (the database busy, or anything else) leaves the queue change asking
    for one as usual.
    """
    outcome = action(*args)
    if not outcome.queue_changed:
        return outcome, False
    try:
        routed = actions.route(args[-1], sweeping=False)
    except Exception:  # the action is done (its own transaction): its outcome must still reach its sockets
        logger.warning("routing after a queue change failed; a pass of its own retries", exc_info=True)
        return outcome, False
    outcome.add(routed)
    outcome.queue_changed = False  # this pass is the routing the change asks for
    return outcome, True


_work: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProcessWork] = weakref.WeakKeyDictionary()
# The loop asked about last and its ProcessWork: a server has one loop, and asks for every frame.
_last: tuple[weakref.ref[asyncio.AbstractEventLoop], ProcessWork] | None = None


def work() -> ProcessWork:
    """This event loop's ProcessWork (tests run many loops in one process; a server runs one)."""
    global _last
    loop = asyncio.get_running_loop()
    if _last is not None and _last[0]() is loop:
        return _last[1]
    if loop not in _work:
        _work[loop] = ProcessWork()
    _last = (weakref.ref(loop), _work[loop])
    return _last[1]
