"""The channel layers: Channels' own, each with one change we measured a need for.

**Embedded default**: Channels' in-memory layer, with its expiry sweep made cheap.

`InMemoryChannelLayer` walks every channel with queued messages and every member of every group on *each*
receive and group send (`_clean_expired`). A chat socket receives once per relayed message, and every open
socket of a busy process waits on a receive, so the work per message grew with the number of sockets: at
a few hundred chats that walk was most of the server's CPU (docs/performance.md). Expiry is a coarse limit
(messages live `expiry` seconds, 30 here); checking it once a second keeps it as useful. Everything else
is Channels' own code.

**Scaled mode**: channels-redis, with a connection pool that waits for a free connection. redis-py 8's
asyncio pool allows 100 connections per process and raises MaxConnectionsError on the 101st concurrent
command. With a few hundred sockets sending at once that error ended consumers with 1011 (sockets closed
under their chats, messages lost): the scaled-mode benchmark collapsed to 26 messages/s at saturation
(docs/performance.md). A BlockingConnectionPool makes the command wait instead; the wait slows this
process's reading, its sockets' backlogs grow, and the consumers' overload rule then refuses messages by
name, as in the embedded default. channels-redis builds its pools in `create_pool`, meant to be overridden.
"""

from __future__ import annotations

import time
from typing import Any, Final

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

CLEAN_EVERY_SECONDS: Final = 1.0


class EmbeddedChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]  # channels has no type stubs
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.cleaned_at = 0.0

    def _clean_expired(self) -> None:
        moment = time.monotonic()
        if moment - self.cleaned_at < CLEAN_EVERY_SECONDS:
            return
        self.cleaned_at = moment
        super()._clean_expired()


class ScaledChannelLayer(RedisChannelLayer):  # type: ignore[misc]  # channels-redis has no type stubs
    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        if "address" not in host:  # sentinels: channels-redis's own pool (our settings never configure them)
            return super().create_pool(index)
        # max_connections and timeout (seconds to wait for a free connection) come from the host's settings.
        return BlockingConnectionPool.from_url(host.pop("address"), **host)
