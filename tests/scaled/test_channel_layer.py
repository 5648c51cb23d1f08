"""The scaled mode's channel layer against a real Redis: a burst of commands larger than the connection pool
waits for connections instead of failing (helpline/channel_layers.py).

Under load each socket's send is a command in flight; redis-py 8's pool raised MaxConnectionsError beyond
its size, which closed sockets with 1011 in the scaled benchmark. A small pool makes the burst cheap to test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer
from redis.exceptions import MaxConnectionsError

from helpline.channel_layers import ScaledChannelLayer
from tests.scaled.conftest import Deployment

POOL = 10
BURST = 100


def layer_of(kind: type[RedisChannelLayer], scaled: Deployment, prefix: str) -> Any:
    host = {"address": scaled.redis.url, "socket_timeout": 30, "max_connections": POOL}
    if kind is ScaledChannelLayer:
        host["timeout"] = 10
    # A prefix of its own: the deployment's Daphnes use the same Redis.
    return kind(hosts=[host], prefix=prefix, expiry=30, capacity=BURST)


async def burst(layer: Any) -> list[dict[str, Any]]:
    channels = [await layer.new_channel() for _ in range(BURST)]
    await asyncio.gather(*(layer.send(channel, {"type": "burst", "n": n}) for n, channel in enumerate(channels)))
    return list(await asyncio.gather(*(layer.receive(channel) for channel in channels)))


async def test_a_burst_beyond_the_pool_waits_for_connections_and_delivers_everything(scaled: Deployment) -> None:
    layer = layer_of(ScaledChannelLayer, scaled, "burst-scaled")
    try:
        received = await asyncio.wait_for(burst(layer), 60)
    finally:
        await layer.close_pools()
    assert sorted(message["n"] for message in received) == list(range(BURST))


async def test_channels_redis_own_pool_fails_such_a_burst(scaled: Deployment) -> None:
    """What the scaled layer exists for: the plain layer refuses the commands beyond its pool."""
    layer = layer_of(RedisChannelLayer, scaled, "burst-plain")
    try:
        with pytest.raises(MaxConnectionsError):
            await asyncio.wait_for(burst(layer), 60)
    finally:
        await layer.close_pools()


def test_the_deployment_uses_the_waiting_pool(scaled: Deployment) -> None:
    printed = scaled.manage("shell", "-c", "from channels.layers import get_channel_layer as get; layer = get(); "
                            "host = layer.hosts[0]; print(type(layer).__name__, host['max_connections'], "
                            "host['timeout'])")
    name, size, timeout = printed.strip().splitlines()[-1].split()  # after the shell's own notes
    assert name == "ScaledChannelLayer" and int(size) >= 100 and float(timeout) > 0
