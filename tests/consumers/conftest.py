"""Consumer-test fixtures: the real ASGI app through Channels' WebsocketCommunicator, staff sessions, devices."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings as django_settings
from django.core.cache import cache

from chat.api_views import certify
from chat.models import CounsellorDevice
from chat.protocol.crypto import b64e, generate_private_key, public_key_bytes, sign_handshake, sign_visitor_key
from chat.schema import SERVER_TO_COUNSELLOR, SERVER_TO_VISITOR, Frame, validate_frame
from helpline.accounts.actions import create_staff
from helpline.accounts.roles import COUNSELLOR
from helpline.upstream import INBOX_EXTENSION
from tests.conftest import staff_client

ORIGIN = (b"origin", b"http://localhost")


def new_key() -> str:
    return b64e(public_key_bytes(generate_private_key()))


def signed_keys(identity: ec.EllipticCurvePrivateKey | None = None) -> dict[str, str]:
    """A fresh epoch key `vk` with the chat's identity key `ik` and its signature `vsig` (protocol v2)."""
    identity = identity or generate_private_key()
    vk = new_key()
    return {"vk": vk, "ik": b64e(public_key_bytes(identity)), "vsig": sign_visitor_key(identity, vk)}


def join_frame(lang: str = "en", identity: ec.EllipticCurvePrivateKey | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "join", "v": 2, **signed_keys(identity), "lang": lang, **extra}


def resume_frame(token: str, identity: ec.EllipticCurvePrivateKey | None = None) -> dict[str, Any]:
    return {"type": "resume", "resume": token, **signed_keys(identity)}


@dataclass
class Socket:
    """One websocket through the real ASGI application; every frame received is checked against the schema."""

    communicator: WebsocketCommunicator
    direction: str
    received: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, frame: dict[str, Any] | str) -> str:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self.communicator.send_to(text_data=text)
        return text

    # Generous: a loaded 2-core CI machine is slow; a frame that never comes still fails the test.
    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        text = await self.communicator.receive_from(timeout=timeout)
        checked = validate_frame(self.direction, text)
        assert isinstance(checked, Frame), f"server sent a frame outside the schema: {text} ({checked})"
        frame = json.loads(text)
        self.received.append(frame)
        return frame

    async def receive_text(self, timeout: float = 10) -> str:
        text: str = await self.communicator.receive_from(timeout=timeout)
        return text

    async def expect_text(self, text: str, timeout: float = 10) -> bool:
        """True when `text` arrives; queue listings before it (broadcast when the queue changes) are skipped."""
        while True:
            received = await self.receive_text(timeout)
            if received == text:
                return True
            assert json.loads(received).get("type") == "queue", f"expected {text}, got {received}"

    async def expect(self, frame_type: str, timeout: float = 10) -> dict[str, Any]:
        """The next frame, which must be of `frame_type` (frames of other types before it are skipped)."""
        while True:
            frame = await self.receive(timeout)
            if frame["type"] == frame_type:
                return frame
            if frame["type"] == "error":
                raise AssertionError(f"expected {frame_type}, got {frame}")

    async def error(self, code: str) -> dict[str, Any]:
        frame = await self.receive()
        while frame["type"] == "queue":  # the waiting list is broadcast whenever it changes
            frame = await self.receive()
        assert frame["type"] == "error", frame
        assert frame["code"] == code, frame
        return frame

    async def drain(self) -> None:
        """Read (and schema-check) whatever is already on its way."""
        while not await self.communicator.receive_nothing(timeout=0.1):
            await self.receive()

    async def nothing(self, timeout: float = 0.2) -> None:
        assert await self.communicator.receive_nothing(timeout=timeout)

    async def nothing_but_queue_listings(self, timeout: float = 0.5) -> None:
        """For `timeout` seconds, nothing arrives except queue listings (broadcast whenever the queue changes)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if await self.communicator.receive_nothing(timeout=left):
                return
            frame = await self.receive()
            assert frame["type"] == "queue", frame

    async def close(self) -> None:
        await self.communicator.disconnect()


@dataclass
class Visitor(Socket):
    vk: str = ""
    chat: str = ""
    resume: str = ""
    identity: ec.EllipticCurvePrivateKey = field(default_factory=generate_private_key)

    async def join(self, lang: str = "en", **extra: Any) -> dict[str, Any]:
        frame = join_frame(lang, self.identity, **extra)
        self.vk = frame["vk"]
        await self.send(frame)
        frame = await self.receive()
        if frame["type"] == "queued":
            self.chat, self.resume = frame["chat"], frame["resume"]
        return frame


@dataclass
class Counsellor(Socket):
    user: Any = None
    device_key: ec.EllipticCurvePrivateKey | None = None
    device: str = ""

    def accept_frame(self, chat: str, epoch: int, vk: str, *, key: ec.EllipticCurvePrivateKey | None = None
                     ) -> dict[str, Any]:
        ck = new_key()
        assert self.device_key is not None
        sig = sign_handshake(key or self.device_key, chat, epoch, vk, ck)
        return {"type": "accept", "chat": chat, "epoch": epoch, "ck": ck, "sig": sig, "device": self.device}

    async def take(self, visitor: Visitor) -> tuple[dict[str, Any], dict[str, Any]]:
        """Become available, answer the offer (a rekey) for `visitor`'s chat; returns (rekey, connected)."""
        await self.send({"type": "available", "on": True})
        rekey = await self.expect("rekey")
        assert rekey["chat"] == visitor.chat
        assert rekey["vk"] == visitor.vk
        assert rekey["ik"] == b64e(public_key_bytes(visitor.identity))
        accept = self.accept_frame(rekey["chat"], rekey["epoch"], rekey["vk"])
        await self.send(accept)
        connected = await visitor.expect("connected")
        assert connected["ck"] == accept["ck"]
        return rekey, connected


