"""`python -m bench`: our server against a baseline measured in the same invocation, as tables.

1. chat relay: N pairs of sockets, ~360-byte frames, one per side every 5 s, for a ladder of N; then a
   saturation run (every side at the server's per-socket rate limit). Our server: the embedded Daphne with
   the Python chat client (encrypted frames, one counsellor socket per pair). Baseline: bench/baseline_relay.py,
   a bare `websockets` relay that pairs two sockets and forwards frames.
2. pages: a self-help module page against a static file, both from our Daphne.
3. ends: a chat's end on SQLite with the write-ahead log truncated after it (bench/chat_end.py) and without.
4. attack (only with --only attack): how much of the chat queue one core of native code holds, and what a
   visitor's phone pays, with and without rent, against our real server (bench/attack.py).

--mode scaled runs the same against the scaled mode instead (bench/stack.py: nginx in front of two Daphne
processes, Redis and PostgreSQL, all on loopback; chats go through nginx); --mode both runs both.

Loopback only; every loop is bounded; server processes are stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import re
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench import pages
from bench.load import PairFactory, Shape, Stats, baseline_factory, median, percentile, run_shape
from bench.ours import (
    Counsellors,
    Server,
    chat_factory,
    free_port,
    org_public_key,
    our_env,
    start_our_server,
    temporary_folder,
)
from bench.procstats import GroupWindow
from bench.profiler import ProfilerUnavailable, Recording, py_spy
from bench.quota import CpuQuota, QuotaUnavailable, check_available
from bench.scaled import bench_deployment, daphne_pids, stack_pids
from bench.stack import Missing

HEADER = ["server", "pairs", "ok", "fill connect p50 ms", "fill connect p95 ms", "set-up CPU ms/chat",
          "visitor connect p50 ms", "visitor connect p95 ms", "relay p50 ms", "relay p95 ms",
          "relay p99 ms", "msgs/s", "frames/s", "refused", "lost", "frame B", "load CPU %", "load lag p99 ms", "CPU %",
          "CPU ms/1k frames", "x baseline", "x bare Daphne", "peak RSS MiB", "KiB/chat"]
# The scaled mode's whole stack, beside its two Daphnes (which fill the CPU % and peak RSS columns).
STACK_HEADER = ["stack CPU %", "stack peak RSS MiB"]
RATIO_NOTE = ("fill connect: how long each chat of the run took to set up while the pairs were set up, "
              "--setup-concurrency of ours at once (20 of the baseline's); set-up CPU ms/chat: the server's CPU "
              "while they were set up, per chat; visitor connect: new chats that started one at a time "
              "(--arrivals, one every --arrival-interval s) after the measured window while every pair kept "
              "talking, timed from the visitor's first request to both ends able to talk, with the "
              "counsellor's console already open and available (the baseline's first socket already "
              "waiting): what a visitor waits (nothing of that phase enters the other columns). "
              "frames/s: relayed frames that reached a client, messages and their receipts (v2 confirms every text "
              "with a receipt; the baseline's pairs send one back too, so both relay the same frames). CPU ms/1k "
              "frames: the server's CPU per 1,000 relayed frames; x baseline: that divided by the baseline's in the "
              "same run and shape (per message the ratio is the same, both relaying two frames per message); x bare "
              "Daphne: the same against the bare relay served by plain Daphne (bench/daphne_relay.py), the part that "
              "is ours. KiB/chat: (peak RSS - RSS when idle before the first run) / pairs, in the run with the most "
              "pairs so far when it set the peak. "
              "load lag p99: how late the load generator's own loop ran a 50 ms timer, latency that is the "
              "generator's, not the server's.")
SCALED_NOTE = ("ours scaled: CPU % and peak RSS are summed over its two Daphne processes; the stack columns are "
               "the whole stack: both Daphnes, Redis, PostgreSQL (postmaster and backends) and nginx (master and "
               "workers). CPU % is of one core; "
               "a peak RSS sum adds each process's own peak.")


@dataclass
class Target:
    """A server under the chat ladder; meters[0] fills CPU % and peak RSS, meters[1] (scaled) the stack columns."""

    name: str
    factory: Callable[[int], PairFactory]  # given how many of our chats to set up at once
    meters: list[GroupWindow]
    prepare: Callable[[], Awaitable[None]] | None = None
    pages: tuple[str, int] | None = None  # (title, port) of the page benchmark
    idle_kib: int = 0  # meters[0]'s RSS once prepared, before the first run
    peak_kib: int = 0  # meters[0]'s peak RSS after the runs so far
    profiled: bool = False  # sampled by py-spy during each run when --profile is given (ours, not the baseline)
    most_pairs: int = 0  # the most pairs of a run so far


@dataclass
class RunFigures:
    """What a run's row needs to be compared with the baseline's row of the same shape."""

    cpu_seconds: float
    frames: int

    @property
    def cpu_ms_per_thousand_frames(self) -> float:
        return 1e6 * self.cpu_seconds / self.frames if self.frames else float("nan")


def one_process(pid: int) -> GroupWindow:
    return GroupWindow(lambda: [pid])


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    line = lambda cells: "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=False)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def chat_row(name: str, pairs: int, stats: Stats, elapsed: float, generator: GroupWindow, target: Target,
             columns: int, setup_cpu_seconds: float) -> tuple[list[str], RunFigures]:
    frame = f"{median([float(b) for b in stats.frame_bytes]):.0f}" if stats.frame_bytes else "-"
    server = target.meters[0]
    figures = RunFigures(cpu_seconds=server.share * elapsed, frames=stats.frames)
    peak = server.peak_kib()
    setup = f"{1000 * setup_cpu_seconds / pairs:.1f}" if pairs else "-"
    arrivals = stats.arrival_connect_ms
    row = [name, str(pairs), str(pairs - stats.failed_pairs), f"{median(stats.connect_ms):.1f}",
           f"{percentile(stats.connect_ms, 0.95):.1f}", setup,
           f"{median(arrivals):.1f}" if arrivals else "-", f"{percentile(arrivals, 0.95):.1f}" if arrivals else "-",
           f"{median(stats.relay_ms):.2f}",
           f"{percentile(stats.relay_ms, 0.95):.2f}", f"{percentile(stats.relay_ms, 0.99):.2f}",
           f"{stats.received / elapsed:.1f}", f"{stats.frames / elapsed:.1f}", str(stats.refused),
           str(stats.sent - stats.received - stats.refused), frame, f"{generator.share * 100:.0f}",
           f"{percentile(stats.loop_lag_ms, 0.99):.1f}", f"{server.share * 100:.0f}",
           f"{figures.cpu_ms_per_thousand_frames:.1f}", "-", "-", f"{peak / 1024:.0f}",
           # Only where this run set the process's high-water mark with the most pairs so far: a smaller run
           # after a larger one finds the mark set already, or sets it by a little and would divide it by few.
           f"{max(0, peak - target.idle_kib) / pairs:.0f}" if peak > target.peak_kib and pairs >= target.most_pairs
           else "-",
           *(cell for meter in target.meters[1:]
             for cell in (f"{meter.share * 100:.0f}", f"{meter.peak_kib() / 1024:.0f}")),
           *["-"] * (columns - 2 * len(target.meters[1:]))]
    return row, figures


RATIO_COLUMN = HEADER.index("x baseline")
FLOOR_RATIO_COLUMN = HEADER.index("x bare Daphne")
FLOOR = "bare Daphne"


async def one_run(name: str, target: Target, shape: Shape, columns: int, samples: Path | None = None,
                  profile: Path | None = None) -> tuple[list[str], RunFigures, list[str]]:
    # The load generator is this process: on the same cores as the server, its share says how much of the
    # latency may be the generator's own (ours encrypts and decrypts every frame; the baseline's does not).
    generator = one_process(os.getpid())
    meters = [generator, *target.meters]
    slug = f"{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}-{shape.pairs}"
    # Two recordings per server process: while the pairs connect, then while they talk.
    profiled = profile is not None and target.profiled
    setup = [Recording(pid, profile / f"{slug}-setup-{pid}.txt") for pid in target.meters[0].pids()] \
        if profile is not None and profiled else []
    steady = [Recording(pid, profile / f"{slug}-{pid}.txt") for pid in target.meters[0].pids()] \
        if profile is not None and profiled else []
    setting_up = GroupWindow(target.meters[0].pids)
    setting_up.start()
    for recording in setup:
        recording.start()

    def start() -> None:
        setting_up.stop()
        for recording in setup:
            recording.stop()
        for meter in meters:
            meter.start()
        for recording in steady:
            recording.start()

    def stop() -> None:
        for meter in meters:
            meter.stop()
        for recording in steady:
            recording.stop()

    stats, elapsed = await run_shape(target.factory(shape.chat_setup_concurrency), shape, start, stop)
    if samples is not None:
        samples.mkdir(parents=True, exist_ok=True)
        (samples / f"{slug}.csv").write_text(stats.timeline())
    row, figures = chat_row(name, shape.pairs, stats, elapsed, generator, target, columns, setting_up.used)
    target.peak_kib = max(target.peak_kib, target.meters[0].peak_kib())
    target.most_pairs = max(target.most_pairs, shape.pairs)
    return row, figures, stats.errors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="5,25,50", help="ladder of concurrent pairs (up to 2000), e.g. 10,100,500")
    parser.add_argument("--seconds", type=float, default=15, help="steady-state seconds per rung")
    parser.add_argument("--interval", type=float, default=5, help="seconds between frames per side")
    parser.add_argument("--saturation-pairs", type=int, default=100,
                        help="pairs of the saturation run (the overload run uses twice as many)")
    parser.add_argument("--saturation-seconds", type=float, default=5)
    parser.add_argument("--saturation-rate", type=float, default=4.5,
                        help="messages/s per side; each brings a receipt back, so a socket sends twice as many "
                             "frames (our server allows 10 a second per socket, bursts of 30)")
    parser.add_argument("--setup-concurrency", type=int, default=1,
                        help="our pairs set up at once (1: each counsellor socket holds exactly one chat)")
    parser.add_argument("--arrivals", type=int, default=10,
                        help="after each rung's measured window, this many new chats start one at a time while "
                             "the pairs keep talking (0: none); the 'visitor connect' columns")
    parser.add_argument("--arrival-interval", type=float, default=1.0,
                        help="seconds from one new chat's start to the next's (later if one takes longer)")
    parser.add_argument("--page-requests", type=int, default=200)
    parser.add_argument("--samples", type=Path, default=None,
                        help="write each chat run's relay latencies over time to this folder (CSV, one per run)")
    parser.add_argument("--only", choices=["chat", "pages", "ends", "attack"], default=None)
    parser.add_argument("--attack-seconds", type=float, default=150, help="seconds of each attack run")
    parser.add_argument("--rent-seconds", type=int, default=10,
                        help="the attack runs' rent period (60 in production; every share of time stays the same)")
    parser.add_argument("--mode", choices=["embedded", "scaled", "both"], default="embedded",
                        help="our server as the embedded default, the scaled mode (nginx, 2 Daphne, Redis, "
                             "PostgreSQL), or both")
    parser.add_argument("--cpu-quota", type=float, default=None, metavar="PERCENT",
                        help="run every server under test (baseline and ours) with at most PERCENT of one core, "
                             "e.g. 50 for a machine half as fast (cgroup v1 cpu controller; needs root)")
    parser.add_argument("--no-daphne-floor", dest="daphne_floor", action="store_false",
                        help="leave out the bare Daphne relay (bench/daphne_relay.py), the floor Daphne sets")
    parser.add_argument("--event-loop", choices=["uvloop", "asyncio"], default="uvloop",
                        help="the event loop our Daphne runs on (HELPLINE_EVENT_LOOP; the bare Daphne relay "
                             "always runs as installed, on asyncio's)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="sample our server with py-spy during each run; collapsed stacks in DIR "
                             "(python -m bench.profiler DIR/<file> summarises one)")
    args = parser.parse_args(argv)
    os.environ["HELPLINE_EVENT_LOOP"] = args.event_loop  # passed on to our servers only (bench/stack.py)
    args.ladder = [int(n) for n in args.pairs.split(",") if n.strip()]
    if any(n < 1 or n > 2000 for n in args.ladder):
        parser.error("--pairs: each rung from 1 to 2000")
    return args


SETTLED_SHARE = 0.10  # of one core, over the whole stack
SETTLE_LIMIT_SECONDS = 300


async def settle(target: Target) -> float:
    """Wait until the server has finished with the run before (closing thousands of chats takes it a while).

    Without this the next run measured the last one's aftermath: a saturation run straight after 2,000 pairs
    closed found the server still ending their chats and delivered half its rate. Returns the seconds waited.
    """
    started = time.monotonic()
    meter = GroupWindow(target.meters[-1].pids)
    while time.monotonic() - started < SETTLE_LIMIT_SECONDS:
        meter.start()
        await asyncio.sleep(1)
        if meter.stop() < SETTLED_SHARE:
            break
    return time.monotonic() - started


async def chat_benchmark(args: argparse.Namespace, targets: list[Target]) -> list[str]:
    for target in targets:
        if target.prepare is not None:
            await target.prepare()
        target.idle_kib = target.peak_kib = target.meters[0].rss_kib()
    scaled = any(len(target.meters) > 1 for target in targets)
    header = HEADER + STACK_HEADER if scaled else HEADER
    columns = len(header) - len(HEADER) + 2
    rows: list[list[str]] = []
    errors: list[str] = []
    # Saturation: enough pairs at the per-socket rate to offer more than the server relays; then twice
    # that offered load, to show what overload does (delivered rate, refusals, latency, memory).
    rate = 1 / args.saturation_rate
    heavy = [(f"saturation {args.saturation_rate:g}/s/side",
              Shape(pairs=args.saturation_pairs, seconds=args.saturation_seconds, interval=rate)),
             (f"2x saturation {args.saturation_rate:g}/s/side",
              Shape(pairs=2 * args.saturation_pairs, seconds=args.saturation_seconds, interval=rate))]
    runs = [("", Shape(pairs=n, seconds=args.seconds, interval=args.interval,
                      chat_setup_concurrency=args.setup_concurrency, arrivals=args.arrivals,
                      arrival_interval=args.arrival_interval)) for n in args.ladder] + heavy
    for suffix, shape in runs:
        baseline_figures: RunFigures | None = None
        floor_figures: RunFigures | None = None
        for target in targets:
            label = f"{target.name} ({suffix})" if suffix else target.name
            print(f"  {label}: {shape.pairs} pairs …", file=sys.stderr, flush=True)
            row, figures, run_errors = await one_run(label, target, shape, columns, args.samples, args.profile)
            waited = await settle(target)
            print(f"    settled in {waited:.0f} s", file=sys.stderr, flush=True)
            if baseline_figures is None:
                baseline_figures = figures  # the first target is the baseline
            base = baseline_figures.cpu_ms_per_thousand_frames
            row[RATIO_COLUMN] = f"{figures.cpu_ms_per_thousand_frames / base:.2f}" if base > 0 else "-"
            if target.name == FLOOR:
                floor_figures = figures
            elif floor_figures is not None and floor_figures.cpu_ms_per_thousand_frames > 0:
                row[FLOOR_RATIO_COLUMN] = \
                    f"{figures.cpu_ms_per_thousand_frames / floor_figures.cpu_ms_per_thousand_frames:.2f}"
            rows.append(row)
            errors.extend(f"{label} {shape.pairs}: {error}" for error in run_errors)
    quota = (f"; every server process under a CPU quota of {args.cpu_quota:g} % of one core (bench/quota.py)"
             if args.cpu_quota else "")
    out = [f"Chat relay: ~360-byte messages, one per side every {args.interval:g} s, {args.seconds:g} s per rung, "
           f"each confirmed by a receipt; each run starts once the server used under {SETTLED_SHARE:.0%} of a core "
           f"for a second{quota}", RATIO_NOTE, *([SCALED_NOTE] if scaled else []), "", table(header, rows)]
    if errors:
        out += ["", "Errors (first few):", *(f"  {error}" for error in errors[:10])]
    return out


def page_benchmark(args: argparse.Namespace, title: str, port: int) -> list[str]:
    module, static = pages.find_paths(port)
    rows = []
    for concurrency in (1, 10):
        for name, path in (("static file (baseline)", static), ("page " + module, module)):
            pages.measure(port, name, path, 20, concurrency)  # warm-up
            rows.append(pages.row(pages.measure(port, name, path, args.page_requests, concurrency), concurrency))
    header = ["request", "concurrency", "ok", "failed", "p50 ms", "p95 ms", "p99 ms", "req/s"]
    weights = [pages.weight_row(port, "privacy page (baseline: base layout only)", "/en/privacy/"),
               pages.weight_row(port, "module " + module, module),
               pages.weight_row(port, "module list", "/en/help/modules/")]
    weight_header = ["page", "requests", "KiB raw", "KiB gzip", f"within {pages.PAGE_BUDGET_BYTES // 1024} KiB "
                     f"and {pages.PAGE_BUDGET_REQUESTS} requests"]
    return [f"{title}: {module} vs {static}", "", table(header, rows), "",
            "Page weight (HTML plus everything it makes the browser fetch)", "", table(weight_header, weights)]


def embedded_target(args: argparse.Namespace, cleanup: contextlib.ExitStack, folder: Path, quotas: Quotas) -> Target:
    ours = start_our_server(folder)
    cleanup.callback(ours.stop)
    quotas.limit("ours", [ours.pid])
    base_url = f"http://127.0.0.1:{ours.port}"
    counsellors = Counsellors(base_url, ours.env)
    return Target("ours", lambda setup: chat_factory(base_url, org_public_key(ours), counsellors, setup),
                  [one_process(ours.pid)], counsellors.sign_in, ("Pages from our Daphne", ours.port), profiled=True)


def scaled_target(args: argparse.Namespace, cleanup: contextlib.ExitStack, quotas: Quotas) -> Target:
    deployment = cleanup.enter_context(bench_deployment())
    # Each Daphne as slow as the embedded default's one process; Redis, PostgreSQL and nginx share one more.
    daphnes = daphne_pids(deployment)
    for index, pid in enumerate(daphnes, start=1):
        quotas.limit(f"daphne{index}", [pid])
    quotas.limit("support", [pid for pid in stack_pids(deployment) if pid not in daphnes])
    base_url = deployment.nginx.base_url
    counsellors = Counsellors(base_url, deployment.env, org_private_key=deployment.org_private_key)
    return Target("ours scaled",
                  lambda setup: chat_factory(base_url, deployment.org_public_key, counsellors, setup),
                  [GroupWindow(lambda: daphne_pids(deployment)), GroupWindow(lambda: stack_pids(deployment))],
                  counsellors.sign_in,
                  ("Pages through nginx to the scaled mode's two Daphnes (nginx serves the static file)",
                   deployment.nginx.port), profiled=True)


@dataclass
class Quotas:
    """The CPU quota groups of this run (--cpu-quota), one per server process or group of processes."""

    percent: float | None
    groups: list[CpuQuota]

    def limit(self, name: str, pids: list[int]) -> None:
        if self.percent is None:
            return
        group = CpuQuota(f"helpline-bench-{os.getpid()}-{name}", self.percent).create()
        self.groups.append(group)
        group.add(pids)

    def remove(self) -> None:
        for group in self.groups:
            group.remove()

    def report(self) -> list[str]:
        if not self.groups:
            return []
        lines = [f"CPU quota {self.percent:g} % of one core per group; time each group was held back over the "
                 "whole invocation:"]
        for group in self.groups:
            periods, seconds = group.throttled()
            lines.append(f"  {group.name.rsplit('-', 1)[-1]}: throttled in {periods} periods, {seconds:.1f} s")
        return lines


def report_head() -> list[str]:
    return [f"# python -m bench {' '.join(sys.argv[1:])}".rstrip(),
            f"# {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
            f"Python {sys.version.split()[0]}, our Daphne on {os.environ.get('HELPLINE_EVENT_LOOP', 'uvloop')}'s "
            "event loop", ""]


async def main_async(args: argparse.Namespace) -> int:
    if args.only == "attack":
        from bench.attack import attack_benchmark

        print("\n".join(report_head() + await attack_benchmark(args.attack_seconds, args.rent_seconds, table)))
        return 0
    folder = temporary_folder()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        # Removed last, once every server in them has stopped (an ExitStack unwinds in reverse).
        quotas = Quotas(args.cpu_quota, [])
        cleanup.callback(quotas.remove)
        port = free_port()
        baseline = Server([sys.executable, "-m", "bench.baseline_relay", "--port", str(port)],
                          our_env(folder / "var"), port, folder / "baseline.log")
        cleanup.callback(baseline.stop)
        # The floor Daphne itself sets: the same bare relay served by plain Daphne (bench/daphne_relay.py).
        floor_port = free_port()
        floor = Server([sys.executable, "-m", "bench.daphne_relay", "--port", str(floor_port)],
                       our_env(folder / "var"), floor_port,
                       folder / "daphne-floor.log")
        cleanup.callback(floor.stop)
        targets = []
        if args.mode in ("embedded", "both"):
            print("starting our server (embedded default) …", file=sys.stderr, flush=True)
            targets.append(embedded_target(args, cleanup, folder, quotas))
        if args.mode in ("scaled", "both"):
            print("starting the scaled mode (Redis, PostgreSQL, 2 Daphne, nginx) …", file=sys.stderr, flush=True)
            targets.append(scaled_target(args, cleanup, quotas))
        print("starting the baseline relay …", file=sys.stderr, flush=True)
        baseline.start_listening()  # it answers HTTP with 426: a listening port is the sign
        quotas.limit("baseline", [baseline.pid])
        baseline_url = f"ws://127.0.0.1:{baseline.port}"
        targets.insert(0, Target("baseline", lambda _setup: baseline_factory(baseline_url),
                                 [one_process(baseline.pid)]))
        if args.daphne_floor:
            floor.start_listening()
            quotas.limit("daphne-floor", [floor.pid])
            floor_url = f"ws://127.0.0.1:{floor.port}"
            targets.insert(1, Target(FLOOR, lambda _setup: baseline_factory(floor_url),
                                     [one_process(floor.pid)]))
        out = report_head()
        if args.only in (None, "pages"):
            for target in targets:
                if target.pages is not None:
                    out += [*page_benchmark(args, *target.pages), ""]
        if args.only in (None, "ends"):
            from bench import chat_end

            out += [*chat_end.benchmark(folder), ""]
        if args.only in (None, "chat"):
            out += await chat_benchmark(args, targets)
        out += quotas.report()
        print("\n".join(out))
        return 0


def main(argv: list[str] | None = None) -> int:
    import signal

    # Stopped with SIGTERM (timeout, kill): unwind, so that `finally` stops the servers this run started.
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))
    args = parse_args(argv)
    try:  # before anything starts: a flag that cannot work here says so at once
        if args.cpu_quota is not None:
            check_available()
        if args.profile is not None:
            py_spy()
    except (QuotaUnavailable, ProfilerUnavailable) as error:
        print(f"python -m bench: {error}", file=sys.stderr)
        return 2
    # The load generator holds thousands of sockets too: with CPython's default thresholds its own
    # collections stopped it for up to a second at 2,000 pairs, and that showed as relay latency of
    # whichever server was measured. It collects the way our server does (helpline/serve.py).
    from helpline.serve import tune_garbage_collection

    tune_garbage_collection()
    try:
        return asyncio.run(main_async(args))
    except Missing as error:
        print(f"--mode {args.mode} needs redis-server, PostgreSQL and nginx: {error}", file=sys.stderr)
        return 2
    except QuotaUnavailable as error:
        print(f"python -m bench: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
