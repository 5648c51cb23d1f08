"""What forgetting an ended chat on disk costs (helpline/disk_privacy.py): a chat's end on the embedded default's
SQLite database, with the write-ahead log checkpointed and truncated after it (ours) and without (baseline).

Runs in a process of its own on a fresh database in a temporary folder: `python -m bench --only ends`.
Each end is what the consumer does: lock the row, count the chat and its wrap-up, delete the row, commit.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENDS_PER_RUN = 300
ROUNDS = 3


def measure() -> list[list[str]]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models.signals import post_delete

    from chat import actions
    from chat.models import Chat
    from helpline import disk_privacy

    call_command("migrate", verbosity=0)

    def run() -> list[float]:
        times = []
        for _ in range(ENDS_PER_RUN):
            moment = actions.now()
            chat = Chat.objects.create(lang="en", resume_hash=secrets.token_hex(32), queued_at=moment,
                                       waiting_since=moment, accepted_at=moment, answered=True, state=Chat.ACTIVE)
            started = time.perf_counter()
            with transaction.atomic():
                locked = Chat.objects.select_for_update().get(pk=chat.pk)
                actions.end(locked, "counsellor", actions.now(), {"contact": "self", "concern": ["own_urges"]})
            times.append((time.perf_counter() - started) * 1000)
        return times

    samples: dict[str, list[float]] = {"baseline (log kept)": [], "ours (log truncated)": []}
    for _round in range(ROUNDS):  # interleaved, so both see the same machine
        post_delete.disconnect(disk_privacy.forget_deleted_chat, sender=Chat, dispatch_uid="helpline.disk_privacy.chat")
        samples["baseline (log kept)"] += run()
        disk_privacy.connect()
        samples["ours (log truncated)"] += run()
    rows = []
    for name, times in samples.items():
        ordered = sorted(times)
        rows.append([name, str(len(times)), f"{statistics.median(times):.2f}",
                     f"{ordered[int(len(ordered) * 0.95)]:.2f}", f"{ordered[int(len(ordered) * 0.99)]:.2f}",
                     f"{1000 / statistics.mean(times):.0f}"])
    return rows


def benchmark(folder: Path) -> list[str]:
    """Run the measurement in a child process with its own database; return the table's lines."""
    from bench.__main__ import table
    from bench.ours import our_env

    env = our_env(folder / "var-ends")
    result = subprocess.run([sys.executable, "-m", "bench.chat_end"], env=env, capture_output=True, text=True,
                            check=True, timeout=600)
    rows = [line.split("\t") for line in result.stdout.splitlines() if line.strip()]
    header = ["chat end on SQLite", "ends", "p50 ms", "p95 ms", "p99 ms", "ends/s"]
    return [f"Chat ends: {ENDS_PER_RUN} per run, {ROUNDS} interleaved rounds, one thread (as the server's "
            "database thread)", "", table(header, rows)]


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    for row in measure():
        print("\t".join(row))
