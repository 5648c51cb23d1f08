"""What a client tells its caller: one small immutable record per thing that happened on the socket."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Base of every event; ``chat`` is empty for events that belong to no chat."""

    chat: str


@dataclass(frozen=True)
class Queued(Event):
    """The visitor waits; ``position`` 1 is next. ``resume`` is set after join and resume; ``reason`` says why a
    chat is back in the queue (``handover``, ``requeued``)."""

    position: int
    resume: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RentAsked(Event):
    """While waiting, the server asks for the next period of the place (protocol.md §9); ``due`` in seconds."""

    iterations: int
    bits: int
    due: int


@dataclass(frozen=True)
class Connected(Event):
    """An epoch's handshake verified and its keys derived (visitor: a counsellor accepted; counsellor: accepted).

    ``restarted`` is true for every epoch after the first one this client saw for the chat: the page
    should say that the secure session restarted.
    """

    epoch: int
    safety_code: str
    pseudonym: str = ""
    restarted: bool = False


@dataclass(frozen=True)
class Offered(Event):
    """Counsellor side: the server offers this chat (its visitor's key arrived); answer with ``accept``."""

    epoch: int


@dataclass(frozen=True)
class Rekeyed(Event):
    """Counsellor side: the visitor came back with a new key and this client answered with a new accept."""

    epoch: int
    safety_code: str


@dataclass(frozen=True)
class HandshakeRefused(Event):
    """Visitor side: the certificate or the handshake signature did not verify; no keys were made."""

    epoch: int
    reason: str


@dataclass(frozen=True)
class MessageReceived(Event):
    """A message that authenticated. ``missing`` counts messages that never arrived before this one."""

    epoch: int
    seq: int
    message: dict[str, Any]
    missing: int = 0

    @property
    def text(self) -> str:
        body = self.message.get("body")
        return body if self.message.get("t") == "text" and isinstance(body, str) else ""


@dataclass(frozen=True)
class MessageRejected(Event):
    """A ``msg`` frame that was replayed, for an unknown epoch, or did not authenticate; it was dropped."""

    epoch: int
    seq: int
    reason: str


@dataclass(frozen=True)
class TypingChanged(Event):
    on: bool


@dataclass(frozen=True)
class ChatEnded(Event):
    """``by`` is visitor, counsellor or timeout; ``feedback`` is the visitor's one-time feedback token, if any."""

    by: str
    feedback: str | None = None


@dataclass(frozen=True)
class QueueChanged(Event):
    """Counsellor side: the waiting list, as the server sent it (``chats``: dicts with chat, lang, waiting)."""

    chats: tuple[dict[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ServerError(Event):
    """An ``error`` frame (protocol.md §8). ``seq`` names the message a busy server did not deliver."""

    code: str
    message: str
    seq: int | None = None


@dataclass(frozen=True)
class SocketClosed(Event):
    """The websocket closed (by either side); ``code`` is the close code when known."""

    code: int | None = None


@dataclass(frozen=True)
class FrameReceived(Event):
    """Any other frame, passed on as it came (e.g. kinds a later server adds)."""

    frame: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivered(Event):
    """The other side's receipt (inside the encryption) confirmed these message ids."""

    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PresenceChanged(Event):
    """The other side's connection dropped (``away``; ``grace``: seconds the chat waits, when the server says)
    or is back."""

    peer: str = ""
    grace: int | None = None


@dataclass(frozen=True)
class KeyChangeRefused(Event):
    """Counsellor side: a rekey whose visitor identity key is not the one pinned for the chat, or whose signature
    does not verify; it was not answered (docs/protocol.md §5). A person must be told: this may be an attack."""

    epoch: int
    reason: str


@dataclass(frozen=True)
class HandedOver(Event):
    """Counsellor side: a colleague's hand-over bundle opened (its sender verified against the organisation key):
    their pseudonym, note and transcript. The visitor identity key it carried is now pinned for the chat."""

    sender: str = ""
    note: str = ""
    transcript: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class HandoverRefused(Event):
    """Counsellor side: a hand-over bundle that did not open or whose sender did not verify; nothing was pinned."""

    reason: str = ""


@dataclass(frozen=True)
class Transferred(Event):
    """Counsellor side: a chat this person handed over was ``taken`` by the colleague or ``returned`` to them."""

    outcome: str = ""
