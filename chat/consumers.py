"""The two chat sockets, /ws/visitor/ and /ws/counsellor/: validate, ask the gate, call an action, deliver.

Rules live in chat.queue, chat.access and chat.actions; frames in chat.schema. Channel-layer events are
named `chat.<what>` and handled by `chat_<what>` (Channels' convention). Messages are relayed as the exact
text that arrived; nothing of them is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any, ClassVar, Final

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from chat import actions
from chat.access import COUNSELLOR, VISITOR, Act, Role, SocketIdentity
from chat.process import work
from chat.protocol.crypto import b64d, load_public_key
from chat.schema import (
    COUNSELLOR_TO_SERVER,
    SERVER_TO_COUNSELLOR,
    SERVER_TO_VISITOR,
    VISITOR_TO_SERVER,
    Frame,
    FrameError,
    server_frame,
    validate_frame,
)
from helpline.accounts.access import COUNSEL, SUPERVISE, Decision, socket_decision

logger = logging.getLogger(__name__)

CLOSE_POLICY: Final = 1008  # protocol.md §8: a socket that keeps sending wrong frames
CLOSE_FORBIDDEN: Final = 4403  # counsellor socket without a verified counsellor session
CLOSE_DISPLACED: Final = 4409  # the visitor resumed this chat on another socket
WS_INTERNAL_ERROR: Final = 1011
# Frames of this socket already waiting behind the one being handled. Past this the server is not keeping
# up: messages are refused (the sender is told which) rather than relayed seconds late. See `overloaded`.
# settings.CHAT_INBOX_BACKLOG_LIMIT overrides it.
INBOX_BACKLOG_LIMIT: Final = 20
RELAYED: Final = frozenset({"msg", "typing"})
# Errors that say the sender did something wrong; `closed`, `queue_full` and `pow_required` are normal answers.
STRIKE_CODES: Final = frozenset({"bad_frame", "unknown_chat", "not_yours", "rate_limited", "resume_invalid",
                                 "bad_signature", "pow_invalid"})
MESSAGES: Final = {
    "bad_frame": "That frame is not valid.",
    "unknown_chat": "There is no such chat for you.",
    "not_yours": "This chat is open in another window.",
    "closed": "The chat is closed now. Please look at the opening hours.",
    "queue_full": "All counsellors are busy and the queue is full. Please try again in a few minutes.",
    "pow_required": "Please solve the challenge first.",
    "pow_invalid": "The challenge answer was not accepted. Please try again.",
    "rate_limited": "Too many frames; please slow down.",
    "busy": "The service is very busy: this message was not delivered. Please send it again in a moment.",
    "retry": "The service could not do that just now. Please try again in a moment.",
    "resume_invalid": "This chat cannot be resumed.",
    "bad_signature": "The handshake signature does not verify under your device's certificate.",
}


def allow_policy_close_under_daphne() -> None:
    """Let Daphne send close code 1008, which protocol.md §8 asks for.

    RFC 6455 §7.4.1 defines 1008 ("policy violation") for an endpoint to send, but Autobahn, under
    Daphne, lets an application close only with 1000 or 3000–4999 and raises otherwise (the client
    then sees 1011). For that one code we send the close frame Autobahn itself would have sent.
    tests/live/test_chat_server_endpoints.py checks it against the real server.
    """
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - another ASGI server
        return
    original = WebSocketProtocol.serverClose
    if getattr(original, "allows_policy_close", False):
        return

    def server_close(protocol: Any, code: int | None = None) -> None:
        if code == CLOSE_POLICY:
            protocol.sendCloseFrame(code=code, isReply=False)
            return
        original(protocol, code)

    server_close.allows_policy_close = True  # type: ignore[attr-defined]
    WebSocketProtocol.serverClose = server_close


allow_policy_close_under_daphne()


def setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


class RateLimit:
    """A token bucket per socket: `rate` frames a second on average, bursts up to `burst`.

    The bucket sees frames when the server handles them, not when they were sent. While the server does
    not read a socket (backpressure, helpline.serve.PausingInbox), a sender who keeps to the rate has
    frames waiting, and they arrive together when reading resumes: each second not read is credited
    `rate` frames beyond the burst, so they pass. The credit cannot let anyone past what the server
    reads, since it only accrues while the server is not reading them.
    """

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.last = burst, time.monotonic()
        self.credit, self.unread_seen = 0.0, 0.0

    def allow(self, unread_seconds: float = 0.0) -> bool:
        """One frame: may it pass? `unread_seconds`: the socket's running total of seconds not read."""
        moment = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (moment - self.last) * self.rate)
        self.last = moment
        if self.tokens >= self.burst:
            self.credit = 0.0  # a full bucket: whatever waited while unread has been handled
        if unread_seconds > self.unread_seen:
            # At most what a socket's receive buffer holds of chat frames; never a store to flood with later.
            self.credit = min(self.credit + (unread_seconds - self.unread_seen) * self.rate, self.rate * 30)
            self.unread_seen = unread_seconds
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        if self.credit >= 1:
            self.credit -= 1
            return True
        return False


