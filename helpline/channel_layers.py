"""The channel layers: Channels' and channels-redis's own, the embedded one with one change we measured a need for.

**Embedded default**: Channels' in-memory layer, with its expiry sweep made cheap.

`InMemoryChannelLayer` walks every channel with queued messages and every member of every group on *each*
receive and group send (`_clean_expired`). A chat socket receives once per relayed message, and every open
socket of a busy process waits on a receive, so the work per message grew with the number of sockets: at
a few hundred chats that walk was most of the server's CPU (docs/performance.md). Expiry is a coarse limit
(messages live `expiry` seconds, 30 here); checking it once a second keeps it as useful. Everything else
is Channels' own code.

**Scaled mode**: channels-redis's own `RedisPubSubChannelLayer`, unchanged (helpline/settings/base.py says why
it and not the core layer).
"""

from __future__ import annotations

import time
from typing import Final

from channels.layers import InMemoryChannelLayer

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
