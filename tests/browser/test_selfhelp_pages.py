"""In Chromium against a real Daphne: exercises stay on the device, progress survives a reload, wipe empties it,
the safety plan downloads, everything reads without JavaScript, and the pages pass axe-core in both languages."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import axe_violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

STORE_KEY = "helpline.selfhelp.v1"
MODULE = "/en/help/modules/why-change/"  # has a scale, a reflection and a plan exercise


class Recorder:
    """Every request the page makes: URL, headers and body, to search for a marker."""

    def __init__(self, page: Any) -> None:
        self.seen: list[Any] = []
        page.on("request", self.record)

    def record(self, request: Any) -> None:
        self.seen.append(request)  # read later, outside the event handler

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [{"url": r.url, "method": r.method, "headers": r.all_headers(), "body": r.post_data or ""}
                for r in self.seen]

    def text(self) -> str:
        return json.dumps(self.requests)

    def counts(self) -> list[dict[str, str]]:
        return [json.loads(r.post_data or "null") for r in self.seen if r.url.endswith("/count/")]


def stored(page: Any) -> Any:
    return page.evaluate(f"() => JSON.parse(localStorage.getItem('{STORE_KEY}'))")


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def recorder(page: Any) -> Recorder:
    return Recorder(page)


def test_contract_exercise_answers_never_leave_the_device(live_server: LiveServer, page: Any,
                                                          recorder: Recorder) -> None:
    marker = "CANARY-7f3e2a-answer"
    page.goto(live_server.base_url + MODULE)
    page.fill("textarea[name=why-change-two-sides]", f"{marker} reflection")
    page.fill("textarea[name=why-change-reasons]", f"{marker} reasons")
    page.check("#ex-why-change-readiness-7")
    page.click("[data-finish]")
    page.goto(live_server.base_url + "/en/help/safety-plan/")
    page.fill("#plan-warning_signs", f"{marker} warning")
    page.goto(live_server.base_url + "/en/help/right-now/")
    page.goto(live_server.base_url + "/en/help/modules/")
    wait_for(lambda: len(recorder.counts()) >= 3)
    assert marker not in recorder.text()
    assert marker in json.dumps(stored(page))
    counts = recorder.counts()
    assert {"metric": "selfhelp.module_started", "dimension": "why-change"} in counts
    assert {"metric": "selfhelp.module_completed", "dimension": "why-change"} in counts
    assert {"metric": "selfhelp.safety_plan_made"} in counts
    assert all(set(c) <= {"metric", "dimension"} for c in counts)
    assert counts.count({"metric": "selfhelp.module_started", "dimension": "why-change"}) == 1
    assert not any(r["headers"].get("cookie") for r in recorder.requests)
    assert page.context.cookies() == []


def test_contract_answers_never_reach_the_server_database(live_server: LiveServer, page: Any) -> None:
    marker = "CANARY-db-4411"
    page.goto(live_server.base_url + MODULE)
    page.fill("textarea[name=why-change-two-sides]", marker)
    page.goto(live_server.base_url + "/en/help/safety-plan/")
    page.fill("#plan-reasons", marker)
    page.goto(live_server.base_url + "/en/")
    time.sleep(0.5)
    with sqlite3.connect(live_server.database) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            assert marker not in json.dumps(db.execute(f'SELECT * FROM "{table}"').fetchall(), default=str), table


def test_progress_survives_a_reload_and_feeds_the_plan(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.base_url + MODULE)
    page.fill("textarea[name=why-change-two-sides]", "two sides")
    page.fill("textarea[name=why-change-reasons]", "my reasons")
    page.check("#ex-why-change-readiness-4")
    page.reload()
    assert page.input_value("textarea[name=why-change-two-sides]") == "two sides"
    assert page.is_checked("#ex-why-change-readiness-4")
    page.goto(live_server.base_url + "/en/help/safety-plan/")
    assert page.input_value("#plan-reasons") == "my reasons"
    page.goto(live_server.base_url + "/en/help/right-now/")
    assert page.is_visible("#my-plan") and "my reasons" in page.inner_text("#my-plan")
    assert "Warning signs" not in page.inner_text("#my-plan")


def test_wipe_removes_everything(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.base_url + MODULE)
    page.fill("textarea[name=why-change-two-sides]", "to be wiped")
    page.click("text=Wipe everything this site saved on this device")
    page.click("text=Yes, wipe everything")  # wipe asks first (tests/browser/test_visitor_path.py)
    assert page.evaluate("() => localStorage.length") == 0
    assert page.input_value("textarea[name=why-change-two-sides]") == ""
    assert "has been wiped" in page.inner_text("[data-status]")
    page.reload()
    assert page.input_value("textarea[name=why-change-two-sides]") == ""
    page.goto(live_server.base_url + "/en/help/safety-plan/")
    page.fill("#plan-contacts", "someone")
    page.click("[data-wipe]")
    page.click("[data-wipe-yes]")
    assert page.evaluate("() => localStorage.length") == 0
    page.goto(live_server.base_url + "/en/help/right-now/")
    assert page.is_hidden("#my-plan")


def test_safety_plan_download_contains_the_answers(live_server: LiveServer, page: Any, recorder: Recorder) -> None:
    page.goto(live_server.base_url + "/nl/help/safety-plan/")
    answers = {"warning_signs": "laat opblijven", "coping_steps": "wandelen", "contacts": "mijn broer",
               "reasons": "kinderen veilig"}
    for name, value in answers.items():
        page.fill(f"#plan-{name}", value)
    with page.expect_download() as download_info:
        page.click("[data-download]")
    download = download_info.value
    assert download.suggested_filename == "veiligheidsplan.txt"
    text = Path(download.path()).read_text(encoding="utf-8")
    for value in answers.values():
        assert value in text
    assert "Mijn waarschuwingssignalen" in text
    assert not any(value in recorder.text() for value in answers.values())


def test_selfcheck_scores_in_the_page_and_sends_only_the_band(live_server: LiveServer, page: Any,
                                                              recorder: Recorder) -> None:
    page.goto(live_server.base_url + "/en/help/self-check/")
    for fieldset in page.locator("fieldset.question").all():
        fieldset.locator("input[type=radio]").nth(3).check()
    page.click("text=Show my result")
    assert page.is_visible("#selfcheck-result")
    assert page.is_visible("[data-band-text=talk-now]")
    assert page.evaluate("() => document.activeElement.id") == "js-result-heading"
    wait_for(lambda: recorder.counts() != [])
    assert recorder.counts() == [{"metric": "selfhelp.selfcheck_completed", "dimension": "talk-now"}]
    assert not [r for r in recorder.requests if "self-check" in r["url"] and r["method"] == "POST"]
    assert axe_violations(page) == []


def test_pages_work_without_javascript(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.base_url + "/nl/help/modules/")
    assert page.locator(".cards a").count() >= 10
    page.goto(live_server.base_url + "/nl/help/modules/safety-plan/")
    assert page.locator("textarea.worksheet-box").count() == 4
    assert page.is_visible("text=JavaScript staat uit")
    assert page.is_hidden("[data-wipe]")
    page.goto(live_server.base_url + "/en/help/self-check/")
    for fieldset in page.locator("fieldset.question").all():
        fieldset.locator("input[type=radio]").first.check()
    page.click("text=Show my result")
    page.wait_for_selector("#result-heading")
    assert "Your result" in page.inner_text("main")
    assert context.cookies() == []
    context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("path", ["/", "/help/modules/", "/help/modules/why-change/", "/help/modules/online-behaviour/",
                                  "/help/self-check/", "/help/right-now/", "/help/safety-plan/", "/help/resources/"])
def test_pages_pass_axe(live_server: LiveServer, page: Any, lang: str, path: str) -> None:
    page.goto(f"{live_server.base_url}/{lang}{path}")
    assert axe_violations(page) == []


def test_module_list_shows_this_devices_progress(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.base_url + "/nl/help/modules/")
    assert page.locator("[data-progress]:visible").count() == 0
    page.goto(live_server.base_url + "/nl/help/modules/why-change/")
    page.fill("textarea[name=why-change-two-sides]", "begin")
    page.goto(live_server.base_url + "/nl/help/modules/the-law/")
    page.click("[data-finish]")
    page.goto(live_server.base_url + "/nl/help/modules/")
    assert page.inner_text("[data-module-slug=why-change] [data-progress]") == "Begonnen op dit apparaat"
    assert page.inner_text("[data-module-slug=the-law] [data-progress]") == "Afgerond op dit apparaat"
    assert axe_violations(page) == []
