"""The baseline: the least a relay can do, on the `websockets` library. Two sockets on /pair/<id> are paired
and every frame one sends is forwarded to the other; nothing is checked, stored or logged.

    python -m bench.baseline_relay --port 9001
"""

from __future__ import annotations

import argparse
import asyncio

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

MAX_FRAME_BYTES = 64 * 1024


class Pairs:
    def __init__(self) -> None:
        self.waiting: dict[str, tuple[ServerConnection, asyncio.Future[ServerConnection]]] = {}

    async def handle(self, socket: ServerConnection) -> None:
        pair = socket.request.path if socket.request else "/"
        if pair in self.waiting:
            first, future = self.waiting.pop(pair)
            future.set_result(socket)
            peer = first
        else:
            future: asyncio.Future[ServerConnection] = asyncio.get_running_loop().create_future()
            self.waiting[pair] = (socket, future)
            try:
                peer = await asyncio.wait_for(future, timeout=60)
            except TimeoutError:
                self.waiting.pop(pair, None)
                return
        await socket.send("paired")
        try:
            async for frame in socket:
                await peer.send(frame)
        except ConnectionClosed:
            pass
        finally:
            await peer.close()


async def run(host: str, port: int) -> None:
    pairs = Pairs()
    async with serve(pairs.handle, host, port, max_size=MAX_FRAME_BYTES, ping_interval=20, ping_timeout=30,
                     compression=None) as server:
        print(f"Serving on ws://{host}:{port}/", flush=True)
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args()
    asyncio.run(run(args.host, args.port))


if __name__ == "__main__":
    main()
