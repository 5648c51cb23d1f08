"""In Chromium: a programme manager signs in through the real pages and reads charts and tables that pass axe."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import axe_violations, sign_in
from tests.conftest import REPO, LiveServer

pytestmark = pytest.mark.browser

SEED = """
import datetime
from django.utils import timezone
from helpline.metrics.actions import block_start, increment, increment_hour_of_week, today
from helpline.metrics.disclosure import latest_closed
month = latest_closed("month", today())
day = month.start + datetime.timedelta(days=3)
for metric, dimension, n in [("chat.offered", "en", 40), ("chat.offered", "nl", 3), ("chat.answered", "en", 38),
                             ("chat.wait_bin", "<1", 30), ("chat.wait_bin", "1-2", 6), ("chat.wait_bin", "2-5", 2),
                             ("chat.rating", "5", 12), ("chat.rating", "4", 7), ("chat.rating", "2", 1),
                             ("selfhelp.module_completed", "urges", 9), ("site.referral", "poster", 14)]:
    increment(metric, dimension, amount=n, day=day)
start = block_start(month.last_day)
if start + datetime.timedelta(days=27) > month.last_day:
    start -= datetime.timedelta(days=28)
for hour in range(8, 20):
    moment = timezone.make_aware(datetime.datetime.combine(start, datetime.time(hour, 15)))
    increment_hour_of_week("chat.demand_how", moment, amount=hour)
    increment_hour_of_week("chat.capacity_how", moment, amount=8)
"""


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> LiveServer:
    subprocess.run([sys.executable, "manage.py", "shell", "-c", SEED], cwd=REPO, env=live_server.env, check=True,
                   capture_output=True)
    return live_server


@pytest.fixture(scope="module")
def manager_state(seeded: LiveServer, browser: Any) -> dict[str, Any]:
    """Sign in once through the real pages (a TOTP code cannot be used twice), then reuse the session."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, seeded, "demo-manager")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


@pytest.fixture
def manager_page(browser: Any, manager_state: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(storage_state=manager_state)
    yield context.new_page()
    context.close()




@pytest.mark.parametrize("lang", ["en", "nl"])
def test_dashboard_renders_charts_and_tables_and_passes_axe(seeded: LiveServer, manager_page: Any, lang: str) -> None:
    page = manager_page
    page.goto(f"{seeded.base_url}/{lang}/staff/")
    page.get_by_role("link", name="Statistics" if lang == "en" else "Statistieken").click()
    page.wait_for_url(f"**/{lang}/staff/stats/")
    assert page.locator("svg.chart").count() >= 10
    assert page.locator("figure + .table-scroll table, figure + details table").count() == page.locator("svg.chart").count()
    assert page.get_by_role("img", name="Chats over time" if lang == "en" else "Chats door de tijd").count() == 1
    wait = page.locator("table:has(#c-wait)")
    assert wait.locator("tbody tr").first.inner_text().split("\t")[-1].strip() == "30"
    assert "<5" in wait.locator("tbody").inner_text()
    assert axe_violations(page) == []


def test_period_picker_export_and_printable_report(seeded: LiveServer, manager_page: Any) -> None:
    page = manager_page
    page.goto(f"{seeded.base_url}/en/staff/stats/")
    page.select_option("#pick-quarter", index=0)
    page.locator("form", has=page.locator("#pick-quarter")).get_by_role("button").click()
    page.wait_for_url("**/stats/?period=quarter&key=*")
    assert page.locator("h1").inner_text().startswith("Statistics: Q")
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("helpline-statistics-quarter-")
    page.get_by_role("link", name="Printable report").click()
    page.wait_for_url("**/stats/report/**")
    assert page.locator("article.report-page").count() == 1
    assert axe_violations(page) == []
    page.emulate_media(media="print")
    assert page.locator(".site-header").is_hidden()
    page.goto(f"{seeded.base_url}/en/staff/stats/report/?period=month&periods=3")
    assert page.locator("article.report-page").count() == 3
    assert page.evaluate("getComputedStyle(document.querySelector('article.report-page')).breakAfter") == "page"


def test_dashboard_works_without_javascript(seeded: LiveServer, browser: Any, manager_state: dict[str, Any]) -> None:
    context = browser.new_context(java_script_enabled=False, storage_state=manager_state)
    page = context.new_page()
    page.goto(f"{seeded.base_url}/en/staff/stats/?period=year")
    assert page.locator("svg.chart").count() >= 10
    context.close()
