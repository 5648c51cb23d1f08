"""Against a real Daphne: many visitors' beacons at once are all counted, and none gets a cookie."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import REPO, LiveServer

pytestmark = pytest.mark.live

BEACONS = 200


def post(server: LiveServer, body: bytes, content_type: str = "application/json") -> tuple[int, str | None]:
    request = urllib.request.Request(f"{server.base_url}/count/", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Set-Cookie")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Set-Cookie")


def count_of(server: LiveServer, metric: str, dimension: str) -> int:
    script = ("import django; django.setup(); from django.db.models import Sum;"
              "from helpline.metrics.models import DailyCount;"
              f"print(DailyCount.objects.filter(metric={metric!r}, dimension={dimension!r})"
              ".aggregate(n=Sum('count'))['n'] or 0)")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=server.env, check=True, capture_output=True,
                         text=True)
    return int(out.stdout.strip())


def test_contract_concurrent_beacons_are_all_counted_without_cookies(live_server: LiveServer) -> None:
    body = json.dumps({"metric": "selfhelp.module_completed", "dimension": "managing-urges"}).encode()
    before = count_of(live_server, "selfhelp.module_completed", "managing-urges")
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _i: post(live_server, body), range(BEACONS)))
    assert {status for status, _cookie in results} == {204}
    assert all(cookie is None for _status, cookie in results)
    assert count_of(live_server, "selfhelp.module_completed", "managing-urges") == before + BEACONS


def test_beacon_refusals_over_http(live_server: LiveServer) -> None:
    before = count_of(live_server, "chat.answered", "en")  # the server is shared: other tests count too
    assert post(live_server, b'{"metric": "chat.answered", "dimension": "en"}')[0] == 400
    assert post(live_server, b'{"metric": "selfhelp.safety_plan_made"}', "text/plain")[0] == 415
    assert post(live_server, b"x" * 513)[0] == 413
    assert count_of(live_server, "chat.answered", "en") == before
