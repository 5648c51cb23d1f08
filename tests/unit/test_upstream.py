"""helpline.upstream: what we rely on in Daphne, Channels and asyncio is still what the installed versions do.

Each entry of `RELIES_ON` names upstream code that a piece of helpline.upstream copies, overrides or replaces.
If an upgrade changes that code, the digest test below fails: re-read the upstream change against the piece,
mend the piece if needed, then record the new digest. The behaviour itself is tested against a real Daphne
in tests/live (1008 closes, backpressure) and here where it needs no server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helpline import upstream


@pytest.mark.parametrize(("module", "name"), sorted(upstream.RELIES_ON))
def test_the_upstream_code_we_rely_on_is_unchanged(module: str, name: str) -> None:
    digest = upstream.upstream_source_digest(module, name)
    assert digest in upstream.RELIES_ON[(module, name)], (
        f"{module}.{name} changed upstream (sha256 {digest}): re-read it against helpline/upstream.py, then "
        "record the new digest in RELIES_ON")


def test_the_digest_reads_the_original_of_what_we_replaced() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    upstream.allow_policy_close()
    upstream.allow_policy_close()  # twice: still one wrapper
    assert getattr(WebSocketProtocol.serverClose, "allows_policy_close", False)
    assert not getattr(WebSocketProtocol.serverClose.replaces, "allows_policy_close", False)
    assert upstream.upstream_source_digest("daphne.ws_protocol", "WebSocketProtocol.serverClose") in \
        upstream.RELIES_ON[("daphne.ws_protocol", "WebSocketProtocol.serverClose")]


def test_a_policy_close_sends_1008_and_other_codes_go_to_daphne() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    upstream.allow_policy_close()
    sent: list[Any] = []

    class Protocol:
        def sendCloseFrame(self, code: int, isReply: bool) -> None:
            sent.append(("close frame", code))

        def sendClose(self, code: int) -> None:  # what Daphne's own serverClose calls
            sent.append(("daphne", code))

    WebSocketProtocol.serverClose(Protocol(), 1008)
    WebSocketProtocol.serverClose(Protocol(), 4409)
    WebSocketProtocol.serverClose(Protocol())
    assert sent == [("close frame", 1008), ("daphne", 4409), ("daphne", 1000)]


def test_the_inbox_is_found_only_where_a_server_put_it() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    assert upstream.socket_inbox({"type": "websocket", "extensions": {upstream.INBOX_EXTENSION: queue}}) is queue
    assert upstream.socket_inbox({"type": "websocket"}) is None
    assert upstream.socket_inbox({"type": "websocket", "extensions": {upstream.INBOX_EXTENSION: "nope"}}) is None
    assert upstream.unread_seconds(queue) == 0.0
    assert upstream.unread_seconds(None) == 0.0


async def test_dispatch_skips_the_connection_cleanup_and_refuses_unknown_types(monkeypatch: Any) -> None:
    import channels.consumer

    cleaned: list[bool] = []

    async def record_cleanup() -> None:
        cleaned.append(True)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", record_cleanup)
    handled: list[dict[str, Any]] = []

    class Consumer(upstream.DispatchWithoutConnectionCleanup):
        async def chat_thing(self, message: dict[str, Any]) -> None:
            handled.append(message)

    await Consumer().dispatch({"type": "chat.thing"})
    assert handled == [{"type": "chat.thing"}]
    assert cleaned == []
    with pytest.raises(ValueError, match="No handler"):
        await Consumer().dispatch({"type": "chat.other"})
