"""A message read from an idle socket whose peer is in another process (the scaled mode's channel layer, a real
Redis): it is handed to Redis in the turn that read it, one at a time per socket, in order with what the
socket's own turn relays; one that does not get there is relayed again in the socket's turn, or fails the socket
as any relay that cannot reach the layer does (chat.consumers.ChatSocket.receive_at_once)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
from channels.layers import get_channel_layer

from bench.stack import Redis, start_redis
from helpline.redis_hosts import channel_layer_hosts
from helpline.upstream import LocalFirstPubSubLayer
from tests.scaled.conftest import which

from .test_chat_process import both_ends_served_at_once, idle, msg, read_from_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    which("redis-server")  # missing: fails under CI, skips elsewhere
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.process.stop()


def scaled_layer(settings: Any, url: str) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "helpline.upstream.LocalFirstPubSubLayer",
                                           "CONFIG": {"hosts": channel_layer_hosts(url), "prefix": "across"}}}


def as_if_elsewhere(counsellor: Any) -> LocalFirstPubSubLayer:
    """The counsellor's socket as the visitor's process sees one of another process: what is sent to it goes
    through Redis, which its socket reads (the layer's subscription) as any socket of the scaled mode does."""
    layer = get_channel_layer()
    assert isinstance(layer, LocalFirstPubSubLayer)
    channel = next(channel for channel, inbox in layer.inboxes.items() if inbox is counsellor["counsellor inbox"])
    layer.stop_delivering(channel)
    return layer


def waiting_for_redis(layer: LocalFirstPubSubLayer) -> int:
    return sum(len(batches.waiting) for batches in layer.batches.values())


async def test_a_message_for_a_peer_in_another_process_goes_to_redis_in_the_turn_that_read_it_and_in_order(
        open_visitor: Any, open_counsellor: Any, settings: Any, redis: Redis) -> None:
    scaled_layer(settings, redis.url)
    ends = await both_ends_served_at_once(open_visitor, open_counsellor)
    visitor, counsellor = ends["visitor"], ends["counsellor"]
    layer = as_if_elsewhere(ends)

    await idle(ends["visitor inbox"])
    first = read_from_socket(ends["visitor inbox"], msg(visitor.chat, 0))
    assert waiting_for_redis(layer) == 1 and ends["visitor inbox"].qsize() == 0  # in the read's own turn
    # On its way to Redis still: the next goes by the socket's own turn, after the first.
    second = read_from_socket(ends["visitor inbox"], msg(visitor.chat, 1))
    assert ends["visitor inbox"].qsize() == 1
    for text in (first, second):
        assert await counsellor.expect_text(text)
    assert ends["counsellor sent"] == [first, second]


async def test_a_message_redis_refused_is_not_lost_quietly_the_socket_fails_as_any_relay_redis_refuses(
        open_visitor: Any, open_counsellor: Any, settings: Any, redis: Redis) -> None:
    """Redis refuses the publish (here: its ACL no longer allows PUBLISH; its subscriptions go on): the message is
    relayed again in the socket's own turn, which meets the same refusal and ends the socket with it, as when
    that turn relays a message (Daphne then closes it with 1011, and the visitor's page resumes and sends the
    message again). Quietly dropped, the socket would stay open and the message would be gone."""
    scaled_layer(settings, redis.url)
    ends = await both_ends_served_at_once(open_visitor, open_counsellor)
    visitor = ends["visitor"]
    layer = as_if_elsewhere(ends)
    await idle(ends["visitor inbox"])
    admin = redis_client.Redis(host="127.0.0.1", port=redis.port)
    admin.acl_setuser("default", enabled=True, nopass=True, commands=["+@all", "-publish"], keys=["*"],
                      channels=["*"])
    read_from_socket(ends["visitor inbox"], msg(visitor.chat, 0))
    assert waiting_for_redis(layer) == 1  # handed over in the read's turn
    with pytest.raises(redis_client.exceptions.NoPermissionError):
        await the_socket_ends(visitor)
    admin.close()


async def the_socket_ends(socket: Any) -> None:
    """Wait for the socket's application to end; the error it ended with is raised here."""
    await asyncio.wait_for(asyncio.shield(socket.communicator.future), 20)
