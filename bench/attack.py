"""`python -m bench --only attack`: how much of the chat queue one core of native code holds, and what a
real visitor's phone pays to join and to keep a place, with and without rent (issue 14; protocol.md §9).

1. Speeds, measured in this run. The attacker: bench/attacker.c (x86 SHA extensions, four attempts
   interleaved), built with gcc, per CPU-second of its one thread; hashlib (OpenSSL) beside it. The browser:
   this machine's headless Chromium running protocol.js's own solvers, per CPU-second of its processes.
   The phone: the browser's rate scaled by Lighthouse's BenchmarkIndex, measured in the same Chromium,
   against the index Chrome DevTools calibrates a mid-tier phone (a Pixel 5) to, 1000
   (front_end/panels/mobile_throttling/CalibrationController.ts), times two: the page keeps two attempts in
   flight and a Pixel 5 has two big cores.
2. The attack, against our real server (the embedded default, shipped prices, 30 places; rent periods of
   --rent-seconds instead of 60, which keeps every share of time the same): one asyncio process keeps trying to
   hold every place, solving joins and rent in ONE thread with the native solver, rent first. A legitimate
   visitor tries to join every few seconds (and leaves again at once). Held places are read from the server's
   database every second. Once with rent, once without (today's rule: a join buys the place for as long as
   the socket stays open).

The machine is shared: the attacker's thread gets what the scheduler gives it, so its CPU is reported in cores,
next to the bound one full core pays for (chat.pow.places_affordable).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import functools
import hashlib
import heapq
import itertools
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.ours import Server, free_port, our_env, temporary_folder
from bench.stack import REPO

CAPACITY = 30
MID_TIER_BENCHMARK_INDEX = 1000  # Chrome DevTools' calibration target for a mid-tier phone (a Pixel 5)
PHONE_BIG_CORES = 2
STATIC_ROOT = REPO / "chat" / "static"


# --- the attacker's native solver ------------------------------------------------------------------------


class NativeSolver:
    """bench/attacker.c through ctypes."""

    def __init__(self, library: Path) -> None:
        self.lib = ctypes.CDLL(str(library))
        self.lib.work_search.restype = ctypes.c_int64
        self.lib.work_search.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_int,
                                         ctypes.c_uint64, ctypes.c_uint64]
        self.lib.sha256_search.restype = ctypes.c_int64
        self.lib.sha256_search.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_uint64,
                                           ctypes.c_uint64]

    def work(self, challenge: bytes, iterations: int, bits: int) -> tuple[bytes, int]:
        """(nonce, attempts) for the PBKDF2 puzzle: the smallest counter, as protocol.js finds it."""
        counter = self.lib.work_search(challenge, len(challenge), iterations, bits, 0, 1 << 62)
        if counter < 0:
            raise RuntimeError("the native solver failed")
        return counter.to_bytes(8, "big"), counter + 1


def build_solver(folder: Path) -> tuple[NativeSolver | None, str]:
    """The C solver, or None (and why) when this machine cannot build or run it."""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if " sha_ni" not in flags:
        return None, "no x86 SHA extensions here"
    gcc = shutil.which("gcc")
    if gcc is None:
        return None, "no gcc"
    library = folder / "attacker.so"
    subprocess.run([gcc, "-O3", "-shared", "-fPIC", "-o", str(library), str(REPO / "bench" / "attacker.c")],
                   check=True, capture_output=True, timeout=120)
    return NativeSolver(library), "bench/attacker.c (SHA extensions, 4 lanes)"


def thread_rate(work: Any, *, seconds: float = 2.0) -> float:
    """Units per CPU-second of this thread: `work()` returns the units it did; repeated for about `seconds`."""
    done, started = 0, time.thread_time()
    while time.thread_time() - started < seconds:
        done += work()
    return done / (time.thread_time() - started)


def native_rates(solver: NativeSolver | None) -> dict[str, float]:
    """PBKDF2 iterations and SHA-256 attempts per CPU-second of one thread, best of a few (the machine is shared,
    but CPU time is the thread's own)."""
    challenge = secrets.token_bytes(45)
    rates = {"hashlib pbkdf2": max(thread_rate(lambda: hashlib.pbkdf2_hmac("sha256", challenge, b"12345678", 200_000)
                                               and 200_000) for _ in range(3))}
    if solver is not None:
        def c_work() -> int:
            solver.lib.work_search(challenge, 45, 4096, 64, 0, 1000)  # 64 bits: never found, 1000 attempts
            return 1000 * 4096

        def c_sha() -> int:
            solver.lib.sha256_search(challenge[:40], 40, 64, 0, 5_000_000)
            return 5_000_000

        rates["native pbkdf2"] = max(thread_rate(c_work) for _ in range(3))
        rates["native sha256"] = max(thread_rate(c_sha) for _ in range(3))
    return rates


# --- the browser, and the phone modelled from it ----------------------------------------------------------


class StaticFiles(SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        relative = path.split("?", 1)[0].removeprefix("/static/")
        resolved = (STATIC_ROOT / relative).resolve()
        return str(resolved) if resolved.is_relative_to(STATIC_ROOT) else str(STATIC_ROOT / "missing")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def tree_cpu(pids: list[int]) -> float:
    from bench.procstats import cpu_seconds

    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


BENCHMARK_INDEX_JS = """() => {
  // Lighthouse's BenchmarkIndex (GoogleChrome/lighthouse core/lib/page-functions.js, Apache-2.0).
  function benchmarkIndexGC() {
    const start = Date.now(); let iterations = 0;
    while (Date.now() - start < 500) {
      let s = ''; for (let j = 0; j < 10000; j++) s += 'a';
      if (s.length === 1) throw new Error('will never happen, but prevents compiler optimizations');
      iterations++;
    }
    return Math.round(iterations / 10 / ((Date.now() - start) / 1000));
  }
  function benchmarkIndexNoGC() {
    const arrA = []; const arrB = []; for (let i = 0; i < 100000; i++) arrA[i] = arrB[i] = i;
    const start = Date.now(); let iterations = 0;
    while (iterations % 10 !== 0 || Date.now() - start < 500) {
      const src = iterations % 2 === 0 ? arrA : arrB; const tgt = iterations % 2 === 0 ? arrB : arrA;
      for (let j = 0; j < src.length; j++) tgt[j] = src[j];
      iterations++;
    }
    return Math.round(iterations / 10 / ((Date.now() - start) / 1000));
  }
  return (benchmarkIndexGC() + benchmarkIndexNoGC()) / 2;
}"""

# Solves with protocol.js's own functions; returns attempts made (the nonce's counter + 1, rounded up to what
# was in flight: the page computes whole batches).
SOLVE_JS = """async ({kind, bits, iterations, runs}) => {
  const p = await import('/static/chat/protocol.js');
  let attempts = 0;
  for (let run = 0; run < runs; run++) {
    const challenge = crypto.getRandomValues(new Uint8Array(45));
    const nonce = kind === 'work' ? await p.workSolve(challenge, iterations, bits, {parallel: 2})
                                  : await p.powSolve(challenge.slice(0, 40), bits);
    const view = new DataView(nonce.buffer);
    const counter = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    const batch = kind === 'work' ? 2 : 256;
    attempts += Math.ceil((counter + 1) / batch) * batch;
  }
  return attempts;
}"""


@dataclass
class BrowserRates:
    version: str
    work_per_cpu_second: float  # PBKDF2 iterations
    sha_per_cpu_second: float  # SHA-256 attempts (the v1 puzzle)
    benchmark_index: float  # per CPU-second of the page
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def phone_core_ratio(self) -> float:
        return MID_TIER_BENCHMARK_INDEX / self.benchmark_index

    @property
    def phone_work_rate(self) -> float:
        """The modelled phone's PBKDF2 iterations a second: two attempts in flight on its two big cores."""
        return self.work_per_cpu_second * self.phone_core_ratio * PHONE_BIG_CORES

    @property
    def phone_sha_rate(self) -> float:
        """The v1 puzzle on the modelled phone: one WebCrypto call per hash, one core."""
        return self.sha_per_cpu_second * self.phone_core_ratio


async def browser_rates(rounds: int = 5) -> BrowserRates:
    from playwright.async_api import async_playwright

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(StaticFiles, directory=str(STATIC_ROOT)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    samples: dict[str, list[float]] = {"work": [], "sha": [], "index": []}
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                       args=["--no-sandbox", "--disable-gpu"])
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{server.server_address[1]}/static/chat/protocol.js")
            pids = descendants(os.getpid())
            await page.evaluate(SOLVE_JS, {"kind": "work", "bits": 4, "iterations": 1000, "runs": 1})  # warm up

            async def per_cpu_second(expression: str, argument: Any = None) -> tuple[float, float, float]:
                cpu, wall = tree_cpu(pids), time.perf_counter()
                result = await page.evaluate(expression, argument)
                return float(result), tree_cpu(pids) - cpu, time.perf_counter() - wall

            for _ in range(rounds):
                attempts, cpu, _wall = await per_cpu_second(
                    SOLVE_JS, {"kind": "work", "bits": 7, "iterations": 4096, "runs": 4})
                samples["work"].append(attempts * 4096 / cpu)
                attempts, cpu, _wall = await per_cpu_second(
                    SOLVE_JS, {"kind": "sha", "bits": 14, "iterations": 1, "runs": 2})
                samples["sha"].append(attempts / cpu)
                # The index counts loops per second of the clock; per second of CPU it is the page's own speed.
                index, cpu, wall = await per_cpu_second(BENCHMARK_INDEX_JS)
                samples["index"].append(index * wall / cpu)
            version = browser.version
            await browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return BrowserRates(version, statistics.median(samples["work"]), statistics.median(samples["sha"]),
                        statistics.median(samples["index"]), samples)


# --- the attack -------------------------------------------------------------------------------------------


@dataclass
class Job:
    challenge: str
    iterations: int
    bits: int
    done: asyncio.Future[dict[str, str]]


@dataclass
class Observations:
    held: list[int] = field(default_factory=list)
    probes: list[tuple[str, float]] = field(default_factory=list)  # (outcome, modelled phone seconds of work)
    rent_asks: list[tuple[int, int]] = field(default_factory=list)  # (iterations, bits) the attacker was asked
    attacker_cpu: float = 0.0
    seconds: float = 0.0


class OneCoreSolver:
    """Every puzzle of the attacker, solved in one thread, rent before joins (soonest due first)."""

    def __init__(self, solver: NativeSolver | None) -> None:
        self.solver = solver
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="attacker")
        self.queue: list[tuple[int, float, int, Job]] = []
        self.order = itertools.count()
        self.ready = asyncio.Event()
        self.cpu = 0.0

    def submit(self, challenge: str, iterations: int, bits: int, *, rent_due: float | None) -> asyncio.Future[Any]:
        job = Job(challenge, iterations, bits, asyncio.get_running_loop().create_future())
        rank = (0, rent_due) if rent_due is not None else (1, 0.0)
        heapq.heappush(self.queue, (*rank, next(self.order), job))
        self.ready.set()
        return job.done

    def _solve(self, job: Job) -> dict[str, str]:
        from chat.protocol.crypto import b64d, b64e, work_solve

        started = time.thread_time()
        raw = b64d(job.challenge)
        nonce = self.solver.work(raw, job.iterations, job.bits)[0] if self.solver is not None else \
            work_solve(raw, job.iterations, job.bits)
        self.cpu += time.thread_time() - started
        return {"challenge": job.challenge, "nonce": b64e(nonce)}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.queue:
                self.ready.clear()
                await self.ready.wait()
            job = heapq.heappop(self.queue)[3]
            if job.done.cancelled():
                continue
            answer = await loop.run_in_executor(self.executor, self._solve, job)
            if not job.done.done():
                job.done.set_result(answer)


def pow_price(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/chat/pow/", timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


KEYS: dict[str, str] = {}


def visitor_keys() -> dict[str, str]:
    """One signed visitor key (`vk`, `ik`, `vsig`) for every join: the server keeps none, it only checks them."""
    if not KEYS:
        from chat.protocol.crypto import b64e, generate_private_key, public_key_bytes, sign_visitor_key

        identity = generate_private_key()
        vk = b64e(public_key_bytes(generate_private_key()))
        KEYS.update(vk=vk, ik=b64e(public_key_bytes(identity)), vsig=sign_visitor_key(identity, vk))
    return KEYS


def join_frame() -> dict[str, Any]:
    return {"type": "join", "v": 2, **visitor_keys(), "lang": "en"}


async def hold_one_place(base_url: str, solver: OneCoreSolver, seen: Observations, stop: asyncio.Event) -> None:
    """One attacker socket: join (again and again when refused) and pay every rent asked, until `stop`."""
    from websockets.asyncio.client import connect

    ws_url = base_url.replace("http", "ws", 1) + "/ws/visitor/"
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        with contextlib.suppress(Exception):
            async with connect(ws_url, origin=base_url, open_timeout=30, max_size=2**16) as socket:
                joined, asking = False, False
                while not stop.is_set():
                    if not joined and not asking:
                        price = await asyncio.to_thread(pow_price, base_url)
                        frame: dict[str, Any] = join_frame()
                        if price["bits"]:
                            frame["pow"] = await solver.submit(price["challenge"], price["iterations"],
                                                               price["bits"], rent_due=None)
                        await socket.send(json.dumps(frame))
                        asking = True
                    try:
                        answer = json.loads(await asyncio.wait_for(socket.recv(), timeout=1))
                    except TimeoutError:
                        continue
                    if answer["type"] == "queued":
                        joined, asking = True, False
                    elif answer["type"] == "rent":
                        seen.rent_asks.append((answer["iterations"], answer["bits"]))
                        paid = await solver.submit(answer["challenge"], answer["iterations"], answer["bits"],
                                                   rent_due=loop.time() + answer["due"])
                        await socket.send(json.dumps({"type": "rent", "chat": answer["chat"], "pow": paid}))
                    elif answer["type"] == "ended":
                        joined = False
                    elif answer["type"] == "error" and asking:
                        asking = False  # refused (queue_full, a price that rose): ask again in a moment
                        await asyncio.sleep(1)
        await asyncio.sleep(0.5)


async def legitimate_visitor(base_url: str, native: NativeSolver | None, phone_rate: float) -> tuple[str, float]:
    """Join as a visitor would, then leave; returns the answer and the work it took in modelled phone seconds."""
    from websockets.asyncio.client import connect

    from chat.protocol.crypto import b64d, b64e, work_solve

    price = await asyncio.to_thread(pow_price, base_url)
    frame: dict[str, Any] = join_frame()
    seconds = 0.0
    if price["bits"]:
        raw = b64d(price["challenge"])
        if native is not None:
            nonce, attempts = await asyncio.to_thread(native.work, raw, price["iterations"], price["bits"])
        else:  # the counter nonce says how many attempts it took
            nonce = await asyncio.to_thread(work_solve, raw, price["iterations"], price["bits"])
            attempts = int.from_bytes(nonce, "big") + 1
        seconds = attempts * price["iterations"] / phone_rate
        frame["pow"] = {"challenge": price["challenge"], "nonce": b64e(nonce)}
    async with connect(base_url.replace("http", "ws", 1) + "/ws/visitor/", origin=base_url, open_timeout=30) as socket:
        await socket.send(json.dumps(frame))
        while (answer := json.loads(await asyncio.wait_for(socket.recv(), timeout=60)))["type"] == "queue":
            pass
        if answer["type"] == "queued":
            await socket.send(json.dumps({"type": "leave", "chat": answer["chat"]}))
            return "queued", seconds
        return str(answer.get("code", answer["type"])), seconds


def held_places(database: Path) -> int:
    """Chats that hold a place now (chat.actions.holds_place), read from the server's SQLite file."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as connection:
        row = connection.execute(
            "SELECT count(*) FROM chat_chat WHERE state = 'queued' AND visitor_channel != '' "
            "AND (rent_paid_until IS NULL OR rent_paid_until >= ?)", (now,)).fetchone()
    return int(row[0])


async def one_attack(name: str, rent_seconds: int, seconds: float, native: NativeSolver | None,
                     phone_rate: float, folder: Path) -> Observations:
    var = folder / name / "var"
    port = free_port()
    env = our_env(var) | {"DJANGO_SETTINGS_MODULE": "helpline.settings.dev",
                          "HELPLINE_MAX_QUEUE_LENGTH": str(CAPACITY),
                          "HELPLINE_CHAT_RENT_SECONDS": str(rent_seconds)}
    server = Server([sys.executable, "-m", "helpline.embedded", "--port", str(port)], env, port,
                    folder / f"{name}.log")
    server.start(f"http://127.0.0.1:{port}/en/")
    base_url = f"http://127.0.0.1:{port}"
    seen = Observations()
    stop = asyncio.Event()
    solver = OneCoreSolver(native)
    tasks = [asyncio.create_task(solver.run())]
    try:
        tasks += [asyncio.create_task(hold_one_place(base_url, solver, seen, stop)) for _ in range(CAPACITY)]
        started = time.monotonic()
        warm_up = seconds / 3
        measured_from, cpu_from = None, 0.0
        next_probe = started + warm_up
        while time.monotonic() - started < seconds:
            await asyncio.sleep(1)
            if time.monotonic() - started >= warm_up:
                if measured_from is None:
                    measured_from, cpu_from = time.monotonic(), solver.cpu
                    seen.rent_asks.clear()
                seen.held.append(await asyncio.to_thread(held_places, var / "helpline.sqlite3"))
            if time.monotonic() >= next_probe:
                next_probe = time.monotonic() + 5
                with contextlib.suppress(Exception):
                    seen.probes.append(await legitimate_visitor(base_url, native, phone_rate))
        assert measured_from is not None
        seen.seconds = time.monotonic() - measured_from
        seen.attacker_cpu = (solver.cpu - cpu_from) / seen.seconds
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        solver.executor.shutdown(wait=False, cancel_futures=True)
        server.stop()
    return seen


# --- the report -------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def attack_benchmark(seconds: float, rent_seconds: int, table: Any) -> list[str]:
    """The report's lines; `table(header, rows)` renders a table as the other benchmarks do."""
    folder = temporary_folder()
    # The shipped prices, read the way the server reads them (helpline.settings: no environment overrides).
    os.environ["HELPLINE_VAR_DIR"] = str(folder / "settings-var")
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpline.settings.dev"
    from chat import pow as proof_of_work

    try:
        print("measuring the attacker's solver and the browser …", file=sys.stderr, flush=True)
        native, native_name = build_solver(folder)
        native_rate = native_rates(native)
        browser = await browser_rates()
        phone = browser.phone_work_rate
        attacker = native_rate.get("native pbkdf2", native_rate["hashlib pbkdf2"])
        out = [f"Chromium {browser.version}; attacker: {native_name if native else 'hashlib, ' + native_name}",
               f"Lighthouse BenchmarkIndex per CPU-second here: {browser.benchmark_index:.0f} (samples "
               f"{', '.join(f'{v:.0f}' for v in browser.samples['index'])}); a mid-tier phone (Pixel 5) is "
               f"{MID_TIER_BENCHMARK_INDEX}: one phone core = {browser.phone_core_ratio:.2f} of a core here", ""]
        rows = [
            ["PBKDF2 (now)", "iterations", f"{browser.work_per_cpu_second / 1e6:.2f} M",
             f"{phone / 1e6:.2f} M (2 cores)", f"{native_rate['hashlib pbkdf2'] / 1e6:.2f} M",
             f"{native_rate.get('native pbkdf2', float('nan')) / 1e6:.2f} M", f"{attacker / phone:.1f}x"],
            ["SHA-256 (v1)", "hashes", f"{browser.sha_per_cpu_second / 1e3:.0f} k",
             f"{browser.phone_sha_rate / 1e3:.0f} k (1 core)", "-",
             f"{native_rate.get('native sha256', float('nan')) / 1e6:.1f} M",
             f"{native_rate.get('native sha256', float('nan')) / browser.phone_sha_rate:.0f}x"],
        ]
        out += ["Puzzle speed, per CPU-second (one core) unless said", "",
                table(["puzzle", "unit", "Chromium here", "modelled phone", "hashlib", "attacker (C)",
                       "attacker edge over phone"], rows), ""]

        plan = proof_of_work.schedule()
        join = plan.join_price(1.0)
        rent = plan.rent_price(1.0)
        assert join is not None and rent is not None
        bound = proof_of_work.places_affordable(plan, CAPACITY, attacker)
        out += [f"Shipped prices at full pressure: a join {join.work / 1e6:.0f} M iterations = "
                f"{join.work / phone:.1f} s on the modelled phone (p95 of a geometric search: "
                f"{3 * join.work / phone:.1f} s); rent {rent.work / 1e6:.0f} M per {plan.rent_seconds:.0f} s = "
                f"{rent.work / phone / plan.rent_seconds:.0%} of the phone's time, "
                f"{rent.work / attacker / plan.rent_seconds:.0%} of an attacker core per place.",
                f"One full attacker core pays rent for {bound} of {CAPACITY} places "
                f"({bound / CAPACITY:.0%}); the phone model of the server: CHAT_POW_PHONE_RATE "
                f"{plan.phone_rate / 1e6:.1f} M/s, measured here {phone / 1e6:.2f} M/s.", ""]

        runs = []
        for name, period in (("without rent (a join holds the place for good)", 0),
                             (f"with rent ({rent_seconds} s periods)", rent_seconds)):
            print(f"attack {name}: {seconds:.0f} s …", file=sys.stderr, flush=True)
            runs.append((name, period, await one_attack(f"attack-{period}", period, seconds, native, phone, folder)))
        rows = []
        for name, period, seen in runs:
            held = seen.held or [0]
            tried = len(seen.probes)
            joined = sum(outcome == "queued" for outcome, _ in seen.probes)
            work = [seconds_ for outcome, seconds_ in seen.probes if outcome == "queued"]
            duty = [proof_of_work.Price(i, b).work / phone / max(period, 1) for i, b in seen.rent_asks]
            predicted = proof_of_work.places_affordable(plan, CAPACITY, attacker * seen.attacker_cpu) if period \
                else CAPACITY
            rows.append([name, f"{seen.attacker_cpu:.2f}", str(predicted), f"{statistics.median(held):.0f}",
                         f"{max(held)}",
                         f"{statistics.median(held) / CAPACITY:.0%}", f"{joined}/{tried}",
                         f"{statistics.median(work):.1f}" if work else "-",
                         f"{max(work):.1f}" if work else "-",
                         f"{statistics.median(duty):.0%}" if duty else "-"])
        out += [f"The attack: {CAPACITY} places, {seconds:.0f} s per run, measured after the first third; "
                "\"places that CPU pays for\": the bound for the CPU the attacker's thread got (without rent, "
                "places are held for good: all of them, given time)", "",
                table(["defence", "attacker CPU (cores)", "places that CPU pays for", "held p50", "held max",
                       "attacker share",
                       "visitor joins ok/tried", "visitor join work p50 (phone s)", "max (phone s)",
                       "waiting visitor's phone busy"], rows)]
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)
