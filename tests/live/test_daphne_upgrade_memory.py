"""Against our Daphne (helpline.upstream.HelplineServer): once a websocket is open, the HTTP request that asked
for it is let go (`let_go_of_the_upgrade_request`), and so is the handshake (`forget_handshakes_once_open`).

Daphne hands the connection to the websocket, but Twisted's HTTP channel stayed registered as the
connection's producer and kept the upgrade request, headers and body buffer included, for as long as the
socket lived: 3.8 KiB a socket, two sockets a chat (docs/performance.md, eighth pass); Daphne's and
Autobahn's websocket protocol kept the request's headers three times over, and the handshake as bytes. The server here is ours,
in a process of its own (importing daphne.server installs Twisted's reactor), with a small application that
echoes websocket text and answers any HTTP request with how many such objects the process holds.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
import websockets

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.live

SOCKETS = 20
# The request being answered, and its channel; no open websocket's handshake.
HELD_WHILE_ANSWERING = {"WebRequest": 1, "HTTPChannel": 1, "handshakes kept": 0}

SERVER = """
import gc, json, sys
from helpline.serve import choose_event_loop
choose_event_loop()
from helpline.upstream import daphne_server_class

async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message["text"]})
    await receive()
    gc.collect()
    counts = {"WebRequest": 0, "HTTPChannel": 0, "handshakes kept": 0}
    for thing in gc.get_objects():
        if type(thing).__name__ in counts:
            counts[type(thing).__name__] += 1
        elif type(thing).__name__ == "WebSocketProtocol" and (
                thing.clean_headers or thing.http_headers or thing.http_request_data or thing.http_response_data
                or thing.request.headers):
            counts["handshakes kept"] += 1
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(counts).encode()})

daphne_server_class()(application=app, endpoints=[f"tcp:port={sys.argv[1]}:interface=127.0.0.1"],
                      verbosity=0).run()
"""


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                held(base)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start: {process.communicate()[1]}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def held(base: str) -> dict[str, int]:
    """How many HTTP requests and channels the server process holds, this request's own included."""
    with urllib.request.urlopen(base + "/held", timeout=10) as response:
        counts: dict[str, int] = json.loads(response.read())
        return counts


async def test_an_open_websocket_holds_no_http_request(server: str) -> None:
    url = server.replace("http://", "ws://") + "/ws/"
    sockets = [await websockets.connect(url, open_timeout=10) for _ in range(SOCKETS)]
    try:
        # Daphne forgets a finished request on its checker's next turn (about a second): until then it counts.
        deadline = time.monotonic() + 10
        counts = await asyncio.to_thread(held, server)
        while counts != HELD_WHILE_ANSWERING and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            counts = await asyncio.to_thread(held, server)
        assert counts == HELD_WHILE_ANSWERING, f"{SOCKETS} open websockets, the server holds {counts}"
        # And every socket still works both ways.
        for number, socket in enumerate(sockets):
            await socket.send(f"hello {number}")
        assert [await socket.recv() for socket in sockets] == [f"hello {number}" for number in range(SOCKETS)]
    finally:
        for socket in sockets:
            await socket.close()
