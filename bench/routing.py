"""`python -m bench.routing`: one routing pass (chat.actions.route) on the embedded default's SQLite, alone
and while other threads of the process write, as a table.

The embedded default serves every HTTP request in a thread of its own, each with its own SQLite connection,
and all chat sockets in one more; each write waits for SQLite's one write lock, polling with growing sleeps
(up to 100 ms) rather than queueing, so a writer that needs the lock often can wait long behind others.
Rows: the pass as it is (one transaction), and as it was (each statement its own transaction, the function
under the decorator); baseline: the same pass with no other writer. Writers commit one counter increment at
a time in a loop (`--writers`, `--hold` seconds inside each transaction): more than a real process sees, on
purpose. A pass that fails (the lock not had within the 20 s busy timeout) counts as failed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any


def setup_django() -> None:
    os.environ["HELPLINE_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-routing-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpline.settings.dev"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fresh_queue(user_id: int, chats: int) -> None:
    """One available counsellor socket and `chats` waiting chats: a pass offers one of them."""
    from chat import actions
    from chat.models import Chat, CounsellorPresence

    Chat.objects.all().delete()
    CounsellorPresence.objects.all().delete()
    now = actions.now()
    CounsellorPresence.objects.create(channel="bench.counsellor", user_id=user_id, available=True, boot=actions.BOOT,
                                      available_since=now, seen_at=now)
    for number in range(chats):
        Chat.objects.create(lang="en", resume_hash=f"{number:064x}", queued_at=now, waiting_since=now,
                            visitor_channel=f"bench.visitor.{number}", visitor_seen_at=now)


def measure(route: Callable[..., Any], user_id: int, passes: int, chats: int) -> tuple[list[float], int]:
    from chat import actions

    times, failed = [], 0
    for _ in range(passes):
        fresh_queue(user_id, chats)
        started = time.perf_counter()
        try:
            route(actions.now())
        except Exception:
            failed += 1
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times), failed


def writing(stop: threading.Event, hold: float) -> None:
    from django.db import connection, transaction

    from helpline.metrics.actions import increment

    while not stop.is_set():
        try:
            with transaction.atomic():
                increment("chat.offered", "en")
                if hold:
                    time.sleep(hold)
        except Exception:  # a writer that did not get the lock just tries again
            pass
    connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=30)
    parser.add_argument("--chats", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--hold", type=float, default=0.0)
    args = parser.parse_args(argv)
    setup_django()
    from chat import actions
    from helpline.accounts.actions import create_staff
    from helpline.accounts.roles import COUNSELLOR

    user, _ = create_staff("bench-counsellor", "a-long-test-password-1", [COUNSELLOR])
    variants = {"one transaction per pass (now)": actions.route,
                "a transaction per statement (before)": actions.route.__wrapped__}  # type: ignore[attr-defined]
    rows = []
    for name, route in variants.items():
        times, failed = measure(route, user.pk, args.passes, args.chats)
        rows.append((f"{name}, alone (baseline)", times, failed))
    for name, route in variants.items():
        stop = threading.Event()
        writers = [threading.Thread(target=writing, args=(stop, args.hold)) for _ in range(args.writers)]
        for writer in writers:
            writer.start()
        try:
            times, failed = measure(route, user.pk, args.passes, args.chats)
        finally:
            stop.set()
            for writer in writers:
                writer.join()
        rows.append((f"{name}, {args.writers} writers", times, failed))

    print(f"# python -m bench.routing {' '.join(sys.argv[1:])}".rstrip())
    print(f"# {args.passes} passes each, {args.chats} waiting chats, writers hold {args.hold} s\n")
    print("| route pass | p50 ms | p95 ms | max ms | failed |\n|---|---|---|---|---|")
    for name, times, failed in rows:
        print(f"| {name} | {statistics.median(times):.1f} | {times[int(0.95 * len(times)) - 1]:.1f} | "
              f"{times[-1]:.1f} | {failed} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
