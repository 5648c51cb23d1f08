"""A slow machine on demand: server processes run under a CPU quota (cgroup v1 `cpu` controller).

`--cpu-quota 50` gives each server under test (the baseline relay, our Daphne; in the scaled mode each Daphne,
and Redis, PostgreSQL and nginx together) a control group of its own allowed 50 ms of CPU in every 100 ms
period: at most half of one core, whatever else the machine does. systemd-run's `CPUQuota=50%` does the same
with the same period. A process over its share is stopped until the next period begins, so a burst may wait up
to the rest of a period (here 50 ms): that is part of what running at half speed costs, and the table shows it.

Processes already forked (nginx's workers, PostgreSQL's backends) are moved with their parent; those forked
later start in the parent's group. The groups are removed on the way out, their processes (if any remain)
moved back to the root group first.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CPU_CONTROLLER = Path("/sys/fs/cgroup/cpu")
PERIOD_MICROSECONDS = 100_000


class QuotaUnavailable(RuntimeError):
    """The CPU quota cannot be set up here (no cgroup v1 cpu controller, or not allowed to write to it)."""


def check_available(root: Path = CPU_CONTROLLER) -> None:
    """Raise QuotaUnavailable, saying why, before anything is started."""
    if not (root / "cgroup.procs").exists():
        raise QuotaUnavailable(f"{root} is not a cgroup v1 cpu controller (cgroup v2 or no cgroups here): "
                               "--cpu-quota needs it")
    if not os.access(root, os.W_OK):
        raise QuotaUnavailable(f"{root} is not writable by this user: --cpu-quota needs root (or a delegated "
                               "cgroup)")


@dataclass
class CpuQuota:
    """One control group with `percent` of one core; `add` moves processes into it, `remove` deletes it."""

    name: str
    percent: float
    root: Path = CPU_CONTROLLER
    members: list[int] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.root / self.name

    def create(self) -> CpuQuota:
        if not 0 < self.percent <= 100 * (os.cpu_count() or 1):
            raise QuotaUnavailable(f"--cpu-quota {self.percent:g}: a share of one core, above 0")
        check_available(self.root)
        try:
            self.path.mkdir()
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_MICROSECONDS))
            (self.path / "cpu.cfs_quota_us").write_text(str(round(PERIOD_MICROSECONDS * self.percent / 100)))
        except OSError as error:
            self.remove()
            raise QuotaUnavailable(f"could not make the control group {self.path}: {error}") from error
        return self

    def add(self, pids: Iterable[int]) -> None:
        for pid in pids:
            try:
                (self.path / "cgroup.procs").write_text(str(pid))
            except ProcessLookupError:
                continue  # it ended in the meantime
            except OSError as error:
                raise QuotaUnavailable(f"could not move process {pid} into {self.path}: {error}") from error
            self.members.append(pid)

    def throttled(self) -> tuple[int, float]:
        """(periods in which the group was stopped, seconds stopped) so far, from cpu.stat."""
        values = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if line.strip())
        return int(values.get("nr_throttled", 0)), int(values.get("throttled_time", 0)) / 1e9

    def remove(self) -> None:
        if not self.path.exists():
            return
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (self.root / "cgroup.procs").write_text(pid)
        with contextlib.suppress(OSError):
            self.path.rmdir()
