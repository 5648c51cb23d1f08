"""The counsellor's side of protocol v2: a certified device key, the queue, accepting, answering rekeys with the
visitor's identity key pinned, receipts, hand-over, ending."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from chat.client.base import ChatClientError, ClientBase
from chat.client.conversation import Conversation
from chat.client.events import (
    ChatEnded,
    Connected,
    Event,
    FrameReceived,
    HandedOver,
    HandoverRefused,
    KeyChangeRefused,
    MessageReceived,
    Offered,
    PresenceChanged,
    QueueChanged,
    Rekeyed,
    Transferred,
    TypingChanged,
)
from chat.client.http import CodeSource, StaffSession, sign_in_staff
from chat.client.session import EpochSession
from chat.client.visitor import open_message, receive_kind
from chat.protocol import crypto


@dataclass
class DeviceIdentity:
    """A counsellor device: its ECDSA private key (kept by this process only), id and certificate."""

    private_key: ec.EllipticCurvePrivateKey
    device: str
    cert: dict[str, Any] = field(default_factory=dict)

    @property
    def public_key(self) -> str:
        return crypto.b64e(crypto.public_key_bytes(self.private_key))

    @property
    def pseudonym(self) -> str:
        return str(self.cert.get("pseudonym", ""))


async def enrol_device(staff: StaffSession, *, timeout: float = 30.0, poll: float = 0.5,
                       private_key: ec.EllipticCurvePrivateKey | None = None) -> DeviceIdentity:
    """Register a new device key through the device API and wait until an operator (or the demo) certifies it.

    POST /chat/device/ {"key"} → {"device", "status"}; then GET /chat/device/<device>/ until
    ``status`` is ``certified``. Raises ChatClientError if it is revoked or not certified in time.
    """
    key = private_key or crypto.generate_private_key()
    public = crypto.b64e(crypto.public_key_bytes(key))
    registered = await staff.json("POST", "/chat/device/", {"key": public}, expect=(200, 201))
    device = str(registered["device"])
    deadline = time.monotonic() + timeout
    while True:
        answer = await staff.json("GET", f"/chat/device/{device}/")
        if answer.get("status") == "certified" and isinstance(answer.get("cert"), dict):
            cert: dict[str, Any] = answer["cert"]
            if cert.get("key") != public:
                raise ChatClientError("the certificate is for another key")
            return DeviceIdentity(private_key=key, device=device, cert=cert)
        if answer.get("status") == "revoked":
            raise ChatClientError("the device was revoked")
        if time.monotonic() > deadline:
            raise ChatClientError(f"device {device} not certified within {timeout}s")
        await asyncio.sleep(poll)


class CounsellorClient(ClientBase):
    """A signed-in counsellor on one device. Each chat it holds has its own epoch session, in memory.

    The server routes: while this client is available it is *offered* chats, each as a ``rekey`` frame
    (chat, epoch, the visitor's key) for a chat it does not hold yet, and must answer with ``accept``.
    With ``auto_accept`` (the default) offers are accepted at once and reported as ``Connected``;
    otherwise they are reported as ``Offered`` and ``accept(chat)`` answers one. A ``rekey`` for a chat
    already held (the visitor came back with a new key) is always answered at once, as the console page
    does, and reported as ``Rekeyed`` and ``Connected(restarted=True)``.

    Every rekey's visitor key must be signed by the chat's visitor identity key, which the client pins at the
    first offer (or takes from ``pin``, as a hand-over bundle gives it); a rekey that fails is not answered and
    is reported as ``KeyChangeRefused``. Texts are receipted and re-sent as for the visitor.
    """

    path = "/ws/counsellor/"

    def __init__(self, staff: StaffSession, device: DeviceIdentity, *, auto_accept: bool = True,
                 key_factory: Callable[[], ec.EllipticCurvePrivateKey] = crypto.generate_private_key,
                 encryption_key: ec.EllipticCurvePrivateKey | None = None, org_public_key: str | None = None) -> None:
        super().__init__(staff.base_url, extra_headers={"Cookie": staff.cookie_header()})
        self.staff = staff
        self.device = device
        self.auto_accept = auto_accept
        self._key_factory = key_factory
        self.queue: list[dict[str, Any]] = []
        self.sessions: dict[str, EpochSession] = {}
        self.offers: dict[str, tuple[int, str]] = {}  # chat -> (epoch, vk) awaiting our accept
        self.identity_pins: dict[str, str] = {}  # chat -> the visitor identity key (ik) pinned for it
        # The device's ECDH encryption key (docs/protocol.md §3) and the pinned org key, to open hand-over bundles.
        self.encryption_key = encryption_key
        self.org_public_key = org_public_key
        self.conversations: dict[str, Conversation] = {}

    @classmethod
    async def sign_in(cls, base_url: str, username: str, password: str, code: CodeSource, *,
                      lang: str = "en", auto_accept: bool = True) -> CounsellorClient:
        """Sign in through the real pages, enrol a fresh device key and wait for its certificate."""
        staff = await sign_in_staff(base_url, username, password, code, lang=lang)
        device = await enrol_device(staff)
        return cls(staff, device, auto_accept=auto_accept)

    # --- what a counsellor does ----------------------------------------------------

    async def set_available(self, on: bool = True) -> None:
        await self.send_frame({"type": "available", "on": on})

    async def accept(self, chat: str, *, epoch: int | None = None, vk: str | None = None) -> EpochSession:
        """Answer an offer or a rekey: new ECDH pair, sign tbs_hs with the device key, send ``accept``.

        The epoch and the visitor's key come from the pending offer unless given. The keys are derived
        at once; the visitor's page derives the same ones once it has verified our certificate and signature.
        """
        pending = self.offers.pop(chat, None)
        if vk is None or epoch is None:
            if pending is None:
                raise ChatClientError(f"chat {chat} was not offered to this client")
            epoch, vk = pending
        private = self._key_factory()
        ck = crypto.b64e(crypto.public_key_bytes(private))
        sig = crypto.sign_handshake(self.device.private_key, chat, epoch, vk, ck)
        session = EpochSession.derive("counsellor", chat, epoch, private, vk, ck)
        del private  # the session holds the derived keys; the ECDH private key is not needed again
        self.sessions[chat] = session
        await self.send_frame({"type": "accept", "chat": chat, "epoch": epoch, "ck": ck, "sig": sig,
                               "device": self.device.device})
        return session

    def session_for(self, chat: str) -> EpochSession:
        session = self.sessions.get(chat)
        if session is None:
            raise ChatClientError(f"no open epoch for chat {chat}")
        return session

    async def send_message(self, chat: str, message: dict[str, Any]) -> dict[str, Any]:
        frame = self.session_for(chat).seal(message)
        await self.send_frame(frame)
        return frame

    async def send_text(self, chat: str, body: str) -> dict[str, Any]:
        """Send a text (with a new id); pending until the visitor's receipt names it."""
        return await self.send_message(chat, self._conversation(chat).write(body))

    def _conversation(self, chat: str) -> Conversation:
        return self.conversations.setdefault(chat, Conversation(chat))

    def pin(self, chat: str, ik: str) -> None:
        """Pin the visitor identity key of a chat taken over from a colleague (from their hand-over bundle)."""
        self.identity_pins[chat] = ik

    def seal_handover(self, chat: str, recipients: dict[str, bytes], note: str = "",
                      transcript: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """A hand-over bundle (docs/protocol.md §10) for the colleague's devices (device id -> 65-byte ek), carrying
        the note, the transcript and the visitor identity key this client pinned for the chat."""
        ik = self.identity_pins.get(chat)
        if ik is None:
            raise ChatClientError(f"no visitor identity key pinned for chat {chat}")
        content = {"v": 2, "chat": chat, "ik": ik, "note": note, "transcript": transcript or []}
        return crypto.seal_bundle(content, chat, recipients, self.device.private_key, self.device.device,
                                  self.device.cert)

    async def typing(self, chat: str, on: bool) -> None:
        await self.send_frame({"type": "typing", "chat": chat, "on": on})

    async def transfer(self, chat: str, to: str | int = "queue", bundle: dict[str, Any] | None = None) -> None:
        """Hand the chat to a colleague (their id) or back to the queue; this side's keys for it are dropped."""
        frame: dict[str, Any] = {"type": "transfer", "chat": chat, "to": to}
        if bundle is not None:
            frame["bundle"] = bundle
        await self.send_frame(frame)
        self.sessions.pop(chat, None)

    async def end(self, chat: str, wrapup: dict[str, Any] | None = None) -> None:
        """End the chat, with wrap-up category codes for the aggregate counters."""
        frame: dict[str, Any] = {"type": "end", "chat": chat}
        if wrapup is not None:
            frame["wrapup"] = wrapup
        await self.send_frame(frame)
        self.sessions.pop(chat, None)

    # --- frames from the server ---------------------------------------------------

    async def handle_frame(self, frame: dict[str, Any]) -> list[Event]:
        kind = frame["type"]
        chat = str(frame.get("chat", ""))
        if kind == "queue":
            chats = frame.get("chats")
            self.queue = [entry for entry in chats if isinstance(entry, dict)] if isinstance(chats, list) else []
            return [QueueChanged(chat="", chats=tuple(self.queue))]
        if kind == "rekey":
            return await self._on_rekey(frame)
        if kind == "msg":
            event = open_message(self.sessions.get(chat), frame)
            if not isinstance(event, MessageReceived):
                return [event]
            return await receive_kind(event, self._conversation(chat), lambda message: self.send_message(chat, message))
        if kind == "handover":
            return [self._on_handover(chat, frame)]
        if kind == "transferred":
            return [Transferred(chat=chat, outcome=str(frame.get("outcome", "")))]
        if kind == "presence":
            grace = frame.get("grace")
            return [PresenceChanged(chat=chat, peer=str(frame.get("peer", "")),
                                    grace=grace if isinstance(grace, int) else None)]
        if kind == "typing":
            return [TypingChanged(chat=chat, on=bool(frame.get("on")))]
        if kind == "ended":
            self.sessions.pop(chat, None)
            self.offers.pop(chat, None)
            self.identity_pins.pop(chat, None)
            self.conversations.pop(chat, None)
            return [ChatEnded(chat=chat, by=str(frame.get("by", "")))]
        if kind == "error":
            return await super().handle_frame(frame)
        return [FrameReceived(chat=chat, frame=frame)]

    def _on_handover(self, chat: str, frame: dict[str, Any]) -> Event:
        """Open a colleague's bundle with this device's encryption key; pin the visitor identity key it carries."""
        if self.encryption_key is None or self.org_public_key is None:
            return HandoverRefused(chat=chat, reason="no_encryption_key")
        try:
            content, sender = crypto.open_bundle(frame["bundle"], chat, self.device.device, self.encryption_key,
                                                 crypto.b64d(self.org_public_key), crypto.utc_today())
        except (crypto.BundleError, KeyError, ValueError) as error:
            return HandoverRefused(chat=chat, reason=str(error))
        ik = content.get("ik")
        if content.get("chat") != chat or not isinstance(ik, str):
            return HandoverRefused(chat=chat, reason="not this chat")
        self.pin(chat, ik)
        transcript = content.get("transcript")
        return HandedOver(chat=chat, sender=sender.pseudonym, note=str(content.get("note", "")),
                          transcript=tuple(entry for entry in transcript if isinstance(entry, dict))
                          if isinstance(transcript, list) else ())

    async def _on_rekey(self, frame: dict[str, Any]) -> list[Event]:
        chat, epoch, vk, ik, vsig = (frame.get(name) for name in ("chat", "epoch", "vk", "ik", "vsig"))
        if not isinstance(chat, str) or not isinstance(epoch, int) or not isinstance(vk, str):
            return [FrameReceived(chat=str(chat or ""), frame=frame)]
        if not isinstance(ik, str) or not isinstance(vsig, str) or not crypto.verify_visitor_key(ik, vk, vsig):
            return [KeyChangeRefused(chat=chat, epoch=epoch, reason="not_signed")]
        pinned = self.identity_pins.setdefault(chat, ik)
        if pinned != ik:
            return [KeyChangeRefused(chat=chat, epoch=epoch, reason="identity_changed")]
        held = chat in self.sessions
        self.offers[chat] = (epoch, vk)
        if not held and not self.auto_accept:
            return [Offered(chat=chat, epoch=epoch)]
        try:
            session = await self.accept(chat)
        except (ChatClientError, ValueError):
            return [FrameReceived(chat=chat, frame=frame)]
        connected = Connected(chat=chat, epoch=epoch, safety_code=session.safety_code,
                              pseudonym=self.device.pseudonym, restarted=held)
        for message in self._conversation(chat).to_send_again():
            await self.send_message(chat, message)
        if held:
            return [Rekeyed(chat=chat, epoch=epoch, safety_code=session.safety_code), connected]
        return [connected]
