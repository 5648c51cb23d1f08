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

from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import actions
from chat.access import COUNSELLOR, VISITOR, Act, Role, SocketIdentity
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
    """A token bucket per socket: `rate` frames a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.last = burst, time.monotonic()

    def allow(self) -> bool:
        moment = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (moment - self.last) * self.rate)
        self.last = moment
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


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
        self.ticker: asyncio.Task[None] | None = None

    async def start_ticking(self) -> None:
        self.ticker = asyncio.create_task(self.tick_forever())

    async def tick_forever(self) -> None:
        """Timeouts need a clock: every open socket runs the sweep and routing now and then."""
        interval = setting("CHAT_TICK_SECONDS", 5)
        ticks = 0
        while True:
            await asyncio.sleep(interval)
            ticks += 1
            try:
                await database_sync_to_async(actions.heartbeat)(self.role, self.channel_name, actions.now())
                # Counsellor sockets sweep every tick; visitors (many more of them) every third.
                if self.role == COUNSELLOR or ticks % 3 == 0:
                    await self.deliver(actions.Outcome(queue_changed=False), sweep=True)
            except Exception:  # a failed tick (database busy) must not stop the clock; the next one retries
                logger.warning("chat sweep failed; retrying at the next tick", exc_info=True)

    async def stop_ticking(self) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
            self.ticker = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        if text_data is None:
            await self.refuse("bad_frame", "Binary frames are refused.")
            return
        frame = validate_frame(self.inbound, text_data)
        if not self.limit.allow():
            await self.rate_limited(frame)
            return
        if isinstance(frame, FrameError):
            await self.refuse(frame.code, frame.message)
            return
        await getattr(self, f"on_{frame.type}")(frame)

    async def rate_limited(self, frame: Frame | FrameError) -> None:
        await self.refuse("rate_limited")

    async def send_frame(self, frame_type: str, **fields: Any) -> None:
        await self.send(text_data=json.dumps(server_frame(self.outbound, frame_type, **fields)))

    async def refuse(self, code: str, message: str | None = None) -> None:
        """Answer a frame with an error (protocol.md §8); close with 1008 after too many wrong frames."""
        await self.send_frame("error", code=code, message=message or MESSAGES[code])
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

    async def deliver(self, outcome: actions.Outcome | str, *, sweep: bool = False) -> None:
        """Send an action's channel-layer notes; after a queue change, route and tell everyone watching."""
        if isinstance(outcome, str):
            await self.refuse(outcome)
            return
        if outcome.queue_changed or sweep:
            outcome.add(await database_sync_to_async(actions.route)(actions.now()))
        for note in outcome.notes:
            await self.send_event(note.channel, note.event)
        if outcome.queue_changed:
            await self.channel_layer.group_send(actions.QUEUE_GROUP, {"type": "queue.changed"})

    async def relay(self, chat: Any, frame: Frame) -> None:
        """Pass a msg or typing frame, unchanged, to the other party of an active chat."""
        peer = chat.counsellor_channel if self.role == VISITOR else chat.visitor_channel
        if chat.state == chat.ACTIVE and peer:
            await self.send_event(peer, {"type": "chat.relay", "text": frame.text})

    async def send_event(self, channel: str, event: dict[str, Any]) -> None:
        """Send on the channel layer; a socket whose inbox is full misses it (a gap its peer's page reports)."""
        with contextlib.suppress(ChannelFull):
            await self.channel_layer.send(channel, event)

    async def chat_relay(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


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
        await self.channel_layer.group_add(actions.QUEUE_GROUP, self.channel_name)
        await self.accept()
        await self.start_ticking()

    async def disconnect(self, code: int) -> None:
        await self.stop_ticking()
        await self.channel_layer.group_discard(actions.QUEUE_GROUP, self.channel_name)
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
        if resumed.displaced_channel:
            await self.send_event(resumed.displaced_channel, {"type": "chat.displaced"})
        await self.send_frame("queued", chat=resumed.chat, resume=resumed.resume, position=resumed.position)
        if resumed.rekey_channel:
            await self.send_event(resumed.rekey_channel, {"type": "chat.rekey", "chat": resumed.chat,
                                                                  "epoch": resumed.epoch, "vk": self.vk})
        await self.deliver(resumed.outcome)

    async def on_msg(self, frame: Frame) -> None:
        chat = await self.gate(frame, Act.SPEAK)
        if chat is not None:
            await self.relay(chat, frame)

    on_typing = on_msg

    async def on_leave(self, frame: Frame) -> None:
        outcome = await database_sync_to_async(actions.end_by_socket)(VISITOR, self.identity, frame.fields["chat"],
                                                                     actions.now())
        await self.deliver(outcome)

    # --- channel-layer events ---

    async def chat_offer(self, event: dict[str, Any]) -> None:
        """A counsellor socket was given this chat: send it this socket's key (the server keeps none)."""
        if event["chat"] == self.chat_id and self.vk:
            await self.send_event(event["counsellor"], {"type": "chat.rekey", "chat": event["chat"],
                                                                "epoch": event["epoch"], "vk": self.vk})

    async def chat_connected(self, event: dict[str, Any]) -> None:
        if event["frame"]["chat"] == self.chat_id:
            self.position = 0
            fields = {name: value for name, value in event["frame"].items() if name != "type"}
            await self.send_frame("connected", **fields)

    async def chat_queued(self, event: dict[str, Any]) -> None:
        if event["chat"] == self.chat_id:
            self.position = -1
            await self.queue_changed(event)

    async def queue_changed(self, event: dict[str, Any]) -> None:
        if not self.chat_id or self.position == 0:
            return
        position = await database_sync_to_async(actions.queue_position)(self.chat_id)
        if position and position != self.position:
            self.position = position
            await self.send_frame("queued", chat=self.chat_id, position=position)

    async def chat_ended(self, event: dict[str, Any]) -> None:
        if event["chat"] != self.chat_id:
            return
        self.chat_id, self.vk = None, None
        extra = {"feedback": actions.feedback_token()} if event.get("answered") else {}
        await self.send_frame("ended", chat=event["chat"], by=event["by"], **extra)

    async def chat_displaced(self, event: dict[str, Any]) -> None:
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
        await self.channel_layer.group_add(actions.QUEUE_GROUP, self.channel_name)
        await self.accept()
        outcome = await database_sync_to_async(actions.register_counsellor)(self.identity, actions.now())
        await self.queue_changed({})
        await self.deliver(outcome)
        await self.start_ticking()

    async def disconnect(self, code: int) -> None:
        await self.stop_ticking()
        if not hasattr(self, "identity"):
            return
        await self.channel_layer.group_discard(actions.QUEUE_GROUP, self.channel_name)
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
        await self.send_event(accepted.visitor_channel, {"type": "chat.connected", "frame": accepted.frame})
        await self.deliver(actions.Outcome(queue_changed=True))

    async def on_msg(self, frame: Frame) -> None:
        chat = await self.gate(frame, Act.SPEAK)
        if chat is not None:
            await self.relay(chat, frame)

    on_typing = on_msg

    async def on_transfer(self, frame: Frame) -> None:
        outcome = await database_sync_to_async(actions.transfer)(self.identity, frame.fields["chat"],
                                                                 frame.fields["to"], actions.now())
        if not isinstance(outcome, str):
            self.pending.pop(frame.fields["chat"], None)
        await self.deliver(outcome)

    async def on_end(self, frame: Frame) -> None:
        outcome = await database_sync_to_async(actions.end_by_socket)(
            COUNSELLOR, self.identity, frame.fields["chat"], actions.now(), frame.fields.get("wrapup"))
        await self.deliver(outcome)

    # --- channel-layer events ---

    async def chat_rekey(self, event: dict[str, Any]) -> None:
        self.pending[event["chat"]] = (event["epoch"], event["vk"])
        await self.send_frame("rekey", chat=event["chat"], epoch=event["epoch"], vk=event["vk"])

    async def chat_ended(self, event: dict[str, Any]) -> None:
        self.pending.pop(event["chat"], None)
        await self.send_frame("ended", chat=event["chat"], by=event["by"])

    async def queue_changed(self, event: dict[str, Any]) -> None:
        listing = await database_sync_to_async(actions.queue_listing)(actions.now())
        if listing != self.listing:
            self.listing = listing
            await self.send_frame("queue", chats=listing)
