"""How the scaled mode's channel layer connects to Redis (settings.CHANNEL_LAYERS; tests use the same)."""

from __future__ import annotations

from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

# How long a command may wait for Redis's answer. The Pub/Sub reader never blocks on a command (it polls), so
# this bounds only a publish or a (un)subscribe to a Redis that stopped answering.
SOCKET_TIMEOUT_SECONDS = 30


def channel_layer_hosts(url: str) -> list[dict[str, Any]]:
    """channels-redis's `hosts` for the Redis at `url`.

    After Redis restarts, every connection in the layer's pool is dead, and the first command sent on each
    fails ("Connection closed by server"); redis-py only reconnects for the next one. Without a retry here
    the first relayed message of each process after a restart failed, waited for chat.process.on_layer's
    pause (0.2 s) and was sent again, and the sender's next message, held up behind it past the relay deadline,
    was refused as if the service were busy (tests/scaled/test_channel_layer.py). One immediate retry on a
    fresh connection, for a connection error only: a timeout is not retried (it would double a 30 s wait). A
    publish whose answer was lost may so reach Redis twice, as with on_layer's retry; a receiving client
    refuses the repeat before decrypting it (docs/protocol.md §6: `seq` below the next expected is a replay).
    """
    return [{"address": url, "socket_timeout": SOCKET_TIMEOUT_SECONDS,
             "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))}]
