"""In Chromium: a visitor and a counsellor chat through the real pages on a real Daphne.

Two browser contexts (two people, no shared storage). The counsellor signs in through the real sign-in
pages, makes a device key in the browser and waits for its certificate; the visitor starts a chat.
Every websocket frame either page sends or receives is recorded: the plaintext canaries must never be
in one. A reload of the visitor's page resumes the chat with a fresh key. Both pages pass axe-core.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import axe_violations, sign_in
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

CANARY_V = "visitor canary: amber-walrus-5520"
CANARY_C = "counsellor canary: quiet-lantern-1184"
TIMEOUT = 30_000


class FrameRecorder:
    """Every websocket frame a page sends or receives, as text."""

    def __init__(self, page: Any) -> None:
        self.frames: list[str] = []
        page.on("websocket", self._watch)

    def _watch(self, socket: Any) -> None:
        socket.on("framesent", lambda payload: self.frames.append(str(payload)))
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))

    def assert_no_plaintext(self, *canaries: str) -> None:
        assert self.frames, "no websocket frames were recorded"
        for frame in self.frames:
            for canary in canaries:
                for part in canary.split(": "):
                    assert part not in frame, f"plaintext on the wire: {frame[:200]}"




@pytest.fixture
def people(browser: Any) -> Iterator[tuple[Any, Any]]:
    visitor_context = browser.new_context(accept_downloads=True)
    counsellor_context = browser.new_context()
    yield visitor_context.new_page(), counsellor_context.new_page()
    visitor_context.close()
    counsellor_context.close()


def open_console(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, "demo-counsellor")
    page.goto(f"{live_server.base_url}/en/staff/chat/")
    page.click("#device-enrol")
    page.wait_for_selector("#device-status:has-text('certified')", timeout=TIMEOUT)
    page.wait_for_selector("#socket-status:has-text('Connected')", timeout=TIMEOUT)
    page.check("#available")


def test_visitor_and_counsellor_chat_through_the_pages(live_server: LiveServer, people: tuple[Any, Any]) -> None:
    visitor, counsellor = people
    visitor_frames = FrameRecorder(visitor)
    counsellor_frames = FrameRecorder(counsellor)
    open_console(counsellor, live_server)
    assert axe_violations(counsellor) == []

    visitor.goto(f"{live_server.base_url}/en/help/chat/")
    assert axe_violations(visitor) == []
    visitor.click("#chat-start")
    counsellor.get_by_role("button", name="Accept").click(timeout=TIMEOUT)
    visitor.wait_for_selector("#chat-room:not([hidden])", timeout=TIMEOUT)
    assert visitor.inner_text("#chat-peer") == "Your counsellor: Robin (verified)"  # the pseudonym, never the username
    code = visitor.inner_text("#chat-safety-code")
    assert re.fullmatch(r"\d{6}", code)
    assert counsellor.inner_text(".chat-panel:not([hidden]) .panel-safety-code") == code

    visitor.fill("#chat-input", CANARY_V)
    counsellor.wait_for_selector(".chat-panel .chat-typing:has-text('The visitor is typing')", timeout=TIMEOUT)
    visitor.keyboard.press("Enter")
    counsellor.wait_for_selector(f".chat-panel .chat-log :text('{CANARY_V}')", timeout=TIMEOUT)
    counsellor.fill(".chat-panel:not([hidden]) .panel-input", CANARY_C)
    counsellor.keyboard.press("Enter")
    visitor.wait_for_selector(f"#chat-log :text('{CANARY_C}')", timeout=TIMEOUT)
    assert axe_violations(visitor) == []
    assert axe_violations(counsellor) == []

    # A reload keeps only the resume token (sessionStorage): a new key, a new epoch, and both pages say so.
    visitor.reload()
    visitor.wait_for_selector("#chat-log :text('secure session restarted')", timeout=TIMEOUT)
    counsellor.wait_for_selector(".chat-panel .chat-log :text('secure session restarted')", timeout=TIMEOUT)
    new_code = visitor.inner_text("#chat-safety-code")
    assert counsellor.inner_text(".chat-panel:not([hidden]) .panel-safety-code") == new_code
    assert CANARY_C not in visitor.inner_text("#chat-log"), "nothing from before the reload can come back"
    visitor.fill("#chat-input", CANARY_V + " again")
    visitor.keyboard.press("Enter")
    counsellor.wait_for_selector(f".chat-panel .chat-log :text('{CANARY_V} again')", timeout=TIMEOUT)

    counsellor.click(".chat-panel:not([hidden]) .panel-end")
    counsellor.check(".chat-panel:not([hidden]) input[name=contact][value=self]")  # nothing is chosen in advance
    counsellor.check(".chat-panel:not([hidden]) input[name=concern][value=own_urges]")
    counsellor.click(".chat-panel:not([hidden]) .panel-wrapup-submit")
    visitor.wait_for_selector("#chat-after:not([hidden])", timeout=TIMEOUT)
    assert "counsellor ended" in visitor.inner_text("#chat-ended-reason")
    visitor.check("input[name=rating][value='5']")
    visitor.check("input[name=helped][value=yes]")
    visitor.click("#chat-feedback button[type=submit]")
    visitor.wait_for_selector("#chat-feedback-status:has-text('Thank you')", timeout=TIMEOUT)
    with visitor.expect_download() as download_info:
        visitor.click("#chat-save")
    transcript = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert CANARY_V + " again" in transcript
    assert axe_violations(visitor) == []

    visitor_frames.assert_no_plaintext(CANARY_V, CANARY_C)
    counsellor_frames.assert_no_plaintext(CANARY_V, CANARY_C)
    assert visitor.evaluate("sessionStorage.length") == 0
    assert visitor.context.cookies() == []

    # The device key stays in this browser's IndexedDB: a reload needs no new enrolment ...
    counsellor.reload()
    counsellor.wait_for_selector("#device-status:has-text('certified')", timeout=TIMEOUT)
    assert counsellor.locator("#device-enrol").is_hidden()
    # ... and when it is lost, the console offers to make a new one.
    counsellor.evaluate("""() => new Promise((resolve) => {
        const request = indexedDB.deleteDatabase("helpline-console");
        request.onsuccess = request.onerror = request.onblocked = () => resolve();
    })""")
    counsellor.reload()
    counsellor.wait_for_selector("#device-enrol:not([hidden])", timeout=TIMEOUT)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_visitor_chat_page_reads_in_its_language_and_passes_axe(live_server: LiveServer, page: Any,
                                                                  lang: str) -> None:
    page.goto(f"{live_server.base_url}/{lang}/help/chat/")
    assert page.locator("html").get_attribute("lang") == lang
    start = page.locator("#chat-start")
    start.wait_for()
    assert start.inner_text() == {"en": "Start the chat", "nl": "Start de chat"}[lang]
    assert axe_violations(page) == []
    assert page.context.cookies() == []
    # 200% zoom of a 1280px window is a 640px-wide viewport: nothing may need horizontal scrolling.
    page.set_viewport_size({"width": 640, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


def test_supervision_page_shows_live_numbers_and_passes_axe(live_server: LiveServer, page: Any) -> None:
    sign_in(page, live_server, "demo-supervisor")
    page.goto(f"{live_server.base_url}/en/staff/chat/supervise/")
    assert page.inner_text("#fig-queue").isdigit()
    page.wait_for_selector("#fig-updated:has-text('Updated at')", timeout=TIMEOUT)
    assert axe_violations(page) == []
    page.goto(f"{live_server.base_url}/nl/staff/chat/supervise/")
    assert page.locator("h1").inner_text() == "Supervisie"
