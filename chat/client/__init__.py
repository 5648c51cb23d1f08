"""The Python chat client: a visitor and a counsellor that speak protocol v2 (docs/chat.md, protocol.md).

Used by the live-server tests and the load benchmark, and meant as the reference for anyone who writes
another client. Everything cryptographic comes from ``chat.protocol.crypto``; this package adds the
frames, the connection handling and the HTTP steps (proof of work, staff sign-in, device enrolment).

    async with VisitorClient(base_url, org_public_key=key) as visitor:
        await visitor.join("en")
        connected = await visitor.wait_for(Connected)
        await visitor.send_text("Hello")
"""

from chat.client.base import ChatClientError, ClientBase
from chat.client.counsellor import CounsellorClient, DeviceIdentity
from chat.client.events import (
    ChatEnded,
    Connected,
    Delivered,
    Event,
    HandedOver,
    HandoverRefused,
    HandshakeRefused,
    KeyChangeRefused,
    MessageReceived,
    MessageRejected,
    Offered,
    PresenceChanged,
    QueueChanged,
    Queued,
    Rekeyed,
    RentAsked,
    ServerError,
    SocketClosed,
    Transferred,
    TypingChanged,
)
from chat.client.http import StaffSession, fetch_org_public_key, fetch_pow_challenge, send_feedback, sign_in_staff
from chat.client.session import EpochSession
from chat.client.visitor import VisitorClient

__all__ = [
    "ChatClientError",
    "ChatEnded",
    "ClientBase",
    "Connected",
    "CounsellorClient",
    "Delivered",
    "DeviceIdentity",
    "EpochSession",
    "Event",
    "HandedOver",
    "HandoverRefused",
    "HandshakeRefused",
    "KeyChangeRefused",
    "MessageReceived",
    "MessageRejected",
    "Offered",
    "PresenceChanged",
    "QueueChanged",
    "Queued",
    "Rekeyed",
    "RentAsked",
    "ServerError",
    "SocketClosed",
    "StaffSession",
    "Transferred",
    "TypingChanged",
    "VisitorClient",
    "fetch_org_public_key",
    "fetch_pow_challenge",
    "send_feedback",
    "sign_in_staff",
]
