"""`python -m bench`: our server against a baseline measured in the same invocation, as tables.

1. chat relay: N pairs of sockets, ~360-byte frames, one per side every 5 s, for a ladder of N; then a
   saturation run (every side at the server's per-socket rate limit). Our server: the embedded Daphne with
   the Python chat client (encrypted frames, one counsellor socket per pair). Baseline: bench/baseline_relay.py,
   a bare `websockets` relay that pairs two sockets and forwards frames.
2. pages: a self-help module page against a static file, both from our Daphne.

Loopback only; every loop is bounded; server processes are stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import sys
from collections.abc import Callable

from bench import pages
from bench.load import PairFactory, Shape, Stats, baseline_factory, median, percentile, run_shape
from bench.ours import Counsellors, Server, chat_factory, free_port, org_public_key, start_our_server, temporary_folder
from bench.procstats import CpuWindow, memory_kib

HEADER = ["server", "pairs", "ok", "connect p50 ms", "connect p95 ms", "relay p50 ms", "relay p95 ms",
          "relay p99 ms", "msgs/s", "refused", "lost", "frame B", "CPU %", "peak RSS MiB"]


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    line = lambda cells: "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=False)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def chat_row(name: str, pairs: int, stats: Stats, elapsed: float, cpu: float, pid: int) -> list[str]:
    _rss, peak = memory_kib(pid)
    frame = f"{median([float(b) for b in stats.frame_bytes]):.0f}" if stats.frame_bytes else "-"
    return [name, str(pairs), str(pairs - stats.failed_pairs), f"{median(stats.connect_ms):.1f}",
            f"{percentile(stats.connect_ms, 0.95):.1f}", f"{median(stats.relay_ms):.2f}",
            f"{percentile(stats.relay_ms, 0.95):.2f}", f"{percentile(stats.relay_ms, 0.99):.2f}",
            f"{stats.received / elapsed:.1f}", str(stats.refused),
            str(stats.sent - stats.received - stats.refused), frame, f"{cpu * 100:.0f}",
            f"{peak / 1024:.0f}"]


async def one_run(name: str, factory: PairFactory, pid: int, shape: Shape) -> tuple[list[str], list[str]]:
    window = CpuWindow(pid)
    stats, elapsed = await run_shape(factory, shape, window.start, window.stop)
    return chat_row(name, shape.pairs, stats, elapsed, window.share, pid), stats.errors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="5,25,50", help="ladder of concurrent pairs (up to 2000), e.g. 10,100,500")
    parser.add_argument("--seconds", type=float, default=15, help="steady-state seconds per rung")
    parser.add_argument("--interval", type=float, default=5, help="seconds between frames per side")
    parser.add_argument("--saturation-pairs", type=int, default=100,
                        help="pairs of the saturation run (the overload run uses twice as many)")
    parser.add_argument("--saturation-seconds", type=float, default=5)
    parser.add_argument("--saturation-rate", type=float, default=9,
                        help="frames/s per side (our server allows 10 a second per socket, bursts of 30)")
    parser.add_argument("--setup-concurrency", type=int, default=1,
                        help="our pairs set up at once (1: each counsellor socket holds exactly one chat)")
    parser.add_argument("--page-requests", type=int, default=200)
    parser.add_argument("--only", choices=["chat", "pages"], default=None)
    args = parser.parse_args(argv)
    args.ladder = [int(n) for n in args.pairs.split(",") if n.strip()]
    if any(n < 1 or n > 2000 for n in args.ladder):
        parser.error("--pairs: each rung from 1 to 2000")
    return args


async def chat_benchmark(args: argparse.Namespace, ours: Server, baseline: Server) -> list[str]:
    counsellors = Counsellors(f"http://127.0.0.1:{ours.port}", ours.env)
    await counsellors.sign_in()
    targets: list[tuple[str, Callable[[], PairFactory], int]] = [
        ("baseline", lambda: baseline_factory(f"ws://127.0.0.1:{baseline.port}"), baseline.pid),
        ("ours", lambda: chat_factory(f"http://127.0.0.1:{ours.port}", org_public_key(ours), counsellors,
                                      args.setup_concurrency), ours.pid),
    ]
    rows: list[list[str]] = []
    errors: list[str] = []
    # Saturation: enough pairs at the per-socket rate to offer more than the server relays; then twice
    # that offered load, to show what overload does (delivered rate, refusals, latency, memory).
    rate = 1 / args.saturation_rate
    heavy = [(f"saturation {args.saturation_rate:g}/s/side",
              Shape(pairs=args.saturation_pairs, seconds=args.saturation_seconds, interval=rate)),
             (f"2x saturation {args.saturation_rate:g}/s/side",
              Shape(pairs=2 * args.saturation_pairs, seconds=args.saturation_seconds, interval=rate))]
    runs = [("", Shape(pairs=n, seconds=args.seconds, interval=args.interval)) for n in args.ladder] + heavy
    for suffix, shape in runs:
        for name, factory, pid in targets:
            label = f"{name} ({suffix})" if suffix else name
            print(f"  {label}: {shape.pairs} pairs …", file=sys.stderr, flush=True)
            row, run_errors = await one_run(label, factory(), pid, shape)
            rows.append(row)
            errors.extend(f"{label} {shape.pairs}: {error}" for error in run_errors)
    out = [f"Chat relay: ~360-byte frames, one per side every {args.interval:g} s, {args.seconds:g} s per rung",
           "", table(HEADER, rows)]
    if errors:
        out += ["", "Errors (first few):", *(f"  {error}" for error in errors[:10])]
    return out


def page_benchmark(args: argparse.Namespace, ours: Server) -> list[str]:
    module, static = pages.find_paths(ours.port)
    rows = []
    for concurrency in (1, 10):
        for name, path in (("static file (baseline)", static), ("page " + module, module)):
            pages.measure(ours.port, name, path, 20, concurrency)  # warm-up
            rows.append(pages.row(pages.measure(ours.port, name, path, args.page_requests, concurrency), concurrency))
    header = ["request", "concurrency", "ok", "failed", "p50 ms", "p95 ms", "p99 ms", "req/s"]
    weights = [pages.weight_row(ours.port, "privacy page (baseline: base layout only)", "/en/privacy/"),
               pages.weight_row(ours.port, "module " + module, module),
               pages.weight_row(ours.port, "module list", "/en/help/modules/")]
    weight_header = ["page", "requests", "KiB raw", "KiB gzip", f"within {pages.PAGE_BUDGET_BYTES // 1024} KiB "
                     f"and {pages.PAGE_BUDGET_REQUESTS} requests"]
    return [f"Pages from our Daphne: {module} vs {static}", "", table(header, rows), "",
            "Page weight (HTML plus everything it makes the browser fetch)", "", table(weight_header, weights)]


async def main_async(args: argparse.Namespace) -> int:
    folder = temporary_folder()
    ours = baseline = None
    try:
        print("starting our server (embedded default) and the baseline relay …", file=sys.stderr, flush=True)
        ours = start_our_server(folder)
        port = free_port()
        baseline = Server([sys.executable, "-m", "bench.baseline_relay", "--port", str(port)], ours.env, port,
                          folder / "baseline.log")
        start_baseline(baseline)
        out = [f"# python -m bench {' '.join(sys.argv[1:])}".rstrip(),
               f"# {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
               f"Python {sys.version.split()[0]}", ""]
        if args.only in (None, "pages"):
            out += [*page_benchmark(args, ours), ""]
        if args.only in (None, "chat"):
            out += await chat_benchmark(args, ours, baseline)
        print("\n".join(out))
        return 0
    finally:
        for server in (ours, baseline):
            if server is not None:
                server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def start_baseline(server: Server) -> None:
    """The relay answers HTTP with 426; any answer means it listens."""
    import socket
    import subprocess
    import time

    with server.log.open("ab") as log:
        server.process = subprocess.Popen(server.argv, env=server.env, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the baseline relay did not start")


def main(argv: list[str] | None = None) -> int:
    import signal

    # Stopped with SIGTERM (timeout, kill): unwind, so that `finally` stops the servers this run started.
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
