"""ASGI middleware that removes what could identify a visitor before Django or Channels sees a request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Headers that carry a client address, a fingerprint, or where the visitor came from.
# Accept-Language stays: LocaleMiddleware reads it once to pick /en/ or /nl/ for a bare "/",
# and nothing stores it.
IDENTIFYING_HEADERS = frozenset(
    {
        b"user-agent",
        b"referer",
        b"x-forwarded-for",
        b"x-real-ip",
        b"forwarded",
        b"true-client-ip",
        b"cf-connecting-ip",
        b"x-client-ip",
        b"x-cluster-client-ip",
        b"client-ip",
        b"via",
        b"sec-ch-ua",
        b"sec-ch-ua-mobile",
        b"sec-ch-ua-platform",
        b"dnt",
    }
)


def scrub_scope(scope: Scope) -> Scope:
    """Return a copy of an ASGI scope with no client address and no identifying headers."""
    cleaned = dict(scope)
    cleaned["client"] = None
    cleaned["headers"] = [
        (name, value) for name, value in scope.get("headers", []) if name.lower() not in IDENTIFYING_HEADERS
    ]
    return cleaned


class StripClientIdentity:
    """Wraps the whole ASGI application, so REMOTE_ADDR never exists anywhere in the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = scrub_scope(scope)
        await self.app(scope, receive, send)
