"""In Chromium, on a phone: after a chat the visitor answers Yes / Not sure / No and ticks what they will do next;
only those codes are sent, once, and the form passes axe-core."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.browser.conftest import axe_violations
from tests.browser.test_chat_visitor_scripted import (
    CHAT,
    RESUME,
    TIMEOUT,
    connected_frame,
    org_private_key,
    scripted_server,
)
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("HELPLINE_SCREENSHOTS", "")


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_visitor_says_not_sure_and_what_they_will_do_next(live_server: LiveServer, browser: Any, lang: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()

    def answer(frame: dict[str, Any]) -> list[dict[str, Any]]:
        if frame["type"] == "join":
            return [{"type": "queued", "chat": CHAT, "resume": RESUME, "position": 1},
                    connected_frame(frame, org_private_key(live_server))]
        if frame["type"] == "leave":
            return [{"type": "ended", "chat": CHAT, "by": "visitor", "feedback": "one-time-token"}]
        return []

    scripted_server(page, answer)
    sent: list[dict[str, Any]] = []

    def record(route: Any) -> None:
        sent.append(json.loads(route.request.post_data))
        route.fulfill(status=204)

    page.route("**/chat/feedback/", record)
    page.goto(f"{live_server.base_url}/{lang}/help/chat/")
    page.click("#chat-start")
    page.wait_for_selector("#chat-room:not([hidden])", timeout=TIMEOUT)
    page.click("#chat-leave")
    page.click("#chat-leave-confirm")  # End asks first
    page.wait_for_selector("#chat-after:not([hidden])", timeout=TIMEOUT)
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
