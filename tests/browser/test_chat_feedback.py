"""In Chromium, on a phone: after a chat the visitor answers Yes / Not sure / No and ticks what they will do next;
only those codes are sent, once, and the form passes axe-core."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser.conftest import axe_violations
from tests.browser.test_chat_visitor_scripted import (
    TIMEOUT,
    end_a_scripted_chat,
)
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("HELPLINE_SCREENSHOTS", "")


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_visitor_says_not_sure_and_what_they_will_do_next(live_server: LiveServer, browser: Any, lang: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()

    _frames, sent = end_a_scripted_chat(live_server, page, lang)
    form = page.locator("#chat-feedback")
    helped = form.locator("input[name=helped]")
    assert [helped.nth(i).get_attribute("value") for i in range(helped.count())] == ["yes", "unsure", "no"]
    page.get_by_role("radio", name="Not sure" if lang == "en" else "Weet niet", exact=True).check()
    page.check("input[name=next][value=safety-plan]")
    page.check("input[name=next][value=contact-again]")
    page.check("input[name=rating][value='4']")
    assert axe_violations(page) == []
    if SHOTS:
        form.screenshot(path=f"{SHOTS}/chat-feedback-{lang}.png")
    form.get_by_role("button").click()
    page.wait_for_selector("#chat-feedback-status:not(:empty)", timeout=TIMEOUT)
    assert sent == [{"feedback": "one-time-token", "rating": 4, "helped": "unsure",
                     "next": ["safety-plan", "contact-again"]}]
    context.close()
