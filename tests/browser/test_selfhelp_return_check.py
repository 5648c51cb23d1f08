"""In Chromium on a phone: "how are you doing now?" compares with the earlier self-check result kept on the device;
the earlier result never leaves localStorage, and only the change is counted, when the visitor asks for it."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.browser.conftest import axe_violations
from tests.browser.test_selfhelp_pages import STORE_KEY, Recorder, stored, wait_for
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("HELPLINE_SCREENSHOTS", "")
EARLIER = "talk-now"  # the most worried band: any calm set of answers is "better"


def answer_calmly(page: Any) -> None:
    """The least worried answer to every question (the last choice where a question is scored in reverse)."""
    data = json.loads(page.locator("#selfcheck-data").text_content())
    for question in data["questions"]:
        choices = page.locator(f"input[name='{question['key']}']")
        (choices.nth(choices.count() - 1) if question["reverse"] else choices.first).check()


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_contract_the_earlier_band_never_leaves_local_storage(live_server: LiveServer, phone: Any, lang: str) -> None:
    page = phone
    recorder = Recorder(page)
    page.goto(f"{live_server.base_url}/{lang}/help/self-check/")
    page.evaluate("([key, band]) => localStorage.setItem(key, JSON.stringify({answers: {x: 'kept'}, "
                  "selfcheck: {band, day: '2026-01-02'}}))", [STORE_KEY, EARLIER])
    page.reload()
    assert page.locator("#return-check-intro").is_visible()
    answer_calmly(page)
    page.locator("[data-selfcheck-form] button[type=submit]").click()
    band = page.locator("#selfcheck-result [data-band-text]:not([hidden])").get_attribute("data-band-text")
    assert band != EARLIER
    after = page.locator("#return-check-after")
    assert after.locator("[data-change=better]").is_visible()
    assert not after.locator("[data-change=worse]").is_visible()
    assert axe_violations(page) == []
    if SHOTS:
        after.screenshot(path=f"{SHOTS}/return-check-{lang}.png")
    wait_for(lambda: len(recorder.counts()) == 1)  # the band of the new self-check, as before
    after.locator("[data-count-change]").click()
    wait_for(lambda: len(recorder.counts()) == 2)
    assert recorder.counts() == [{"metric": "selfhelp.selfcheck_completed", "dimension": band},
                                 {"metric": "selfhelp.return_check", "dimension": "better"}]
    after.locator("[data-remember] button").click()
    assert stored(page) == {"answers": {"x": "kept"}, "selfcheck": {"band": band, "day": stored(page)["selfcheck"]["day"]}}
    assert EARLIER not in recorder.text(), "the earlier result was sent somewhere"
    assert "2026-01-02" not in recorder.text()


def test_first_time_nothing_to_compare_and_nothing_kept_unless_asked(live_server: LiveServer, phone: Any) -> None:
    page = phone
    recorder = Recorder(page)
    page.goto(f"{live_server.base_url}/en/help/self-check/")
    assert not page.locator("#return-check-intro").is_visible()
    answer_calmly(page)
    page.locator("[data-selfcheck-form] button[type=submit]").click()
    after = page.locator("#return-check-after")
    assert after.is_visible() and not after.locator("[data-compare]").is_visible()
    assert page.evaluate(f"localStorage.getItem('{STORE_KEY}')") is None, "nothing is kept unless asked"
    wait_for(lambda: len(recorder.counts()) == 1)
    assert [c["metric"] for c in recorder.counts()] == ["selfhelp.selfcheck_completed"]
