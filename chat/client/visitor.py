"""The visitor's side of protocol v2: proof of work, join, verify the counsellor, talk with receipts, leave, resume."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from chat.client.base import ChatClientError, ClientBase
from chat.client.conversation import Conversation
from chat.client.events import (
    ChatEnded,
    Connected,
    Delivered,
    Event,
    FrameReceived,
    HandshakeRefused,
    MessageReceived,
    MessageRejected,
    PresenceChanged,
    Queued,
    RentAsked,
    TypingChanged,
)
from chat.client.http import fetch_pow_challenge, send_feedback
from chat.client.session import EpochSession
from chat.protocol import crypto


class VisitorClient(ClientBase):
    """An anonymous visitor: no cookie, no account; keys only in this object.

    ``org_public_key`` is the pinned organisation key (b64 of its SEC1 point), the one the visitor's page
    carries. Every counsellor certificate is checked against it; a failure refuses the epoch and is
    reported as ``HandshakeRefused``, never papered over. The chat's identity key (``ik``) is made at
    ``join`` and signs every epoch key. Texts carry ids: received ones are receipted at once, and the ones the
    other side has not confirmed are sent again after every new ``Connected`` (``pending``).
    """

    path = "/ws/visitor/"

    def __init__(self, base_url: str, *, org_public_key: str,
                 today: Callable[[], dt.date] = crypto.utc_today,
                 key_factory: Callable[[], ec.EllipticCurvePrivateKey] = crypto.generate_private_key,
                 extra_headers: dict[str, str] | None = None) -> None:
        # extra_headers: e.g. the made-up User-Agent and X-Forwarded-For of the privacy audit.
        super().__init__(base_url, extra_headers=extra_headers)
        self.org_public_raw = crypto.b64d(org_public_key)
        crypto.load_public_key(self.org_public_raw)
        self._today = today
        self._key_factory = key_factory
        self.chat: str | None = None
        self.resume_token: str | None = None
        self.session: EpochSession | None = None
        self.pseudonym: str = ""
        self.feedback_token: str | None = None
        self._private: ec.EllipticCurvePrivateKey | None = None
        self._vk: str | None = None
        self._identity: ec.EllipticCurvePrivateKey | None = None
        self._epochs_seen = 0
        self.conversation: Conversation | None = None
        # Rent (protocol.md §9): answered in a task of its own, so that frames keep being read meanwhile.
        self.pay_rent = True
        self._rent: asyncio.Task[None] | None = None

    # --- what a visitor does -------------------------------------------------------

    def new_epoch_key(self) -> str:
        """Make the ECDH key pair for the next epoch and return ``vk``; the old private key is dropped."""
        self._private = self._key_factory()
        self._vk = crypto.b64e(crypto.public_key_bytes(self._private))
        self.session = None
        return self._vk

    def signed_epoch_keys(self) -> dict[str, str]:
        """A new epoch key with the chat's identity key and its signature (``vk``, ``ik``, ``vsig``)."""
        if self._identity is None:
            self._identity = self._key_factory()
        vk = self.new_epoch_key()
        return {"vk": vk, "ik": crypto.b64e(crypto.public_key_bytes(self._identity)),
                "vsig": crypto.sign_visitor_key(self._identity, vk)}

    async def solve_pow(self) -> dict[str, str] | None:
        """Fetch the join's challenge and solve it (in a thread); None when the server asks for no work."""
        challenge = await fetch_pow_challenge(self.base_url)
        if int(challenge["bits"]) <= 0:
            return None
        return await solve_work(challenge["challenge"], int(challenge["iterations"]), int(challenge["bits"]))

    async def join(self, lang: str = "en", *, pow_solution: dict[str, str] | None = None,
                   solve: bool = True) -> None:
        """Ask for a counsellor. Solves proof of work first unless ``solve`` is false or a solution is given."""
        # The challenge is asked for while the socket opens, as the page does: one wait, not two in a row.
        solving = asyncio.ensure_future(self.solve_pow()) if pow_solution is None and solve else None
        try:
            if not self.connected:
                await self.open()
            if solving is not None:
                pow_solution = await solving
        finally:
            if solving is not None and not solving.done():
                solving.cancel()
        self._identity = self._key_factory()  # a new chat, a new identity
        frame: dict[str, Any] = {"type": "join", "v": 2, **self.signed_epoch_keys(), "lang": lang}
        if pow_solution is not None:
            frame["pow"] = pow_solution
        await self.send_frame(frame)

    async def resume(self) -> None:
        """Come back after a reload or a lost connection: a new socket, a new key, the stored resume token."""
        if self.resume_token is None:
            raise ChatClientError("no resume token: join first")
        if self.connected:
            await self.close()
        await self.open()
        await self.send_frame({"type": "resume", "resume": self.resume_token, **self.signed_epoch_keys()})

    def _require_session(self) -> EpochSession:
        if self.session is None:
            raise ChatClientError("no verified counsellor yet")
        return self.session

    async def send_message(self, message: dict[str, Any]) -> dict[str, Any]:
        """Encrypt and send a message object; returns the frame that went out (ciphertext only)."""
        frame = self._require_session().seal(message)
        await self.send_frame(frame)
        return frame

    async def send_text(self, body: str) -> dict[str, Any]:
        """Send a text (with a new id); it stays in ``pending`` until the counsellor's receipt names it."""
        return await self.send_message(self._conversation().write(body))

    def _conversation(self) -> Conversation:
        if self.chat is None:
            raise ChatClientError("not in a chat")
        if self.conversation is None or self.conversation.chat != self.chat:
            self.conversation = Conversation(self.chat)
        return self.conversation

    @property
    def pending(self) -> dict[str, str]:
        """Texts sent and not yet confirmed by a receipt: id -> body."""
        return dict(self.conversation.pending) if self.conversation is not None else {}

    async def typing(self, on: bool) -> None:
        if self.chat is None:
            raise ChatClientError("not in a chat")
        await self.send_frame({"type": "typing", "chat": self.chat, "on": on})

    async def leave(self, *, hurry: bool = False) -> None:
        """End the chat from the visitor's side (``hurry``: as the page does after quick exit)."""
        if self.chat is None:
            raise ChatClientError("not in a chat")
        frame: dict[str, Any] = {"type": "leave", "chat": self.chat}
        if hurry:
            frame["hurry"] = True
        await self.send_frame(frame)

    async def give_feedback(self, rating: int | None, helped: bool | None) -> int:
        """Send the after-chat rating with the one-time token from ``ended``; returns the HTTP status."""
        if self.feedback_token is None:
            raise ChatClientError("no feedback token: the chat has not ended, or the server sent none")
        token, self.feedback_token = self.feedback_token, None
        return await send_feedback(self.base_url, token, rating, helped)

    # --- frames from the server ---------------------------------------------------

    async def handle_frame(self, frame: dict[str, Any]) -> list[Event]:
        kind = frame["type"]
        chat = str(frame.get("chat", ""))
        if kind == "queued":
            self.chat = chat
            if isinstance(frame.get("resume"), str):
                self.resume_token = frame["resume"]
            return [Queued(chat=chat, position=int(frame.get("position", 0)), resume=frame.get("resume"),
                           reason=frame.get("reason"))]
        if kind == "connected":
            event = self._on_connected(frame)
            if isinstance(event, Connected) and self.conversation is not None:
                for message in self.conversation.to_send_again():
                    await self.send_message(message)
            return [event]
        if kind == "msg":
            return await self._on_message(frame)
        if kind == "presence":
            return [PresenceChanged(chat=chat, peer=str(frame.get("peer", "")))]
        if kind == "typing":
            return [TypingChanged(chat=chat, on=bool(frame.get("on")))]
        if kind == "ended":
            self.session = None
            self._private = None
            feedback = frame.get("feedback")
            self.feedback_token = feedback if isinstance(feedback, str) else None
            return [ChatEnded(chat=chat, by=str(frame.get("by", "")), feedback=self.feedback_token)]
        if kind == "rent":
            return [self._on_rent(frame)]
        if kind == "error":
            return await super().handle_frame(frame)
        return [FrameReceived(chat=chat, frame=frame)]

    def _on_rent(self, frame: dict[str, Any]) -> Event:
        """The server asks for the next period of our place in the queue: pay it (unless told not to)."""
        asked = RentAsked(chat=str(frame["chat"]), iterations=int(frame["iterations"]), bits=int(frame["bits"]),
                          due=int(frame["due"]))
        if self.pay_rent:
            self._rent = asyncio.create_task(self._pay(asked, str(frame["challenge"])))
        return asked

    async def _pay(self, asked: RentAsked, challenge: str) -> None:
        answer = await solve_work(challenge, asked.iterations, asked.bits)
        if self.connected and self.chat == asked.chat:
            await self.send_frame({"type": "rent", "chat": asked.chat, "pow": answer})

    def _on_connected(self, frame: dict[str, Any]) -> Event:
        """Verify the certificate against the pinned org key, then the handshake; only then derive keys."""
        chat, epoch, ck, sig, cert = (frame.get(name) for name in ("chat", "epoch", "ck", "sig", "cert"))
        if not isinstance(chat, str) or not isinstance(epoch, int) or isinstance(epoch, bool):
            return HandshakeRefused(chat=str(chat or ""), epoch=-1, reason="bad_frame")
        if self._private is None or self._vk is None:
            return HandshakeRefused(chat=chat, epoch=epoch, reason="no_key")
        if self.chat is not None and chat != self.chat:
            return HandshakeRefused(chat=chat, epoch=epoch, reason="wrong_chat")
        if not isinstance(ck, str) or not isinstance(sig, str) or not isinstance(cert, dict):
            return HandshakeRefused(chat=chat, epoch=epoch, reason="bad_frame")
        try:
            checked = crypto.verify_certificate(cert, self.org_public_raw, self._today())
        except crypto.CertificateError as error:
            return HandshakeRefused(chat=chat, epoch=epoch, reason=f"certificate_{error.reason}")
        if not crypto.verify_handshake(checked, chat, epoch, self._vk, ck, sig):
            return HandshakeRefused(chat=chat, epoch=epoch, reason="handshake_signature")
        try:
            self.session = EpochSession.derive("visitor", chat, epoch, self._private, self._vk, ck)
        except ValueError:
            return HandshakeRefused(chat=chat, epoch=epoch, reason="bad_key")
        self.chat = chat
        self.pseudonym = checked.pseudonym
        self._epochs_seen += 1
        return Connected(chat=chat, epoch=epoch, safety_code=self.session.safety_code,
                         pseudonym=checked.pseudonym, restarted=self._epochs_seen > 1)

    async def _on_message(self, frame: dict[str, Any]) -> list[Event]:
        event = open_message(self.session, frame)
        if not isinstance(event, MessageReceived) or self.chat is None:
            return [event]
        return await receive_kind(event, self._conversation(), self.send_message)


