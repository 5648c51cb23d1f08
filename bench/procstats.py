"""CPU time and memory of a process, read from /proc (psutil is not a dependency)."""

from __future__ import annotations

import os
from dataclasses import dataclass
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
class CpuWindow:
    """CPU used by one process between start() and stop(), as a share of one core."""

    pid: int
    _cpu: float = 0.0
    _wall: float = 0.0
    share: float = 0.0

    def start(self) -> None:
        import time

        self._cpu, self._wall = cpu_seconds(self.pid), time.monotonic()

    def stop(self) -> float:
        import time

        wall = time.monotonic() - self._wall
        self.share = (cpu_seconds(self.pid) - self._cpu) / wall if wall > 0 else 0.0
        return self.share
