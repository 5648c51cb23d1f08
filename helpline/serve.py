"""Starts Daphne the way this service needs it: no client addresses in any log, bounded frames."""

from __future__ import annotations

import argparse
import gc
import logging
import os
from typing import Any

from helpline.upstream import (
    allow_policy_close,
    close_daphnes_spare_loop,
    daphne_event_loop,
    daphne_server_class,
    defer_autobahn_log_formatting,
    run_daphne_on,
    twisted_reactor_installed,
)

logger = logging.getLogger("helpline.access")

# protocol.md §7 caps frames at 64 KiB; the consumer answers up to this size with a clear
# `bad_frame`, and anything larger is cut off by the server before it is read.
WEBSOCKET_MAX_MESSAGE_BYTES = 128 * 1024


class PrivateAccessLog:
    """Daphne's action logger, replaced: method, path (no query) and status; no client, no duration.

    Off unless asked for (--access-log): whatever keeps the output (journald, a container engine) stamps each
    line with the time, and a socket's connect and disconnect lines then say how long a chat lasted.
    """

    def __call__(self, protocol: Any, action: str, details: dict[str, Any]) -> None:
        if action == "complete":
            logger.info(
                "%s %s %s",
                details.get("method", "-"),
                str(details.get("path", "-")).split("?", 1)[0],
                details.get("status", "-"),
            )
        elif action in {"websocket_connected", "websocket_disconnected", "websocket_rejected"}:
            logger.info("%s %s", action.replace("_", " "), str(details.get("path", "-")).split("?", 1)[0])


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


# The event loop under Twisted (docs/performance.md, "Headroom, fifth pass"). Daphne runs Twisted's asyncio
# reactor; every socket's readiness and every callback and timer of every consumer pass through its loop.
# uvloop's (libuv, in C) does that work for less CPU than asyncio's own, most of all with thousands of sockets
# open. HELPLINE_EVENT_LOOP=asyncio keeps Python's own (to compare, or where uvloop is not installed: it is not
# made for Windows).
EVENT_LOOPS = ("uvloop", "asyncio")


def choose_event_loop() -> str:
    """Make the loop Daphne will run on uvloop's where it is installed; call before django.setup() (which
    imports daphne.server, and that installs a reactor on a loop of asyncio's own where none is yet)."""
    asked = os.environ.get("HELPLINE_EVENT_LOOP", "")
    if asked and asked not in EVENT_LOOPS:
        raise SystemExit(f"HELPLINE_EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}, not {asked!r}")
    if twisted_reactor_installed():
        raise RuntimeError("choose_event_loop() must run before daphne.server is imported (django.setup())")
    if asked == "asyncio":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        if asked == "uvloop":
            raise SystemExit("HELPLINE_EVENT_LOOP=uvloop, but uvloop is not installed") from None
        return "asyncio"  # not built for this platform: Python's own loop does the same, for more CPU
    run_daphne_on(uvloop.new_event_loop())
    return "uvloop"


def running_event_loop_name() -> str:
    """Which loop Daphne's reactor runs on: "uvloop" or "asyncio" (said at start-up, and asked by the tests)."""
    return "uvloop" if type(daphne_event_loop()).__module__.startswith("uvloop") else "asyncio"


def forget_sockets_of_an_earlier_boot() -> None:
    """The embedded default is one process: no socket of its last run survived, so no chat may wait on one."""
    from chat import actions

    if actions.single_process():
        actions.forget_sockets_of_an_earlier_boot(actions.now())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HELPLINE_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HELPLINE_PORT", "8000")))
    parser.add_argument("--unix-socket", default=None, help="listen on a unix socket instead (behind a proxy)")
    parser.add_argument("--access-log", action="store_true",
                        help="log method, path and status (debugging only: the output's keeper adds the time)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpline.settings.dev")
    if not twisted_reactor_installed():  # helpline.embedded chose it before its own django.setup()
        choose_event_loop()
    import django

    django.setup()  # applies settings.LOGGING, whose handlers all carry the redaction filter
    if args.access_log:
        logger.setLevel(logging.INFO)
    from helpline.asgi import application

    forget_sockets_of_an_earlier_boot()
    close_daphnes_spare_loop()
    allow_policy_close()
    defer_autobahn_log_formatting()
    tune_garbage_collection()

    if args.unix_socket:
        endpoints = [f"unix:{args.unix_socket}"]
    else:
        interface = args.host.replace(":", r"\:")
        endpoints = [f"tcp:port={args.port}:interface={interface}"]
    where = f"unix:{args.unix_socket}" if args.unix_socket else f"http://{args.host}:{args.port}/"
    print(f"Serving on {where} (event loop: {running_event_loop_name()})", flush=True)
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
