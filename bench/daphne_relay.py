"""The floor Daphne sets: the same bare relay as bench/baseline_relay.py, as a plain ASGI application served by
an unmodified `daphne` (Twisted and Autobahn underneath), with no Channels, no checks and no state beyond the
pairs. Its CPU per relayed frame against the `websockets` baseline's is what the server costs before any of
our code runs (docs/performance.md).

    python -m bench.daphne_relay --port 9002
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

Receive = Any
Send = Any

# pair path -> (the first socket's send, a future for the second socket's send)
WAITING: dict[str, tuple[Send, asyncio.Future[Send]]] = {}
PAIR_SECONDS = 60


async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 426, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    pair = scope["path"]
    if pair in WAITING:
        peer_send, future = WAITING.pop(pair)
        future.set_result(send)
    else:
        future = asyncio.get_running_loop().create_future()
        WAITING[pair] = (send, future)
        try:
            peer_send = await asyncio.wait_for(future, timeout=PAIR_SECONDS)
        except TimeoutError:
            WAITING.pop(pair, None)
            await send({"type": "websocket.close"})
            return
    await send({"type": "websocket.send", "text": "paired"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            break
        try:
            await peer_send({"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")})
        except Exception:  # the peer is gone
            break
    with contextlib.suppress(Exception):  # already closed
        await peer_send({"type": "websocket.close"})


def main() -> None:
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9002)
    args = parser.parse_args()
    from daphne.cli import CommandLineInterface

    sys.argv = ["daphne", "-b", "127.0.0.1", "-p", str(args.port), "bench.daphne_relay:application"]
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
