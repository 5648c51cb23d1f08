"""CPU time and memory of a process, read from /proc (psutil is not a dependency)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; fields after its closing parenthesis are plain.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in KiB, from VmRSS and VmHWM."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


@dataclass
class GroupWindow:
    """CPU a set of processes used between start() and stop(), as a share of one core, and their summed peak RSS.

    The set is read again at stop(): a process started in between (a new PostgreSQL backend) counts all its
    CPU; one that ended in between loses what it used (backends live on, CONN_MAX_AGE). The peak is the sum of
    each process's own peak (VmHWM), which overstates a little where they share pages (PostgreSQL's buffers).
    """

    pids: Callable[[], list[int]]
    share: float = 0.0
    used: float = 0.0  # CPU seconds between start() and stop()
    _cpu: dict[int, float] = field(default_factory=dict)
    _wall: float = 0.0

    def _read(self) -> dict[int, float]:
        cpu = {}
        for pid in self.pids():
            with contextlib.suppress(OSError):
                cpu[pid] = cpu_seconds(pid)
        return cpu

    def start(self) -> None:
        self._cpu, self._wall = self._read(), time.monotonic()

    def stop(self) -> float:
        wall = time.monotonic() - self._wall
        used = sum(max(0.0, now - self._cpu.get(pid, 0.0)) for pid, now in self._read().items())
        self.used = used
        self.share = used / wall if wall > 0 else 0.0
        return self.share

    def _memory_kib(self, which: int) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += memory_kib(pid)[which]
        return total

    def rss_kib(self) -> int:
        return self._memory_kib(0)

    def peak_kib(self) -> int:
        return self._memory_kib(1)