@pytest.fixture(autouse=True)
def _chat_settings(settings: Any, tmp_path: Any) -> Iterator[None]:
    settings.CHAT_TICK_SECONDS = 3600
    settings.DEMO_AUTOCERTIFY = False
    settings.CHAT_POW_BITS = None
    settings.VAR_DIR = tmp_path
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def org_key(settings: Any) -> ec.EllipticCurvePrivateKey:
    key = generate_private_key()
    settings.ORG_PUBLIC_KEY = b64e(public_key_bytes(key))
    return key


@pytest.fixture
async def layer() -> AsyncIterator[Any]:
    channel_layer = get_channel_layer()
    await channel_layer.flush()
    yield channel_layer
    await channel_layer.flush()


def application() -> Any:
    from helpline.asgi import application as app

    return app


@dataclass
class Opened:
    sockets: list[Socket] = field(default_factory=list)


@pytest.fixture
async def opened(layer: Any) -> AsyncIterator[Opened]:
    registry = Opened()
    yield registry
    for socket in registry.sockets:
        # Closed by the server already, or cancelled by a receive that timed out.
        with contextlib.suppress(BaseException):
            await socket.communicator.disconnect()
    await process_work_settled()


async def process_work_settled(timeout: float = 10) -> None:
    """Wait until this test's event loop has no routing pass, queue broadcast or leave-work still running.

    A server's loop runs for as long as the server does; a test's ends with the test, and a routing pass
    (one transaction, chat.actions.route) still running in the database thread would then hold the
    in-memory database's table lock while the test's data is flushed ("database table is locked").
    """
    from chat.process import work

    process = work()
    deadline = asyncio.get_running_loop().time() + timeout
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        pending = [task for task in (process.router, process.broadcast_task, *process.background)
                   if task is not None and not task.done()]
        if not pending:
            return
        await asyncio.wait(pending, timeout=left)


def with_inbox(communicator: WebsocketCommunicator, inbox: asyncio.Queue[Any] | None = None) -> WebsocketCommunicator:
    """Tell the consumer its inbox as our server does (helpline.upstream.INBOX_EXTENSION), so tests can fill it;
    `inbox` (a PausingInbox, say) replaces the communicator's own queue, which `receive` then reads."""
    if inbox is not None:
        communicator._input_queue = inbox  # asgiref binds the queue when the application starts
    communicator.scope["extensions"] = {INBOX_EXTENSION: communicator.input_queue}
    return communicator


@pytest.fixture
def open_visitor(opened: Opened) -> Any:
    async def make(inbox: asyncio.Queue[Any] | None = None, extensions: dict[str, Any] | None = None) -> Visitor:
        communicator = with_inbox(WebsocketCommunicator(application(), "/ws/visitor/", headers=[ORIGIN]), inbox)
        communicator.scope["extensions"].update(extensions or {})  # what else our server puts there
        connected, _code = await communicator.connect()
        assert connected
        visitor = Visitor(communicator=communicator, direction=SERVER_TO_VISITOR)
        opened.sockets.append(visitor)
        return visitor

    return make


def staff_cookie(user: Any, *, verified: bool = True) -> bytes:
    client = staff_client(user, verified=verified)
    name = django_settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


def make_staff(username: str, role: str = COUNSELLOR) -> Any:
    user, _ = create_staff(username, "a-long-test-password-1", [role], with_totp=True)
    return user


def certified_device(user: Any, org_key: ec.EllipticCurvePrivateKey | None) -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = generate_private_key()
    device = CounsellorDevice.objects.create(user=user, public_key=b64e(public_key_bytes(key)))
    if org_key is not None:
        certify(device, org_key, user.username[:40], 30)
    return key, device.id


@pytest.fixture
def open_counsellor(opened: Opened, org_key: ec.EllipticCurvePrivateKey) -> Any:
    async def make(username: str = "counsellor-1", role: str = COUNSELLOR, *, user: Any = None,
                   device: tuple[ec.EllipticCurvePrivateKey, str] | None = None, certified: bool = True,
                   verified: bool = True, inbox: asyncio.Queue[Any] | None = None,
                   extensions: dict[str, Any] | None = None) -> Counsellor:
        if user is None:
            user = await sync_to_async(make_staff)(username, role)
        if device is None:
            device = await sync_to_async(certified_device)(user, org_key if certified else None)
        cookie = await sync_to_async(staff_cookie)(user, verified=verified)
        communicator = with_inbox(WebsocketCommunicator(application(), "/ws/counsellor/",
                                                        headers=[ORIGIN, (b"cookie", cookie)]), inbox)
        communicator.scope["extensions"].update(extensions or {})  # what else our server puts there
        connected, code = await communicator.connect()
        assert connected, code
        counsellor = Counsellor(communicator=communicator, direction=SERVER_TO_COUNSELLOR, user=user,
                                device_key=device[0], device=device[1])
        opened.sockets.append(counsellor)
        listing = await counsellor.receive()
        assert listing["type"] == "queue"
        return counsellor

    return make
