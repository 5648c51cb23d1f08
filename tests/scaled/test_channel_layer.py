"""The scaled mode's channel layer, channels-redis's Pub/Sub layer, against a real Redis.

What we rely on it for: a burst of concurrent sends (every socket of a busy process sending at once) all
arrive, where redis-py 8's pool under channels-redis's core layer failed the 101st concurrent command and
closed sockets with 1011; and Redis keeps nothing of what passes through it, not even for a socket that
never reads (privacy.md: ciphertext in transit only).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis as redis_client
from channels.exceptions import ChannelFull
from channels_redis.pubsub import RedisPubSubChannelLayer

from helpline.upstream import LOCAL_CAPACITY, LocalFirstPubSubLayer
from tests.scaled.conftest import Deployment
from tests.scaled.test_deployment import all_redis_values

BURST = 1000


def layer_for(scaled: Deployment, prefix: str) -> Any:
    # A prefix of its own: the deployment's Daphnes use the same Redis.
    return RedisPubSubChannelLayer(hosts=[{"address": scaled.redis.url, "socket_timeout": 30}], prefix=prefix)


async def test_a_burst_of_concurrent_sends_all_arrive(scaled: Deployment) -> None:
    layer = layer_for(scaled, "burst")
    try:
        channels = [await layer.new_channel() for _ in range(BURST)]
        await asyncio.wait_for(asyncio.gather(*(layer.send(channel, {"type": "burst", "n": n})
                                                for n, channel in enumerate(channels))), 60)
        received = await asyncio.wait_for(asyncio.gather(*(layer.receive(channel) for channel in channels)), 60)
    finally:
        await layer.flush()
    assert sorted(message["n"] for message in received) == list(range(BURST))
    assert all(message["n"] == n for n, message in enumerate(received))  # each reached its own channel


async def test_redis_keeps_nothing_of_a_message_nobody_reads(scaled: Deployment) -> None:
    layer = layer_for(scaled, "unread")
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "secret", "text": "c" * 500})
        await layer.send(channel + "-nobody", {"type": "secret", "text": "c" * 500})
        assert (await asyncio.wait_for(layer.receive(channel), 10))["type"] == "secret"
    finally:
        await layer.flush()
    stored = all_redis_values(redis_client.Redis(host="127.0.0.1", port=scaled.redis.port))
    assert not [entry for entry in stored if b"unread" in entry or b"asgi" in entry]


async def test_an_idle_receive_outlives_the_redis_socket_timeout(scaled: Deployment) -> None:
    """A socket's receive waits on the layer for as long as the socket is quiet, far beyond Redis's socket
    timeout (the core layer's blocking read timed out with redis-py's 5 s default and closed idle sockets).
    A 0.2 s timeout and five of them idle instead of the deployment's 30 s: the same promise, no long wait."""
    layer = RedisPubSubChannelLayer(hosts=[{"address": scaled.redis.url, "socket_timeout": 0.2}], prefix="idle")
    try:
        channel = await layer.new_channel()
        waiting = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(1)  # nothing is sent
        assert not waiting.done(), waiting
        await layer.send(channel, {"type": "late"})
        assert (await asyncio.wait_for(waiting, 10))["type"] == "late"
    finally:
        await layer.flush()


def test_the_deployment_uses_the_pubsub_layer(scaled: Deployment) -> None:
    printed = scaled.manage("shell", "-c", "from channels.layers import get_channel_layer as get; "
                            "from channels_redis.pubsub import RedisPubSubChannelLayer as P; "
                            "print(type(get()).__module__, type(get()).__name__, isinstance(get(), P))")
    assert printed.strip().splitlines()[-1].split() == ["helpline.upstream", "LocalFirstPubSubLayer", "True"]


def redis_subscriber(scaled: Deployment, channel: str) -> Any:
    subscriber = redis_client.Redis(host="127.0.0.1", port=scaled.redis.port).pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(channel)
    subscriber.get_message(timeout=1)  # the subscription's confirmation
    return subscriber


async def test_a_message_for_a_socket_of_this_process_does_not_go_through_redis(scaled: Deployment) -> None:
    """The deployment's layer puts a message for a socket of its own process straight into the socket's inbox;
    Redis carries only what is for another process. A full inbox refuses, as a full channel does."""
    layer = LocalFirstPubSubLayer(hosts=[{"address": scaled.redis.url, "socket_timeout": 30}], prefix="local")
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    try:
        here, elsewhere = await layer.new_channel(), await layer.new_channel()
        layer.deliver_into(here, inbox)
        watching_here, watching_elsewhere = redis_subscriber(scaled, here), redis_subscriber(scaled, elsewhere)
        for n in range(50):
            await layer.send(here, {"type": "local", "n": n})
        await layer.send(elsewhere, {"type": "remote"})
        assert [inbox.get_nowait()["n"] for _ in range(50)] == list(range(50))
        assert (await asyncio.wait_for(layer.receive(elsewhere), 10))["type"] == "remote"
        assert await asyncio.to_thread(watching_elsewhere.get_message, timeout=5) is not None
        assert await asyncio.to_thread(watching_here.get_message, timeout=1) is None
        for _ in range(LOCAL_CAPACITY):
            inbox.put_nowait({"type": "waiting"})
        with pytest.raises(ChannelFull):
            await layer.send(here, {"type": "one too many"})
        layer.stop_delivering(here)  # the socket closed: what comes next goes the usual way
        await layer.send(here, {"type": "after"})
        assert await asyncio.to_thread(watching_here.get_message, timeout=5) is not None
    finally:
        await layer.flush()