class Strikes:
    """Wrong frames within a window; too many and the socket is closed."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.times: deque[float] = deque()

    def add(self) -> bool:
        """Record one; True when the socket has now had too many."""
        moment = time.monotonic()
        self.times.append(moment)
        while self.times and self.times[0] < moment - self.window:
            self.times.popleft()
        return len(self.times) >= self.limit


class ChatSocket(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels has no type stubs
    """What both sockets share: frame checks, errors, rate limit, strikes, delivering action outcomes."""

    role: ClassVar[Role]
    inbound: ClassVar[str]
    outbound: ClassVar[str]
    identity: SocketIdentity

    def setup_socket(self) -> None:
        self.limit = RateLimit(setting("CHAT_FRAMES_PER_SECOND", 10), setting("CHAT_FRAME_BURST", 30))
        self.strikes = Strikes(int(setting("CHAT_MAX_WRONG_FRAMES", 5)), setting("CHAT_WRONG_FRAME_WINDOW", 60))
        self.closing = False
        self.backlog_limit = int(setting("CHAT_INBOX_BACKLOG_LIMIT", INBOX_BACKLOG_LIMIT))
        # chat -> the peer's channel, as the gate last allowed it (see `speak`).
        self.peers: dict[str, str] = {}

    def start_ticking(self) -> None:
        """Timeouts need a clock: this process's clock (chat.process) beats for every socket it serves."""
        work().add_socket(self.role, self.channel_name)

    async def stop_ticking(self) -> None:
        await work().remove_socket(self.role, self.channel_name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Daphne gives each socket `receive = asyncio.Queue().get` (ours a helpline.serve.PausingInbox); the
        # queue's length is this socket's backlog.
        owner = getattr(receive, "__self__", None)
        self.inbox: asyncio.Queue[Any] | None = owner if isinstance(owner, asyncio.Queue) else None
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            # Daphne cancels a consumer that has not finished some seconds after its socket closed (a busy
            # process, many sockets closing at once). Leaving must still happen, or this process would beat
            # for a dead socket forever and its chats would never be handed on: it finishes in a task of
            # its own. Every step of `disconnect` may safely run twice.
            if hasattr(self, "channel_name"):
                work().forget_socket(self.role, self.channel_name)
                work().in_background(self.disconnect(WS_INTERNAL_ERROR))
            raise
        except Exception:
            # The channel layer failed under this socket (Redis restarted): Channels ends the consumer without
            # a websocket.disconnect, so `disconnect` would never run, this process would keep the dead
            # socket's heartbeat going, and a reconnecting counsellor would not get their chats back.
            if hasattr(self, "channel_name") and not getattr(self, "gone", False):
                with contextlib.suppress(Exception):  # what can be done without the layer is done first
                    await self.disconnect(WS_INTERNAL_ERROR)
            raise

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every handler.

        That call is a thread hop per frame and per relayed message (a tenth of the server's time under
        load, docs/performance.md). Every database call here goes through `database_sync_to_async`, which
        closes old connections around the call itself, so skipping it leaves nothing stale.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        """The socket closed (or died): stop its heartbeat, then tell the chat (subclasses' `socket_gone`)."""
        self.gone = True
        await self.stop_ticking()
        await self.socket_gone()

    async def socket_gone(self) -> None:
        raise NotImplementedError

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        if text_data is None:
            await self.refuse("bad_frame", "Binary frames are refused.")
            return
        frame = validate_frame(self.inbound, text_data)
        if isinstance(frame, Frame) and frame.type in RELAYED and self.overloaded():
            # Before the rate limit: a backlog drains faster than frames arrived, and a sender must not be
            # struck (and at five strikes closed) for the server having fallen behind.
            await self.not_delivered(frame)
            return
        if not self.limit.allow(getattr(self.inbox, "unread_seconds", 0.0)):
            await self.rate_limited(frame)
            return
        if isinstance(frame, FrameError):
            await self.refuse(frame.code, frame.message)
            return
        try:
            await getattr(self, f"on_{frame.type}")(frame)
        except DatabaseError:
            # The database is briefly unavailable (locked, restarting). Each action is one transaction, so
            # nothing half-done remains: the sender is told to try again, and the socket stays open.
            logger.warning("a %s frame failed on the database; the sender was asked to retry", frame.type,
                           exc_info=True)
            if frame.type == "msg":
                await self.not_delivered(frame)
            elif frame.type != "typing":
                await self.send_frame("error", code="rate_limited", message=MESSAGES["retry"])

    def overloaded(self) -> bool:
        """True when this socket's frames queue up faster than the process handles them.

        Our Daphne (helpline.serve) stops reading a socket once 8 of its frames wait, so there the backlog
        passes the limit only within one read; a server that reads without limit (plain `daphne`, another
        ASGI server) would relay later and later and hold more and more. Refusing, by name, keeps latency
        and memory bounded there too (docs/performance.md, overload).
        """
        return self.inbox is not None and self.inbox.qsize() > self.backlog_limit

    async def not_delivered(self, frame: Frame) -> None:
        """Tell the sender which message the server dropped (no strike: not their fault); typing just goes."""
        if frame.type == "msg":
            await self.send_frame("error", code="rate_limited", message=MESSAGES["busy"], chat=frame.fields["chat"],
                                  seq=frame.fields["seq"])

    async def rate_limited(self, frame: Frame | FrameError) -> None:
        if isinstance(frame, Frame) and frame.type == "msg":
            # Name the message, so the page marks it as not delivered instead of treating it as an ending.
            await self.send_frame("error", code="rate_limited", message=MESSAGES["rate_limited"],
                                  chat=frame.fields["chat"], seq=frame.fields["seq"])
            await self.strike("rate_limited")
            return
        await self.refuse("rate_limited")

    async def send_frame(self, frame_type: str, **fields: Any) -> None:
        await self.send(text_data=json.dumps(server_frame(self.outbound, frame_type, **fields)))

    async def refuse(self, code: str, message: str | None = None) -> None:
        """Answer a frame with an error (protocol.md §8); close with 1008 after too many wrong frames."""
        await self.send_frame("error", code=code, message=message or MESSAGES[code])
        await self.strike(code)

    async def strike(self, code: str) -> None:
        if code in STRIKE_CODES and self.strikes.add():
            self.closing = True
            await self.close(code=CLOSE_POLICY)

    async def gate(self, frame: Frame, act: Act) -> Any | None:
        """The chat if this socket may act on it; otherwise sends the error and returns None."""
        chat, code = await database_sync_to_async(actions.gate)(self.role, self.identity, frame.chat, act)
        if code is not None:
            await self.refuse(code)
            return None
        return chat

    async def deliver(self, outcome: actions.Outcome | str) -> None:
        """Send an action's channel-layer notes; a queue change makes this process route and broadcast."""
        if isinstance(outcome, str):
            await self.refuse(outcome)
            return
        await work().deliver(outcome)

    async def speak(self, frame: Frame) -> None:
        """Pass a msg or typing frame, unchanged, to the other party of an active chat.

        The peer's channel is remembered per chat: from the accept that connected the chat (`on_accept`,
        `chat_connected`) or else from the gate, which reads the chat from the database. It is forgotten when
        an event says the chat changed hands or state: rekey, offer, queued, ended, displaced, transfer, a
        new connected. Every such change sends one of those events to the sockets it concerns, so a
        remembered answer is the one the gate would give now. Without it every message was a database read.
        """
        chat_id = frame.chat or ""
        peer = self.peers.get(chat_id)
        if peer is None:
            chat = await self.gate(frame, Act.SPEAK)
            if chat is None:
                return
            peer = chat.counsellor_channel if self.role == VISITOR else chat.visitor_channel
            if chat.state != chat.ACTIVE or not peer:
                return  # nobody to pass it to yet (queued, or the other side is away): dropped, as before
            self.peers[chat_id] = peer
        if not await self.send_event(peer, {"type": "chat.relay", "chat": chat_id, "text": frame.text}):
            await self.not_delivered(frame)  # the peer's inbox is full: it is not keeping up either

    def forget_peer(self, chat_id: str) -> None:
        self.peers.pop(chat_id, None)

    def remember_peer(self, chat_id: str, peer: str) -> None:
        """Remember the peer an accept just connected this socket to (an empty one: ask the gate next time)."""
        if peer:
            self.peers[chat_id] = peer
        else:
            self.forget_peer(chat_id)

    async def send_event(self, channel: str, event: dict[str, Any]) -> bool:
        return await work().send(channel, event)

    async def chat_relay(self, event: dict[str, Any]) -> None:
        # A sender's remembered peer can only be stale for events in flight; a socket that is no longer a
        # party to the chat does not pass them on.
        if self.holds(event["chat"]):
            await self.send(text_data=event["text"])

    def holds(self, chat_id: str) -> bool:
        raise NotImplementedError


class VisitorConsumer(ChatSocket):
    """/ws/visitor/: anonymous; one chat per socket, identified by the socket's own channel."""

    role = VISITOR
    inbound = VISITOR_TO_SERVER
    outbound = SERVER_TO_VISITOR

    async def connect(self) -> None:
        self.setup_socket()
        self.identity = SocketIdentity(channel=self.channel_name)
        self.chat_id: str | None = None
        self.vk: str | None = None
        self.position = -1
        await self.accept()
        self.start_ticking()

    async def socket_gone(self) -> None:
        if self.chat_id:
            await self.deliver(await database_sync_to_async(actions.visitor_left)(self.chat_id, self.channel_name,
                                                                                   actions.now()))

    async def rate_limited(self, frame: Frame | FrameError) -> None:
        if isinstance(frame, Frame) and frame.type == "join":
            await database_sync_to_async(actions.refuse_rate_limited_join)()
        await self.refuse("rate_limited")

    def key_is_a_point(self, vk: str) -> bool:
        try:
            load_public_key(b64d(vk))
        except ValueError:
            return False
        return True

    async def on_join(self, frame: Frame) -> None:
        if self.chat_id or not self.key_is_a_point(frame.fields["vk"]):
            await self.refuse("bad_frame", "This socket already has a chat." if self.chat_id else None)
            return
        joined = await database_sync_to_async(actions.join)(frame.fields["lang"], self.channel_name,
                                                            frame.fields.get("pow"), actions.now())
        if isinstance(joined, str):
            await self.refuse(joined)
            return
        self.chat_id, self.vk, self.position = joined.chat, frame.fields["vk"], joined.position
        await work().join_queue_group(self.channel_name)
        await self.send_frame("queued", chat=joined.chat, resume=joined.resume, position=joined.position)
        await self.deliver(actions.Outcome(queue_changed=True))

    async def on_resume(self, frame: Frame) -> None:
        if self.chat_id or not self.key_is_a_point(frame.fields["vk"]):
            await self.refuse("bad_frame", "This socket already has a chat." if self.chat_id else None)
            return
        resumed = await database_sync_to_async(actions.resume)(frame.fields["resume"], self.channel_name,
                                                               actions.now())
        if resumed is None:
            await self.refuse("resume_invalid")
            return
        self.chat_id, self.vk, self.position = resumed.chat, frame.fields["vk"], resumed.position
        if resumed.position:
            await work().join_queue_group(self.channel_name)
        if resumed.displaced_channel:
            await self.send_event(resumed.displaced_channel, {"type": "chat.displaced"})
        await self.send_frame("queued", chat=resumed.chat, resume=resumed.resume, position=resumed.position)
        if resumed.rekey_channel:
            await self.send_event(resumed.rekey_channel, {"type": "chat.rekey", "chat": resumed.chat,
                                                                  "epoch": resumed.epoch, "vk": self.vk})
        await self.deliver(resumed.outcome)

    async def on_msg(self, frame: Frame) -> None:
        await self.speak(frame)

    on_typing = on_msg

    def holds(self, chat_id: str) -> bool:
        return chat_id == self.chat_id

    async def on_leave(self, frame: Frame) -> None:
        outcome = await database_sync_to_async(actions.end_by_socket)(VISITOR, self.identity, frame.fields["chat"],
                                                                     actions.now())
        await self.deliver(outcome)

    # --- channel-layer events ---

    async def chat_offer(self, event: dict[str, Any]) -> None:
        """A counsellor socket was given this chat: send it this socket's key (the server keeps none)."""
        self.forget_peer(event["chat"])  # a counsellor socket is about to take the chat
        if event["chat"] == self.chat_id and self.vk:
            await self.send_event(event["counsellor"], {"type": "chat.rekey", "chat": event["chat"],
                                                                "epoch": event["epoch"], "vk": self.vk})

    async def chat_connected(self, event: dict[str, Any]) -> None:
        if event["frame"]["chat"] == self.chat_id:
            self.position = 0
            self.remember_peer(event["frame"]["chat"], event.get("counsellor", ""))  # the accepting socket (on_accept)
            await work().leave_queue_group(self.channel_name)
            fields = {name: value for name, value in event["frame"].items() if name != "type"}
            await self.send_frame("connected", **fields)

    async def chat_queued(self, event: dict[str, Any]) -> None:
        self.forget_peer(event["chat"])
        if event["chat"] == self.chat_id:
            self.position = -1
            await work().join_queue_group(self.channel_name)
            await self.queue_changed({})

    async def queue_changed(self, event: dict[str, Any]) -> None:
        """A new queue listing (chat.process sends it with the event); without one, read it."""
        if not self.chat_id or self.position == 0:
            return
        if "chats" in event:
            order = [entry["chat"] for entry in event["chats"]]
            position = order.index(self.chat_id) + 1 if self.chat_id in order else 0
        else:
            position = await database_sync_to_async(actions.queue_position)(self.chat_id)
        if position and position != self.position:
            self.position = position
            await self.send_frame("queued", chat=self.chat_id, position=position)

    async def chat_ended(self, event: dict[str, Any]) -> None:
        self.forget_peer(event["chat"])
        if event["chat"] != self.chat_id:
            return
        self.chat_id, self.vk = None, None
        await work().leave_queue_group(self.channel_name)
        extra = {"feedback": actions.feedback_token()} if event.get("answered") else {}
        await self.send_frame("ended", chat=event["chat"], by=event["by"], **extra)

    async def chat_displaced(self, event: dict[str, Any]) -> None:
        self.peers.clear()
        self.chat_id, self.vk = None, None
        self.closing = True
        await self.close(code=CLOSE_DISPLACED)


class CounsellorConsumer(ChatSocket):
    """/ws/counsellor/: staff with a verified second factor and the counsel capability; one socket per tab."""

    role = COUNSELLOR
    inbound = COUNSELLOR_TO_SERVER
    outbound = SERVER_TO_COUNSELLOR

    async def connect(self) -> None:
        self.setup_socket()
        decision = await database_sync_to_async(socket_decision)(self.scope, COUNSEL)
        if decision is not Decision.ALLOWED:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        user = self.scope["user"]
        may_supervise = await database_sync_to_async(socket_decision)(self.scope, SUPERVISE) is Decision.ALLOWED
        self.identity = SocketIdentity(channel=self.channel_name, user_id=user.pk, may_supervise=may_supervise)
        # chat -> (epoch, vk) of the offer or rekey this socket must answer; memory only.
        self.pending: dict[str, tuple[int, str]] = {}
        self.listing: list[dict[str, object]] | None = None
        # Chats this socket answered (accept) and still holds; memory only.
        self.accepted: set[str] = set()
        await work().join_queue_group(self.channel_name)
        await self.accept()
        outcome = await database_sync_to_async(actions.register_counsellor)(self.identity, actions.now())
        await self.queue_changed({})
        await self.deliver(outcome)
        self.start_ticking()

    async def socket_gone(self) -> None:
        if not hasattr(self, "identity"):
            return
        await self.deliver(await database_sync_to_async(actions.counsellor_left)(self.identity, actions.now()))

    async def on_available(self, frame: Frame) -> None:
        await self.deliver(await database_sync_to_async(actions.set_available)(self.identity, frame.fields["on"],
                                                                              actions.now()))

    async def on_accept(self, frame: Frame) -> None:
        chat_id = frame.fields["chat"]
        pending = self.pending.get(chat_id)
        vk = pending[1] if pending and pending[0] == frame.fields["epoch"] else None
        accepted = await database_sync_to_async(actions.accept)(self.identity, frame.fields, vk, actions.now())
        if isinstance(accepted, str):
            await self.refuse(accepted)
            return
        self.pending.pop(chat_id, None)
        self.accepted.add(chat_id)
        # The accept just made the chat active between this socket and the visitor's: what the gate would
        # answer for either side's first message. Both sides remember it now, so even the first message of a
        # chat needs no database read (at 2,000 chats those first reads queued up behind each other for
        # seconds, docs/performance.md). Any later change reaches both sockets as an event that forgets it.
        self.remember_peer(chat_id, accepted.visitor_channel)
        if accepted.visitor_channel:  # empty: the visitor's socket dropped meanwhile; a resume rekeys
            await self.send_event(accepted.visitor_channel, {"type": "chat.connected", "frame": accepted.frame,
                                                             "counsellor": self.channel_name})
        await self.deliver(actions.Outcome(queue_changed=True))

    async def on_msg(self, frame: Frame) -> None:
        await self.speak(frame)

    on_typing = on_msg

    def holds(self, chat_id: str) -> bool:
        return chat_id in self.accepted

    async def on_transfer(self, frame: Frame) -> None:
        outcome = await database_sync_to_async(actions.transfer)(self.identity, frame.fields["chat"],
                                                                 frame.fields["to"], actions.now())
        if not isinstance(outcome, str):
            self.pending.pop(frame.fields["chat"], None)
            self.accepted.discard(frame.fields["chat"])
            self.forget_peer(frame.fields["chat"])
        await self.deliver(outcome)

    async def on_end(self, frame: Frame) -> None:
        outcome = await database_sync_to_async(actions.end_by_socket)(
            COUNSELLOR, self.identity, frame.fields["chat"], actions.now(), frame.fields.get("wrapup"))
        await self.deliver(outcome)

    # --- channel-layer events ---

    async def chat_rekey(self, event: dict[str, Any]) -> None:
        self.pending[event["chat"]] = (event["epoch"], event["vk"])
        self.forget_peer(event["chat"])  # the visitor is on a new socket, or a new counsellor socket answers
        await self.send_frame("rekey", chat=event["chat"], epoch=event["epoch"], vk=event["vk"])

    async def chat_ended(self, event: dict[str, Any]) -> None:
        self.pending.pop(event["chat"], None)
        self.accepted.discard(event["chat"])
        self.forget_peer(event["chat"])
        await self.send_frame("ended", chat=event["chat"], by=event["by"], **actions.wrapup_fields(event))

    async def queue_changed(self, event: dict[str, Any]) -> None:
        """A new queue listing (chat.process sends it with the event); without one, read it."""
        listing = event["chats"] if "chats" in event else \
            await database_sync_to_async(actions.queue_listing)(actions.now())
        if listing == self.listing:
            return
        self.listing = listing
        if isinstance(event.get("text"), str):
            await self.send(text_data=event["text"])  # checked and serialised once for every socket
        else:
            await self.send_frame("queue", chats=listing)