async def receive_kind(event: MessageReceived, conversation: Conversation,
                       send: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> list[Event]:
    """What an opened message means (docs/protocol.md §6): a receipt confirms ids; a text is receipted at once and
    reported the first time its id is seen; other kinds are reported as they are."""
    confirmed = crypto.receipt_ids(event.message)
    if confirmed:
        return [Delivered(chat=event.chat, ids=tuple(conversation.confirmed(confirmed)))]
    message_id = event.message.get("id")
    if event.message.get("t") == "text" and isinstance(message_id, str) and crypto.is_message_id(message_id):
        await send(crypto.receipt_message([message_id]))
        return [event] if conversation.received(message_id) else []
    return [event]


async def solve_work(challenge: str, iterations: int, bits: int) -> dict[str, str]:
    """Solve a PBKDF2 puzzle in a thread; the `pow` object of a join or rent frame."""
    nonce = await asyncio.to_thread(crypto.work_solve, crypto.b64d(challenge), iterations, bits)
    return {"challenge": challenge, "nonce": crypto.b64e(nonce)}


def open_message(session: EpochSession | None, frame: dict[str, Any]) -> Event:
    """Open a ``msg`` frame with the session of its epoch, or explain why it was dropped."""
    chat = str(frame.get("chat", ""))
    epoch, seq = frame.get("epoch"), frame.get("seq")
    epoch_number = epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else -1
    seq_number = seq if isinstance(seq, int) and not isinstance(seq, bool) else -1
    if session is None or session.chat != chat or session.epoch != epoch_number:
        return MessageRejected(chat=chat, epoch=epoch_number, seq=seq_number, reason="no_key_for_epoch")
    try:
        message, missing = session.open(frame)
    except crypto.ReplayedSequenceError:
        return MessageRejected(chat=chat, epoch=epoch_number, seq=seq_number, reason="replayed")
    except (crypto.MessageDecryptionError, KeyError, ValueError):
        return MessageRejected(chat=chat, epoch=epoch_number, seq=seq_number, reason="does_not_authenticate")
    return MessageReceived(chat=chat, epoch=epoch_number, seq=seq_number, message=message, missing=missing)
