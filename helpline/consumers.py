"""Websocket endpoints that belong to the site, not to an app: the answer for a route that does not exist."""

from __future__ import annotations

from channels.generic.websocket import WebsocketConsumer

# 4404 mirrors HTTP 404 in the private-use close-code range (4000–4999).
CLOSE_NO_SUCH_ROUTE = 4404


class NoSuchRoute(WebsocketConsumer):  # type: ignore[misc]  # channels ships no type hints
    """Refuses the handshake quietly, instead of Channels raising (and logging) an exception."""

    def connect(self) -> None:
        self.close(code=CLOSE_NO_SUCH_ROUTE)
