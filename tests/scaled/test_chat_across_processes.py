"""A chat whose visitor and counsellor sit on different Daphne processes, through Redis and PostgreSQL.

Then the failures a scaled deployment must survive: the visitor's Daphne dies mid-chat (the visitor comes
back through nginx, which sends it to the other process, and resumes), and Redis restarts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis as redis_client
from websockets.exceptions import InvalidStatus

from chat.client import (
    ChatEnded,
    Connected,
    CounsellorClient,
    DeviceIdentity,
    MessageReceived,
    Queued,
    Rekeyed,
    VisitorClient,
)
from chat.client.http import StaffSession, sign_in_staff
from chat.protocol import crypto
from tests.conftest import next_demo_code
from tests.scaled.conftest import Deployment, fetch
from tests.scaled.test_deployment import all_redis_values

pytestmark = pytest.mark.scaled

CANARY = "scaled chat canary: amber-lighthouse-6130"


@dataclass
class Staff:
    session: StaffSession
    device: DeviceIdentity


async def sign_in_and_certify(scaled: Deployment, base_url: str, username: str) -> Staff:
    """Sign in on one Daphne; register a device key; certify it as an operator would, with the org key file."""
    passwords = json.loads((scaled.static_root.parent / "demo_credentials.json").read_text())

    def code() -> str:
        return next_demo_code(scaled.env, username)

    session = await sign_in_staff(base_url, username, passwords[username], code, code_attempts=1)
    key = crypto.generate_private_key()
    public = crypto.b64e(crypto.public_key_bytes(key))
    registered = await session.json("POST", "/chat/device/", {"key": public}, expect=(200, 201))
    device = str(registered["device"])
    await asyncio.to_thread(scaled.manage, "certify_device", device, "--org-key", str(scaled.org_private_key),
                            "--pseudonym", "Robin")
    answer = await session.json("GET", f"/chat/device/{device}/")
    assert answer["status"] == "certified"
    return Staff(session, DeviceIdentity(private_key=key, device=device, cert=answer["cert"]))


@pytest.fixture
async def counsellor(scaled: Deployment) -> AsyncIterator[CounsellorClient]:
    """A counsellor on the second Daphne process."""
    staff = await sign_in_and_certify(scaled, scaled.daphnes[1].base_url, "demo-counsellor")
    client = CounsellorClient(staff.session, staff.device)
    await client.open()
    await client.set_available(True)
    yield client
    await client.close()


async def start_chat(scaled: Deployment, counsellor: CounsellorClient, base_url: str) -> tuple[VisitorClient, str]:
    visitor = VisitorClient(base_url, org_public_key=scaled.org_public_key)
    await visitor.join("en")
    queued = await visitor.wait_for(Queued, timeout=30)
    connected = await visitor.wait_for(Connected, timeout=30)
    on_counsellor = await counsellor.wait_for(Connected, lambda event: event.chat == queued.chat, timeout=30)
    assert connected.safety_code == on_counsellor.safety_code
    return visitor, queued.chat


async def exchange(visitor: VisitorClient, counsellor: CounsellorClient, chat: str, label: str,
                   epoch: int | None = None) -> None:
    await visitor.send_text(f"{CANARY} {label} v")
    received = await counsellor.wait_for(
        MessageReceived, lambda event: event.chat == chat and (epoch is None or event.epoch == epoch), timeout=30)
    assert received.text == f"{CANARY} {label} v"
    await counsellor.send_text(chat, f"{CANARY} {label} c")
    assert (await visitor.wait_for(MessageReceived, timeout=30)).text == f"{CANARY} {label} c"


async def with_retries(connect: Callable[[], Awaitable[None]], attempts: int = 5) -> None:
    """Connect as the browser pages do: a refused handshake is tried again after a pause."""
    for attempt in range(attempts):
        try:
            await connect()
            return
        except InvalidStatus:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1)


def point_at(client: VisitorClient, base_url: str) -> None:
    client.base_url = base_url
    client.ws_url = "ws" + base_url[len("http"):] + client.path


async def test_visitor_and_counsellor_on_different_daphne_processes(
        scaled: Deployment, counsellor: CounsellorClient) -> None:
    visitor, chat = await start_chat(scaled, counsellor, scaled.daphnes[0].base_url)
    await exchange(visitor, counsellor, chat, "across")
    await visitor.leave()
    await visitor.close()
    values = b"\n".join(all_redis_values(redis_client.Redis(host="127.0.0.1", port=scaled.redis.port)))
    assert b"amber-lighthouse" not in values


async def test_visitor_resumes_through_nginx_when_its_daphne_dies(
        scaled: Deployment, counsellor: CounsellorClient) -> None:
    first = scaled.daphnes[0]
    visitor, chat = await start_chat(scaled, counsellor, first.base_url)
    await exchange(visitor, counsellor, chat, "before")
    try:
        first.process.kill()
        await visitor.drop()
        # Back through the proxy: nginx finds the dead upstream and hands the socket to the live one.
        point_at(visitor, scaled.nginx.base_url)
        await visitor.resume()
        rekeyed = await counsellor.wait_for(Rekeyed, lambda event: event.chat == chat, timeout=30)
        again = await visitor.wait_for(Connected, timeout=30)
        assert again.restarted and again.epoch == rekeyed.epoch == 1
        await exchange(visitor, counsellor, chat, "after", epoch=1)
        await visitor.leave()
        await visitor.close()
    finally:
        if not first.process.alive():
            first.start()


def subscriptions(scaled: Deployment) -> set[bytes]:
    return set(redis_client.Redis(host="127.0.0.1", port=scaled.redis.port).pubsub_channels())


async def test_chat_recovers_after_redis_restarts(scaled: Deployment, counsellor: CounsellorClient) -> None:
    visitor, chat = await start_chat(scaled, counsellor, scaled.nginx.base_url)
    await exchange(visitor, counsellor, chat, "before-redis")
    before = subscriptions(scaled)
    assert len(before) >= 3  # the visitor's and the counsellor's channels and the queue group, at least
    scaled.redis.restart()
    # A new Redis knows no subscriptions. Each Daphne's Pub/Sub reader reconnects and subscribes again to
    # every channel of its sockets (channels-redis, redis-py's reconnect): the sockets never close, and
    # the chat goes on with the same keys.
    for _ in range(300):
        if subscriptions(scaled) >= before:
            break
        await asyncio.sleep(0.1)
    assert subscriptions(scaled) >= before, "the Daphnes did not subscribe again after Redis restarted"
    await exchange(visitor, counsellor, chat, "after-redis")
    assert visitor.connected and counsellor.connected
    await visitor.leave()
    await counsellor.wait_for(ChatEnded, lambda event: event.chat == chat, timeout=30)
    await visitor.close()


async def test_a_chat_ended_as_abusive_on_one_process_raises_the_price_on_the_other(
        scaled: Deployment, counsellor: CounsellorClient) -> None:
    # The raise lives in the cache (Redis here), not in a process's memory (protocol.md §9).
    quiet = json.loads(fetch(scaled.daphnes[0].base_url + "/chat/pow/")[2])
    assert quiet["bits"] == 0, "joining is free while the queue is quiet"
    visitor, chat = await start_chat(scaled, counsellor, scaled.daphnes[0].base_url)  # counsellor on daphnes[1]
    try:
        await counsellor.end(chat, {"contact": "abusive"})
        await visitor.wait_for(ChatEnded, timeout=30)
        raised = json.loads(fetch(scaled.daphnes[0].base_url + "/chat/pow/")[2])
        assert raised["bits"] > 0 and raised["iterations"] > 1
    finally:
        await visitor.close()
        # The later tests of this session need the quiet price back.
        await asyncio.to_thread(scaled.manage, "shell", "-c", "from django.core.cache import cache; "
                                "from chat.pow import ABUSE_CACHE_KEY; cache.delete(ABUSE_CACHE_KEY)")
