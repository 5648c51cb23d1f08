"""Page latency on our Daphne: a self-help module page (rendered by Django) against a static file served
by the same process (the baseline: what the server costs with no view, no template, no database)."""

from __future__ import annotations

import http.client
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.load import median, percentile


@dataclass
class PageResult:
    name: str
    path: str
    latencies_ms: list[float]
    failures: int
    elapsed: float

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed if self.elapsed else 0.0


def find_paths(port: int) -> tuple[str, str]:
    """(a module page, a static file) as the site links them; the module list when no module page is linked."""
    listing = get(port, "/en/help/modules/")[1].decode()
    module = next(iter(re.findall(r'href="(/en/help/modules/[^"]+/)"', listing)), "/en/help/modules/")
    static = re.search(r'href="(/static/[^"]+\.css)"', listing)
    assert static, "no stylesheet linked from the module list"
    return module, static.group(1)


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def measure(port: int, name: str, path: str, requests: int, concurrency: int) -> PageResult:
    latencies: list[float] = []
    failures = 0

    def one(_: int) -> float | None:
        started = time.perf_counter()
        status, _body = get(port, path)
        return (time.perf_counter() - started) * 1000 if status == 200 else None

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for result in pool.map(one, range(requests)):
            if result is None:
                failures += 1
            else:
                latencies.append(result)
    return PageResult(name, path, latencies, failures, time.perf_counter() - started)


def row(result: PageResult, concurrency: int) -> list[str]:
    values = result.latencies_ms
    return [result.name, str(concurrency), str(len(values)), str(result.failures), f"{median(values):.1f}",
            f"{percentile(values, 0.95):.1f}", f"{percentile(values, 0.99):.1f}", f"{result.rate:.0f}"]


# The budget issue 3 sets for a self-help module page: what reaches the visitor, all of it.
PAGE_BUDGET_BYTES = 50 * 1024
PAGE_BUDGET_REQUESTS = 4


def subresources(html: str) -> list[str]:
    """Same-origin stylesheets, scripts, images and icons the page makes the browser fetch."""
    pattern = r'<(?:link[^>]+rel="(?:stylesheet|icon|preload)"[^>]*href|script[^>]+src|img[^>]+src)="(/[^"]+)"'
    found = re.findall(pattern, html)
    return list(dict.fromkeys(found))


def weight_row(port: int, name: str, path: str) -> list[str]:
    """One page's requests and bytes, raw and as a gzip-compressing server or proxy would send them."""
    import gzip

    status, body = get(port, path)
    assert status == 200, f"{path}: {status}"
    bodies = [body] + [get(port, sub)[1] for sub in subresources(body.decode())]
    raw = sum(len(b) for b in bodies)
    compressed = sum(len(gzip.compress(b, compresslevel=6)) for b in bodies)
    within = "yes" if compressed <= PAGE_BUDGET_BYTES and len(bodies) <= PAGE_BUDGET_REQUESTS else "NO"
    return [name, str(len(bodies)), f"{raw / 1024:.1f}", f"{compressed / 1024:.1f}", within]
