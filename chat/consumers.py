"""The two chat sockets, /ws/visitor/ and /ws/counsellor/: check each frame, call its action, deliver the outcome.

A frame's path: `receive` checks it against chat.schema and the per-socket limits (chat.limits), then
`on_<type>` calls one action of chat.actions, which checks access (chat.access.access_chat) and returns an
Outcome, or raises ChatRefused; chat.delivery sends the outcome's events. Events are named `chat.<what>` and
handled by `chat_<what>` (Channels' convention); the acting socket hears its own too. What a socket keeps in
memory (its chat, the peer it relays to, the offers it may answer) changes only in those event handlers.
Messages are relayed as the exact text that arrived; nothing of them is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar, Final

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from chat import actions
from chat.access import COUNSELLOR, VISITOR, ChatRefused, Role, SocketIdentity
from chat.delivery import deliver
from chat.limits import RateLimit, Strikes
from chat.outcome import Event, Outcome
from chat.process import work
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
from helpline.accounts.access import COUNSEL, SUPERVISE, Decision, socket_staff, staff_decision
from helpline.database import on_database
from helpline.upstream import (
    CLOSE_POLICY,
    DispatchWithoutConnectionCleanup,
    OneInboxConsumer,
    PausingInbox,
    socket_inbox,
    socket_sender_now,
    unread_seconds,
    waited_seconds,
)

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN: Final = 4403  # counsellor socket without a verified counsellor session
CLOSE_DISPLACED: Final = 4409  # the visitor resumed this chat on another socket
CLOSE_TRY_AGAIN: Final = 1013  # RFC 6455 "try again later": the database failed on a resume
WS_INTERNAL_ERROR: Final = 1011
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
    "undelivered": "Nobody can receive this message right now; send it again once the chat is connected.",
}


def busy_refusal(frame: Frame) -> dict[str, Any]:
    """The error that tells a sender which of its messages the server did not pass on (docs/protocol.md)."""
    return {"code": "rate_limited", "message": MESSAGES["busy"], "chat": frame.fields["chat"],
            "seq": frame.fields["seq"]}


def relay_event(chat_id: str, text: str) -> dict[str, Any]:
    """What a socket hears when its peer's msg or typing frame is relayed to it (`chat_relay`)."""
    return {"type": "chat.relay", "chat": chat_id, "text": text}


