"""Where a server's CPU goes during a bench run: py-spy samples it, and `summary` says which code costs most.

`python -m bench --profile DIR` records each run of our server(s) into DIR/<run>-<pid>.txt (py-spy's collapsed
stacks: one line per distinct stack, `frame;frame;… count`); `python -m bench.profiler DIR/file.txt` prints the
functions with the largest inclusive and own shares. py-spy (`pip install py-spy`) reads the process from outside
(`--nonblocking`: it does not stop the process to sample it, so a sample may now and then be torn); it needs to
be allowed to read other processes' memory (root, or CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SAMPLES_PER_SECOND = 200


class ProfilerUnavailable(RuntimeError):
    """py-spy is not installed."""


def py_spy() -> str:
    import sys

    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not found:
        raise ProfilerUnavailable("--profile needs py-spy (pip install py-spy)")
    return found


@dataclass
class Recording:
    """One py-spy process sampling one server process until stop()."""

    pid: int
    output: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [py_spy(), "record", "--pid", str(self.pid), "--rate", str(SAMPLES_PER_SECOND), "--format", "raw",
             "--nonblocking", "--output", str(self.output)],
            stdout=subprocess.DEVNULL, stderr=(self.output.with_suffix(".log")).open("wb"))

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # py-spy writes what it has, then exits
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def short(frame: str) -> str:
    """`func (path/to/module.py:12)` -> `func (module.py)`: one entry per function, whatever line sampled it."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


def summary(path: Path, top: int = 40) -> str:
    stacks = read_stacks(path)
    total = sum(stacks.values()) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = [short(frame) for frame in stack]
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    lines = [f"{path.name}: {total} samples", "", "inclusive %  function"]
    lines += [f"{100 * count / total:10.1f}  {frame}" for frame, count in inclusive.most_common(top)]
    lines += ["", "own %  function"]
    lines += [f"{100 * count / total:5.1f}  {frame}" for frame, count in own.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recording", type=Path, help="a file --profile wrote")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    print(summary(args.recording, args.top))


if __name__ == "__main__":
    main()
