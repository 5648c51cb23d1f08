"""Starts Daphne the way this service needs it: no client addresses in any log, bounded frames."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import time
from functools import partial
from typing import Any

logger = logging.getLogger("helpline.access")

# protocol.md §7 caps frames at 64 KiB; the consumer answers up to this size with a clear
# `bad_frame`, and anything larger is cut off by the server before it is read.
WEBSOCKET_MAX_MESSAGE_BYTES = 128 * 1024


class PrivateAccessLog:
    """Daphne's action logger, replaced: method, path (no query), status and duration; no client."""

    def __call__(self, protocol: Any, action: str, details: dict[str, Any]) -> None:
        if action == "complete":
            logger.info(
                "%s %s %s %.3fs",
                details.get("method", "-"),
                str(details.get("path", "-")).split("?", 1)[0],
                details.get("status", "-"),
                float(details.get("time_taken", 0.0)),
            )
        elif action in {"websocket_connected", "websocket_disconnected", "websocket_rejected"}:
            logger.info("%s %s", action.replace("_", " "), str(details.get("path", "-")).split("?", 1)[0])


# Backpressure (docs/performance.md, overload). Daphne reads every socket as fast as data arrives and queues
# the frames for the consumer without limit: a process past its capacity then spends its time reading and
# refusing frames it cannot relay, and relays less the more it is offered. With a bound, a socket whose
# consumer has UNREAD_PAUSE_AT frames waiting is not read until it is down to UNREAD_RESUME_AT; the rest
# wait in the kernel, and TCP slows the sender. Reads of at most SOCKET_READ_BYTES keep one read from
# queueing far past the bound (a 64 KiB read holds ~150 chat frames); a larger frame takes several reads.
UNREAD_PAUSE_AT = 8
UNREAD_RESUME_AT = 2
SOCKET_READ_BYTES = 4096


class PausingInbox(asyncio.Queue[dict[str, Any]]):
    """A websocket's frames waiting for its consumer: past a bound, the socket is not read until it drains.

    `unread_seconds` adds up the time the socket was not read, so a rate limit can tell a sender who
    kept to it from one who did not: frames a sender sent while the server was not reading arrive
    together once it reads again (chat.consumers.RateLimit).
    """

    def __init__(self, transport: Any, pause_at: int = UNREAD_PAUSE_AT, resume_at: int = UNREAD_RESUME_AT) -> None:
        super().__init__()
        self.transport = transport
        self.pause_at, self.resume_at = pause_at, resume_at
        self.paused_since: float | None = None
        self.unread_total = 0.0

    @property
    def unread_seconds(self) -> float:
        """Seconds this socket has not been read, in total, including a pause still going on."""
        ongoing = time.monotonic() - self.paused_since if self.paused_since is not None else 0.0
        return self.unread_total + ongoing

    def put_nowait(self, item: dict[str, Any]) -> None:
        super().put_nowait(item)
        if self.paused_since is None and self.qsize() >= self.pause_at and item.get("type") == "websocket.receive":
            self.paused_since = time.monotonic()
            self.transport.pauseProducing()

    def get_nowait(self) -> dict[str, Any]:  # asyncio.Queue.get ends here too
        item = super().get_nowait()
        if self.paused_since is not None and self.qsize() <= self.resume_at:
            self.unread_total += time.monotonic() - self.paused_since
            self.paused_since = None
            self.transport.resumeProducing()  # a no-op once the connection is closing
        return item


# Garbage collection (docs/performance.md, "pauses"). With CPython's defaults the youngest generation is
# collected every 700 new objects; under load that happens many times a second, so objects that live only
# as long as a message survive two collections and reach the oldest generation. That generation then fills
# up fast and is collected every second or so, each time walking every object of every open socket with
# the whole process stopped: at 2,000 chats 0.6-0.8 s per collection (measured with gc.callbacks), which
# was the relay p99. Collecting the young generations 70 times less often lets such objects die young.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_garbage_collection() -> None:
    """Freeze what start-up made (it lives as long as the process) and collect young objects less often."""
    gc.collect()
    gc.freeze()  # never walked again by a collection
    gc.set_threshold(*GC_THRESHOLDS)


def daphne_server_class() -> type:
    # Imported here, not at the top: importing daphne.server installs Twisted's asyncio reactor, which
    # must not happen to every process that imports this module (the bench, the unit tests).
    from daphne.server import Server

    class HelplineServer(Server):  # type: ignore[misc]  # daphne has no type stubs
        """Daphne, with a bounded inbox for every websocket (PausingInbox); HTTP is as Daphne does it."""

        def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
            transport: Any = getattr(protocol, "transport", None)
            if scope.get("type") != "websocket" or not hasattr(transport, "pauseProducing"):
                return super().create_application(protocol, scope)  # HTTP, or a transport that cannot pause
            # Daphne's own create_application (daphne 4.2), with the bounded inbox for its asyncio.Queue().
            assert "application_instance" not in self.connections[protocol]
            transport.bufferSize = SOCKET_READ_BYTES  # Twisted's TCP and unix transports read up to this at once
            inbox = PausingInbox(transport)
            scope.setdefault("asgi", {"version": "3.0"})
            instance = self.application(scope=scope, receive=inbox.get, send=partial(self.handle_reply, protocol))
            if protocol not in self.connections:
                return None
            self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
            return inbox

    return HelplineServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HELPLINE_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HELPLINE_PORT", "8000")))
    parser.add_argument("--unix-socket", default=None, help="listen on a unix socket instead (behind a proxy)")
    parser.add_argument("--access-log", action="store_true", help="log method, path, status and duration")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpline.settings.dev")
    import django

    django.setup()  # applies settings.LOGGING, whose handlers all carry the redaction filter
    if args.access_log:
        logger.setLevel(logging.INFO)
    from helpline.asgi import application

    tune_garbage_collection()

    if args.unix_socket:
        endpoints = [f"unix:{args.unix_socket}"]
    else:
        interface = args.host.replace(":", r"\:")
        endpoints = [f"tcp:port={args.port}:interface={interface}"]
    print(f"Serving on {'unix:' + args.unix_socket if args.unix_socket else f'http://{args.host}:{args.port}/'}",
          flush=True)
    daphne_server_class()(
        application=application,
        endpoints=endpoints,
        action_logger=PrivateAccessLog() if args.access_log else None,
        verbosity=0,
        websocket_max_message_size=WEBSOCKET_MAX_MESSAGE_BYTES,
        websocket_max_frame_size=WEBSOCKET_MAX_MESSAGE_BYTES,
        # A closed socket's consumer gets this long to record that it left before Daphne cancels it. When
        # hundreds close at once their database writes queue up; 5 s was too short at 500 chats (bench).
        application_close_timeout=20,
        ping_interval=20,
        ping_timeout=30,
    ).run()


if __name__ == "__main__":
    main()