class ChatSocket(OneInboxConsumer, DispatchWithoutConnectionCleanup, AsyncWebsocketConsumer):  # type: ignore[misc]
    """What both sockets share: frame checks, limits, errors, relaying, and running actions."""

    role: ClassVar[Role]
    inbound: ClassVar[str]
    outbound: ClassVar[str]
    identity: SocketIdentity
    send_now: Callable[[dict[str, Any]], None] | None = None  # the server's send as a plain function, if any
    # The frame `receive_at_once` checked and left to the socket's turn: `receive` takes it instead of checking
    # the same text again (a message to a peer in another process goes that way, scaled mode).
    checked: Frame | None = None

    def setup_socket(self) -> None:
        self.inbox = socket_inbox(self.scope)
        self.limit = RateLimit(settings.CHAT_FRAMES_PER_SECOND, settings.CHAT_FRAME_BURST)
        self.strikes = Strikes(settings.CHAT_MAX_WRONG_FRAMES, settings.CHAT_WRONG_FRAME_WINDOW)
        self.closing = False
        # chat -> the peer's channel, as the gate last allowed it (see `relay`).
        self.peers: dict[str, str] = {}

    # --- life of the socket ---

    def start_ticking(self) -> None:
        """Timeouts need a clock: this process's clock (chat.process) beats for every socket it serves."""
        work().add_socket(self.role, self.channel_name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
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

    async def disconnect(self, code: int) -> None:
        """The socket closed (or died): stop its heartbeat, then tell the chat (`socket_gone`)."""
        self.gone = True
        await work().remove_socket(self.role, self.channel_name)
        await self.socket_gone()

    async def socket_gone(self) -> None:
        raise NotImplementedError

    # --- frames in ---

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        if text_data is None:
            await self.refuse(ChatRefused("bad_frame", "Binary frames are refused."))
            return
        frame = self.checked_frame(text_data)
        if isinstance(frame, Frame) and frame.type in RELAYED and (self.overloaded() or self.too_late()):
            # Before the rate limit: a backlog drains faster than frames arrived, and a sender must not be
            # struck (and at five strikes closed) for the server having fallen behind.
            await self.not_delivered(frame)
            return
        if not self.limit.allow(unread_seconds(self.inbox)):
            await self.rate_limited(frame)
            return
        if isinstance(frame, FrameError):
            await self.refuse(ChatRefused(frame.code, frame.message))
            return
        try:
            await getattr(self, f"on_{frame.type}")(frame)
        except ChatRefused as refused:
            await self.refuse(refused)
        except DatabaseError:
            # The database is briefly unavailable (locked, restarting). Each action is one transaction, so
            # nothing half-done remains: the sender is told to try again, and the socket stays open.
            logger.warning("a %s frame failed on the database; the sender was asked to retry", frame.type,
                           exc_info=True)
            if frame.type == "msg":
                await self.not_delivered(frame)
            elif frame.type != "typing":
                await self.send_frame("error", code="rate_limited", message=MESSAGES["retry"])

    def checked_frame(self, text: str) -> Frame | FrameError:
        """The frame `text` is (validate_frame), or the one `receive_at_once` made of this very text."""
        checked, self.checked = self.checked, None
        return checked if checked is not None and checked.text is text else validate_frame(self.inbound, text)

    def overloaded(self) -> bool:
        """True when this socket's frames queue up faster than the process handles them.

        Our Daphne (helpline.upstream.HelplineServer) stops reading a socket once 8 of its frames wait, so
        there the backlog passes the limit only within one read; a server that reads without limit (plain
        `daphne`, another ASGI server) would relay later and later and hold more and more. Refusing, by
        name, keeps latency and memory bounded there too (docs/performance.md, overload).
        """
        return self.inbox is not None and self.inbox.qsize() > settings.CHAT_INBOX_BACKLOG_LIMIT

    def too_late(self) -> bool:
        """True when this frame waited past the relay deadline for its turn: the process is behind.

        Delivered now it would arrive late and hold up the messages behind it; refused by name, its sender
        sends it again in a moment. It also tells the process to shed new work for a while (chat.process).
        """
        return work().overload.late(waited_seconds(self.inbox))

    async def act(self, action: Callable[..., Outcome], *args: Any, route: bool = False) -> None:
        """Run one action on the database with `args` and the moment (every action's last parameter), then
        deliver its outcome; a ChatRefused goes back to `receive`, which answers the frame with it.

        `route`: what the sender waits for next is a routing pass (a join or a resume waits for its offer):
        it runs in the same trip to the database when it can (chat.process.then_route)."""
        if not route:
            await deliver(await on_database(action, *args, actions.now()), self)
            return
        outcome, routed = await work().act_then_route(action, *args, actions.now())
        await deliver(outcome, self)
        if routed:
            work().broadcast_queue()  # as after any pass: the waiting list may have changed

    # --- frames out ---

    async def send_frame(self, frame_type: str, **fields: Any) -> None:
        await self.send(text_data=json.dumps(server_frame(self.outbound, frame_type, **fields)))

    async def refuse(self, refused: ChatRefused) -> None:
        """Answer a frame with an error (docs/protocol.md, errors); close with 1008 after too many wrong ones."""
        named = {"chat": refused.chat, "seq": refused.seq} if refused.seq is not None else {}
        await self.send_frame("error", code=refused.code, message=refused.message or MESSAGES[refused.code], **named)
        await self.strike(refused.code)

    async def strike(self, code: str) -> None:
        if code in STRIKE_CODES and self.strikes.add():
            self.closing = True
            await self.close(code=CLOSE_POLICY)

    async def not_delivered(self, frame: Frame) -> None:
        """Tell the sender which message the server dropped (no strike: not their fault); typing just goes."""
        if frame.type == "msg":
            await self.send_frame("error", **busy_refusal(frame))

    async def rate_limited(self, frame: Frame | FrameError) -> None:
        if isinstance(frame, Frame) and frame.type == "typing":
            # Ephemeral, so it just goes, unanswered: the visitor's page takes an unnamed `rate_limited` for the
            # end of the chat. Still a strike, so a flood of them closes the socket like any other.
            await self.strike("rate_limited")
            return
        if isinstance(frame, Frame) and frame.type == "msg":
            # Name the message, so the page marks it as not delivered instead of treating it as an ending.
            await self.refuse(ChatRefused("rate_limited", chat=frame.fields["chat"], seq=frame.fields["seq"]))
            return
        await self.refuse(ChatRefused("rate_limited"))

    # --- relaying msg and typing ---

    async def relay(self, frame: Frame) -> None:
        """Pass a msg or typing frame, unchanged, to the other party of an active chat.

        The peer's channel is remembered per chat: from the accept that connected the chat (`chat_accepted`,
        `chat_connected`) or else from `actions.relay_peer`, which reads the chat from the database through
        the gate. It is forgotten when an event says the chat changed hands or state: rekey, offer, queued,
        ended, displaced, handed over, a new connected. Every such change sends one of those events to the
        sockets it concerns, so a remembered answer is the one the gate would give now. Without it every
        message was a database read.
        """
        chat_id = frame.chat or ""
        peer = self.peers.get(chat_id)
        if peer is None:
            peer = await on_database(actions.relay_peer, self.role, self.identity, chat_id)
            if not peer:
                # Nobody can receive it now (queued, being handed over, or the other side is away). Typing
                # just goes; a message is refused by name, and the sender's page sends it again later.
                if frame.type == "msg":
                    raise ChatRefused("undelivered", chat=chat_id, seq=frame.fields["seq"])
                return
            self.peers[chat_id] = peer
        relayed = relay_event(chat_id, frame.text)
        # The peer's inbox may be full (it is not keeping up either): then the sender hears which message.
        refused = {"type": "chat.refused", **busy_refusal(frame)} if frame.type == "msg" else None
        await deliver(Outcome(events=[Event(peer, relayed, if_undeliverable=refused)]), self)

    def remember_peer(self, chat_id: str, peer: str) -> None:
        """Remember the peer an accept just connected this socket to (an empty one: ask the gate next time)."""
        if peer:
            self.peers[chat_id] = peer
        else:
            self.peers.pop(chat_id, None)

    async def chat_relay(self, event: dict[str, Any]) -> None:
        # A sender's remembered peer can only be stale for events in flight; a socket that is no longer a
        # party to the chat does not pass them on.
        if self.holds(event["chat"]):
            await self.send(text_data=event["text"])

    def take_relays_at_once(self) -> None:
        """From now on (the socket is set up) a relayed frame reaching it while it is idle is passed on at once,
        in the sender's turn, as `chat_relay` would pass it on in the socket's own next turn; and a msg or
        typing frame it sends is relayed at once, in the turn that read it, as `receive` would relay it
        (helpline.upstream.PausingInbox.at_once): a turn of the loop less per message at each end.
        OneInboxConsumer lets go of both when the socket's loop ends (the inbox and the socket would otherwise
        hold each other)."""
        self.send_now = socket_sender_now(self.scope)
        if self.send_now is None or not isinstance(self.inbox, PausingInbox):
            return  # another server: every event waits for the socket's own turn
        self.inbox.at_once = {"chat.relay": self.relay_at_once, "websocket.receive": self.receive_at_once}

    def receive_at_once(self, message: dict[str, Any]) -> bool:
        """`receive` for the frames it relays, as a plain function (PausingInbox.at_once), where relaying needs
        no wait: a valid msg or typing frame, within the rate limit, for a chat whose peer this socket
        remembers (`relay`) and whose peer's socket is in this process with room in its inbox. For anything
        else it returns False before it changes anything (the rate limit refuses without taking), and the
        socket's own turn handles the frame as `receive` always does: the answers, refusals and strikes stay
        in one place. The socket is idle when this runs, so its frame waited for nothing (`too_late`) and
        nothing of its is queued (`overloaded`)."""
        text = message.get("text")
        if text is None or self.closing:
            return False
        frame = validate_frame(self.inbound, text)
        if not isinstance(frame, Frame):
            return False  # refused in the socket's turn, with a strike
        if frame.type in RELAYED:
            chat_id = frame.fields["chat"]
            peer = self.peers.get(chat_id)
            find_inbox = getattr(self.channel_layer, "inbox_with_room", None)  # helpline.upstream.SocketInboxes'
            inbox = find_inbox(peer) if peer is not None and find_inbox is not None else None
            if inbox is not None and self.limit.allow(unread_seconds(self.inbox)):
                inbox.put_nowait(relay_event(chat_id, frame.text))
                return True
        self.checked = frame
        return False

    def relay_at_once(self, event: dict[str, Any]) -> bool:
        """`chat_relay`, as a plain function (PausingInbox.at_once): False to have the event queued instead."""
        if self.holds(event["chat"]) and self.send_now is not None:
            try:
                self.send_now({"type": "websocket.send", "text": event["text"]})
            except Exception:  # not the sender's to hear: the socket's own turn meets it again
                return False
        return True

    async def chat_refused(self, event: dict[str, Any]) -> None:
        """A message of this socket reached no one (delivery's `if_undeliverable`)."""
        await self.send_frame("error", **{name: value for name, value in event.items() if name != "type"})

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
        # The visitor's keys (this epoch's vk, the chat's identity key and its signature over vk), from its own
        # join or resume, for whichever counsellor socket is offered the chat; the server keeps none.
        self.keys: actions.VisitorKeys | None = None
        self.position = -1
        self.rent_timer: asyncio.TimerHandle | None = None
        await self.accept()
        self.start_ticking()
        self.take_relays_at_once()

    async def socket_gone(self) -> None:
        self.stop_rent()
        if self.chat_id:
            await deliver(await on_database(actions.visitor_left, self.chat_id, self.channel_name, actions.now()))

    async def rate_limited(self, frame: Frame | FrameError) -> None:
        if isinstance(frame, Frame) and frame.type == "join":
            await on_database(actions.refuse_rate_limited_join)
        await super().rate_limited(frame)  # a message named, so the page marks it unsent rather than ending

    def holds(self, chat_id: str) -> bool:
        return chat_id == self.chat_id

    # --- frames ---

    async def on_join(self, frame: Frame) -> None:
        await self.act(actions.join, self.channel_name, self.chat_id, frame.fields["lang"],
                       actions.VisitorKeys.from_frame(frame.fields), frame.fields.get("pow"), route=True)

    async def on_resume(self, frame: Frame) -> None:
        try:
            await self.act(actions.resume, self.channel_name, self.chat_id, frame.fields["resume"],
                           actions.VisitorKeys.from_frame(frame.fields), route=True)
        except DatabaseError:
            # Not the `rate_limited` other frames hear then: the page would take it for the end of a chat that
            # is still there. The resume was not done (one transaction), so its token is good: closed with
            # "try again later", the page reconnects as after any drop and resumes again.
            logger.warning("a resume failed on the database; the visitor's page will try again", exc_info=True)
            self.closing = True
            await self.close(code=CLOSE_TRY_AGAIN)

    async def on_msg(self, frame: Frame) -> None:
        await self.relay(frame)

    on_typing = on_msg

    async def on_leave(self, frame: Frame) -> None:
        await self.act(actions.end_chat, VISITOR, self.identity, frame.fields["chat"], None,
                       frame.fields.get("hurry", False))

    async def on_rent(self, frame: Frame) -> None:
        try:
            await self.act(actions.pay_rent, self.identity, frame.fields["chat"], frame.fields["pow"])
        except DatabaseError:
            # Not the `rate_limited` other frames hear then: the page would take it for the end of the chat,
            # while the chat waits on. The answer was not counted; a fresh puzzle is asked for shortly.
            logger.warning("a rent answer failed on the database; asking again shortly", exc_info=True)
            self.ask_rent_soon(frame.fields["chat"])

    # --- rent (protocol.md §9): while the chat waits, ask for the next period when the paid one runs low ---

    def schedule_rent(self, rent_until: float | None) -> None:
        self.stop_rent()
        if rent_until is None or not self.chat_id:
            return
        delay = rent_until - settings.CHAT_RENT_SECONDS - actions.now().timestamp()
        chat_id = self.chat_id
        self.rent_timer = asyncio.get_running_loop().call_later(
            max(0.0, delay), lambda: work().in_background(self.ask_rent(chat_id)))

    def stop_rent(self) -> None:
        if self.rent_timer is not None:
            self.rent_timer.cancel()
            self.rent_timer = None

    async def ask_rent(self, chat_id: str) -> None:
        self.rent_timer = None
        if chat_id != self.chat_id or self.closing:
            return
        try:
            outcome = await on_database(actions.ask_rent, self.identity, chat_id, actions.now())
        except ChatRefused:
            return  # the chat is no longer this socket's
        except DatabaseError:
            logger.warning("asking for rent failed on the database; trying again shortly", exc_info=True)
            self.ask_rent_soon(chat_id)
            return
        await deliver(outcome, self)

    def ask_rent_soon(self, chat_id: str) -> None:
        """Ask again after a database failure: within a tick, and well before the paid period (asked for a
        whole period before it ends) runs out."""
        self.stop_rent()
        delay = min(settings.CHAT_TICK_SECONDS, settings.CHAT_RENT_SECONDS / 4)
        self.rent_timer = asyncio.get_running_loop().call_later(
            delay, lambda: work().in_background(self.ask_rent(chat_id)))

    async def chat_rent(self, event: dict[str, Any]) -> None:
        """The price of the next period (`ask`: send it to the visitor), or a place extended or paid for."""
        if event["chat"] != self.chat_id:
            return
        if "ask" in event:
            await self.send_frame("rent", chat=event["chat"], **event["ask"])
        else:
            self.schedule_rent(event["rent_until"])

    # --- events ---

    async def chat_joined(self, event: dict[str, Any]) -> None:
        """This socket's join made a chat (its own event, from actions.join)."""
        self.chat_id, self.keys, self.position = event["chat"], actions.VisitorKeys.from_frame(event), event["position"]
        await work().join_queue_group(self.channel_name)
        await self.send_frame("queued", chat=event["chat"], resume=event["resume"], position=event["position"])
        self.schedule_rent(event.get("rent_until"))

    async def chat_resumed(self, event: dict[str, Any]) -> None:
        """This socket took its chat back (its own event, from actions.resume)."""
        self.chat_id, self.keys, self.position = event["chat"], actions.VisitorKeys.from_frame(event), event["position"]
        if event["position"]:
            await work().join_queue_group(self.channel_name)
        await self.send_frame("queued", chat=event["chat"], resume=event["resume"], position=event["position"])
        if event["position"]:
            self.schedule_rent(event.get("rent_until"))

    async def chat_offer(self, event: dict[str, Any]) -> None:
        """A counsellor socket was given this chat: send it this socket's keys (the server keeps none), and what
        the offer says about the chat (its language, the wait, how long the offer stands)."""
        self.peers.pop(event["chat"], None)  # a counsellor socket is about to take the chat
        if event["chat"] == self.chat_id and self.keys is not None:
            about = {name: event[name] for name in ("lang", "waiting", "expires") if name in event}
            await deliver(Outcome().tell(event["counsellor"], "chat.rekey", chat=event["chat"], epoch=event["epoch"],
                                         **self.keys.fields(), **about))

    async def chat_connected(self, event: dict[str, Any]) -> None:
        if event["frame"]["chat"] == self.chat_id:
            self.position = 0
            self.stop_rent()
            self.remember_peer(event["frame"]["chat"], event.get("counsellor", ""))
            await work().leave_queue_group(self.channel_name)
            fields = {name: value for name, value in event["frame"].items() if name != "type"}
            await self.send_frame("connected", **fields)

    async def chat_queued(self, event: dict[str, Any]) -> None:
        """The chat is back in the queue: handed to a colleague, or its counsellor did not come back."""
        self.peers.pop(event["chat"], None)
        if event["chat"] == self.chat_id:
            self.position = event["position"]
            await work().join_queue_group(self.channel_name)
            await self.send_frame("queued", chat=self.chat_id, position=self.position, reason=event["reason"])
            self.schedule_rent(event.get("rent_until"))

    async def chat_presence(self, event: dict[str, Any]) -> None:
        """The counsellor's socket went away (or came back): say so now, and ask the gate before relaying."""
        self.peers.pop(event["chat"], None)
        if event["chat"] == self.chat_id:
            await self.send_frame("presence", chat=event["chat"], peer=event["peer"])

    async def queue_changed(self, event: dict[str, Any]) -> None:
        """A new queue listing (chat.process sends it with the event); without one, read it."""
        if not self.chat_id or self.position == 0:
            return
        if "chats" in event:
            order = [entry["chat"] for entry in event["chats"]]
            position = order.index(self.chat_id) + 1 if self.chat_id in order else 0
        else:
            position = await on_database(actions.queue_position, self.chat_id)
        if position and position != self.position:
            self.position = position
            await self.send_frame("queued", chat=self.chat_id, position=position)

    async def chat_ended(self, event: dict[str, Any]) -> None:
        self.peers.pop(event["chat"], None)
        if event["chat"] != self.chat_id:
            return
        self.stop_rent()
        self.chat_id, self.keys = None, None
        await work().leave_queue_group(self.channel_name)
        extra = {"feedback": actions.feedback_token()} if event.get("answered") else {}
        await self.send_frame("ended", chat=event["chat"], by=event["by"], **extra)

    async def chat_displaced(self, event: dict[str, Any]) -> None:
        self.stop_rent()
        self.peers.clear()
        self.chat_id, self.keys = None, None
        self.closing = True
        await self.close(code=CLOSE_DISPLACED)


def counsellor_gate(scope: dict[str, Any]) -> tuple[Decision, int | None, bool]:
    """The counsellor socket's gate: its decision, the staff member's id, and whether they may also supervise,
    in one trip to the database. The socket keeps these, nothing of the session or the user object."""
    user, session = socket_staff(scope)
    decision = staff_decision(user, session, COUNSEL)
    # The gate checked the session's second factor once; supervising adds only a capability on top (asking the
    # gate twice read the second-factor device twice for every console that opened).
    may_supervise = decision is Decision.ALLOWED and user.has_perm(f"accounts.{SUPERVISE}")
    return decision, user.pk, may_supervise


def registered_with_listing(identity: SocketIdentity, moment: dt.datetime) -> tuple[Outcome, list[dict[str, object]]]:
    """A console that opens is registered and gets the queue in one trip to the database thread."""
    return actions.register_counsellor(identity, moment), actions.queue_listing(moment)


class CounsellorConsumer(ChatSocket):
    """/ws/counsellor/: staff with a verified second factor and the counsel capability; one socket per tab."""

    role = COUNSELLOR
    inbound = COUNSELLOR_TO_SERVER
    outbound = SERVER_TO_COUNSELLOR

    async def connect(self) -> None:
        self.setup_socket()
        decision, user_id, may_supervise = await on_database(counsellor_gate, self.scope)
        if decision is not Decision.ALLOWED:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.identity = SocketIdentity(channel=self.channel_name, user_id=user_id, may_supervise=may_supervise)
        # chat -> (epoch, vk) of the offer or rekey this socket must answer; memory only.
        self.pending: dict[str, tuple[int, str]] = {}
        self.listing: list[dict[str, object]] | None = None
        # Chats this socket answered (accept) and still holds; memory only.
        self.accepted: set[str] = set()
        await work().join_queue_group(self.channel_name)
        await self.accept()
        outcome, listing = await on_database(registered_with_listing, self.identity, actions.now())
        await self.queue_changed({"chats": listing})
        await deliver(outcome, self)
        self.start_ticking()
        self.take_relays_at_once()

    async def socket_gone(self) -> None:
        if not hasattr(self, "identity"):
            return
        await deliver(await on_database(actions.counsellor_left, self.identity, actions.now()))

    def holds(self, chat_id: str) -> bool:
        return chat_id in self.accepted

    # --- frames ---

    async def on_available(self, frame: Frame) -> None:
        await self.act(actions.set_available, self.identity, frame.fields["on"])

    async def on_accept(self, frame: Frame) -> None:
        offered = self.pending.get(frame.fields["chat"])
        offered_vk = offered[1] if offered and offered[0] == frame.fields["epoch"] else None
        await self.act(actions.accept, self.identity, frame.fields, offered_vk)

    async def on_msg(self, frame: Frame) -> None:
        await self.relay(frame)

    on_typing = on_msg

    async def on_transfer(self, frame: Frame) -> None:
        await self.act(actions.transfer, self.identity, frame.fields["chat"], frame.fields["to"],
                       frame.fields.get("bundle"))

    async def on_end(self, frame: Frame) -> None:
        await self.act(actions.end_chat, COUNSELLOR, self.identity, frame.fields["chat"], frame.fields.get("wrapup"),
                       False)

    # --- events ---

    async def chat_accepted(self, event: dict[str, Any]) -> None:
        """This socket's accept connected the chat (its own event, from actions.accept)."""
        self.pending.pop(event["chat"], None)
        self.accepted.add(event["chat"])
        self.remember_peer(event["chat"], event["visitor"])

    async def chat_handed_over(self, event: dict[str, Any]) -> None:
        """This socket handed the chat on (its own event, from actions.transfer)."""
        self.pending.pop(event["chat"], None)
        self.accepted.discard(event["chat"])
        self.peers.pop(event["chat"], None)

    async def chat_rekey(self, event: dict[str, Any]) -> None:
        self.pending[event["chat"]] = (event["epoch"], event["vk"])
        self.peers.pop(event["chat"], None)  # the visitor is on a new socket, or a new counsellor socket answers
        await self.send_frame("rekey", **{name: value for name, value in event.items() if name != "type"})

    async def chat_presence(self, event: dict[str, Any]) -> None:
        """The visitor's socket went away (with how long the chat waits for them) or came back."""
        self.peers.pop(event["chat"], None)
        if self.holds(event["chat"]):
            await self.send_frame("presence", **{name: value for name, value in event.items() if name != "type"})

    async def chat_handover(self, event: dict[str, Any]) -> None:
        """A colleague handed this person a chat, with their note and the transcript sealed to this person's
        devices; the offer (a rekey) follows when routing gives it to one of their sockets."""
        await self.send_frame("handover", chat=event["chat"], bundle=event["bundle"], **{"from": event["sender"]})

    async def chat_transferred(self, event: dict[str, Any]) -> None:
        """A chat this person handed over was taken by the colleague, or came back to them (then an offer
        follows, which the console answers as for a chat it holds)."""
        await self.send_frame("transferred", chat=event["chat"], outcome=event["outcome"])

    async def chat_ended(self, event: dict[str, Any]) -> None:
        self.pending.pop(event["chat"], None)
        self.accepted.discard(event["chat"])
        self.peers.pop(event["chat"], None)
        extra = {"hurry": True} if event.get("hurry") else {}
        await self.send_frame("ended", chat=event["chat"], by=event["by"], **actions.wrapup_fields(event), **extra)

    async def queue_changed(self, event: dict[str, Any]) -> None:
        """A new queue listing (chat.process sends it with the event); without one, read it."""
        listing = event["chats"] if "chats" in event else \
            await on_database(actions.queue_listing, actions.now())
        if listing == self.listing:
            return
        self.listing = listing
        if isinstance(event.get("text"), str):
            await self.send(text_data=event["text"])  # checked and serialised once for every socket
        else:
            await self.send_frame("queue", chats=listing)
