"""In Chromium: a programme manager signs in through the real pages and reads charts and tables that pass axe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import axe_violations, sign_in
from tests.conftest import REPO, LiveServer

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("HELPLINE_SCREENSHOTS", "")


def pdf_pages(pdf: bytes) -> int:
    """Pages in a PDF that Chromium printed: each page object is "/Type /Page" (the tree is "/Type /Pages")."""
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))

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
                             ("chat.helped", "yes", 15), ("chat.helped", "unsure", 3), ("chat.helped", "no", 5),
                             ("chat.next_step", "safety-plan", 8), ("chat.next_step", "contact-again", 11),
                             ("selfhelp.page_view", "managing-urges", 140), ("selfhelp.selfcheck_completed",
                              "starting-out", 20),
                             ("selfhelp.module_completed", "managing-urges", 9), ("site.referral", "poster", 14)]:
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
    page.get_by_role("link", name="One-page summary with the full report (print)").click()
    page.wait_for_url("**/stats/report/**")
    assert page.locator("article.summary-page").count() == 1 and page.locator("article.report-page").count() == 1
    assert axe_violations(page) == []
    page.emulate_media(media="print")
    assert page.locator(".site-header").is_hidden()
    page.goto(f"{seeded.base_url}/en/staff/stats/report/?period=month&periods=3")
    assert page.locator("article.report-page").count() == 3
    assert page.evaluate("getComputedStyle(document.querySelector('article.report-page')).breakBefore") == "page"


def test_dashboard_works_without_javascript(seeded: LiveServer, browser: Any, manager_state: dict[str, Any]) -> None:
    context = browser.new_context(java_script_enabled=False, storage_state=manager_state)
    page = context.new_page()
    page.goto(f"{seeded.base_url}/en/staff/stats/?period=month")
    assert page.locator("svg.chart").count() >= 10
    context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_how_many_how_satisfied_what_changed_above_the_fold(seeded: LiveServer, manager_page: Any, lang: str) -> None:
    """The questions a manager asks first are answered by the first screen: no scrolling, no tables."""
    page = manager_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{seeded.base_url}/{lang}/staff/stats/")
    cards = page.locator(".glance-card")
    expected = {"chat.offered": "43", "chat.answered": "38", "answer_rate": "88.4%", "satisfied": "85–95%",
                "helped": "65.2%", "selfhelp.page_view": "140"}
    if lang == "nl":
        expected |= {"answer_rate": "88,4%", "helped": "65,2%"}
    for slug, figure in expected.items():
        card = page.locator(f".glance-card[data-figure='{slug}']")
        assert card.locator(".figure").inner_text() == figure, slug
        box = card.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 800, f"{slug} is below the fold"
        previous_month = page.locator(".period-nav a").first.inner_text().split(": ", 1)[1]
        assert previous_month in card.locator(".sentence").inner_text(), "each figure says what it was before"
    assert cards.count() == len(expected)
    satisfied = page.locator(".glance-card[data-figure='satisfied'] .detail").inner_text()
    assert satisfied == ("17–19 of 20 ratings" if lang == "en" else "17–19 van 20 beoordelingen")
    assert axe_violations(page) == []
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/stats-top-{lang}.png")


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_board_summary_prints_on_one_a4_page_and_the_appendix_follows(seeded: LiveServer, manager_page: Any,
                                                                     lang: str) -> None:
    page = manager_page
    page.goto(f"{seeded.base_url}/{lang}/staff/stats/report/?period=month&appendix=no")
    assert axe_violations(page) == []
    summary = page.pdf(format="A4", print_background=True)
    if SHOTS:
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 703, "height": 1032})  # A4 less 12 mm margins, at 96 dpi
        page.screenshot(path=f"{SHOTS}/stats-summary-{lang}.png", full_page=True)
        page.emulate_media(media="screen")
    assert pdf_pages(summary) == 1, "the board summary is one A4 page"
    page.goto(f"{seeded.base_url}/{lang}/staff/stats/report/?period=month")
    assert page.locator("article.report-page").count() == 1
    assert page.evaluate("getComputedStyle(document.querySelector('article.report-page')).breakBefore") == "page"
    full = page.pdf(format="A4", print_background=True)
    assert pdf_pages(full) > pdf_pages(summary)
    assert axe_violations(page) == []
