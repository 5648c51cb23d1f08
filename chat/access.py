"""The one gate for chats: may this socket act on this chat? Every action that names a chat calls it.

`access_chat` loads the chat and returns it, or raises `ChatRefused` with the error code the socket hears.
The rule is `socket_may_act`, one condition per line, so tests prove each case. The answer to a socket that
may not act is the same whether or not the chat exists (`unknown_chat`); only a counsellor's own other tab
hears `not_yours`, because that person already knows the chat (docs/protocol.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from chat.models import Chat

VISITOR: Literal["visitor"] = "visitor"
COUNSELLOR: Literal["counsellor"] = "counsellor"
Role = Literal["visitor", "counsellor"]


class Act(enum.Enum):
    SPEAK = "speak"  # msg, typing
    ACCEPT = "accept"  # answer an offer or a rekey
    END = "end"  # leave / end
    TRANSFER = "transfer"
    PAY_RENT = "pay_rent"  # rent: keep a waiting chat's place (protocol.md §9)


@dataclass(frozen=True)
class SocketIdentity:
    """Who is on the other end of a socket: its channel name, and for staff their user id and supervisor right."""

    channel: str
    user_id: int | None = None
    may_supervise: bool = False


def socket_may_act(socket_role: Role, socket_identity: SocketIdentity, chat: Any, act: Act = Act.SPEAK) -> bool:
    """True only if this socket is a party to `chat` (a Chat row or None) for `act`."""
    if chat is None:
        return False
    if not socket_identity.channel:
        return False
    if socket_role == VISITOR:
        if act in (Act.ACCEPT, Act.TRANSFER):
            return False
        return bool(chat.visitor_channel) and chat.visitor_channel == socket_identity.channel
    if socket_role != COUNSELLOR or socket_identity.user_id is None:
        return False
    if act == Act.TRANSFER and socket_identity.may_supervise and chat.state != "queued":
        return True
    if chat.counsellor_id != socket_identity.user_id:
        return False
    if chat.counsellor_channel != socket_identity.channel:
        return False
    if act == Act.ACCEPT:
        return chat.pending_since is not None
    return bool(chat.state == "active")


def refusal_code(socket_role: Role, socket_identity: SocketIdentity, chat: Any) -> str:
    """The error code for a refused act: `not_yours` only for a staff member's own chat on another socket."""
    if (
        chat is not None
        and socket_role == COUNSELLOR
        and socket_identity.user_id is not None
        and chat.counsellor_id == socket_identity.user_id
        and chat.counsellor_channel != socket_identity.channel
    ):
        return "not_yours"
    return "unknown_chat"


class ChatRefused(Exception):
    """A frame that cannot be acted on: `code` is the `error` code the socket hears (docs/protocol.md, errors).

    `chat` and `seq` name the message a refusal is about, when it is about one (it was not delivered).
    """

    def __init__(self, code: str, message: str | None = None, *, chat: str | None = None,
                 seq: int | None = None) -> None:
        super().__init__(code)
        self.code, self.message, self.chat, self.seq = code, message, chat, seq


def access_chat(socket_role: Role, socket_identity: SocketIdentity, chat_id: str | None, act: Act,
                *, lock: bool = False) -> Chat:
    """The chat this socket may `act` on, read from the database (locked for the rest of the transaction
    with `lock`); otherwise ChatRefused with the code `refusal_code` gives, the same for a chat that does
    not exist."""
    from chat.models import Chat

    rows = Chat.objects.select_for_update() if lock else Chat.objects
    chat = rows.filter(pk=chat_id).first() if chat_id else None
    if not socket_may_act(socket_role, socket_identity, chat, act):
        raise ChatRefused(refusal_code(socket_role, socket_identity, chat))
    assert chat is not None  # socket_may_act is False for None
    return chat
