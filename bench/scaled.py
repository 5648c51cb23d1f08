"""The chat ladder against the scaled mode: bench/stack.py's deployment (nginx, two Daphne processes, Redis,
PostgreSQL) with the abuse brakes a load test would trip opened up, and CPU and memory summed over processes.

The brakes, through the environment the production settings read: HELPLINE_MAX_QUEUE_LENGTH (the queue
length; proof of work has no variable of its own, and the load rule asks for none while the queue is under a
quarter full, so a 10,000-chat queue keeps it off for any ladder), and the per-counsellor cap in the admin's
service settings, set as for the embedded default (bench/ours.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from bench.ours import OPEN_CAP
from bench.stack import Deployment, scaled_deployment

BENCH_ENV = {"HELPLINE_MAX_QUEUE_LENGTH": "10000"}


@contextlib.contextmanager
def bench_deployment() -> Iterator[Deployment]:
    with scaled_deployment(BENCH_ENV, prefix="helpline-bench-scaled-") as deployment:
        deployment.manage("shell", "-c", OPEN_CAP)
        yield deployment


def children(pid: int) -> list[int]:
    """Every process whose parent is `pid` (PostgreSQL's backends, nginx's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def daphne_pids(deployment: Deployment) -> list[int]:
    return [daphne.process.pid for daphne in deployment.daphnes if daphne.process.alive()]


def stack_pids(deployment: Deployment) -> list[int]:
    """Both Daphnes, Redis, the PostgreSQL postmaster and its backends, nginx's master and workers."""
    pids = [*daphne_pids(deployment), deployment.redis.process.pid]
    for parent in (deployment.postgres.pid, deployment.nginx.process.pid):
        if parent is not None:
            pids += [parent, *children(parent)]
    return pids
