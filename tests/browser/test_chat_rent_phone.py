"""In Chromium on a phone viewport: a visitor joins a busy queue with the PBKDF2 puzzle and keeps the place by
paying rent while waiting (protocol.md §9). (One who does not pay: tests/live/test_chat_rent_server.py.)"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from chat.client import ServerError, VisitorClient
from chat.protocol.crypto import b64d, work_check
from tests.browser.conftest import axe_violations
from tests.conftest import LiveServer
from tests.live.test_chat_rent_server import busy_live_server, waiting_visitor

pytestmark = [pytest.mark.browser, pytest.mark.live]

PHONE = {"width": 390, "height": 844}
RENT_SECONDS = 3
TIMEOUT = 60_000
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "var" / "screenshots"


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = busy_live_server(tmp_path, RENT_SECONDS)
    yield server
    server.stop()


class BackgroundLoop:
    """An event loop in a thread of its own for the Python clients: Playwright's sync API holds this thread's."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, Any], timeout: float = 90) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def time(self) -> float:
        return self.loop.time()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def test_a_phone_visitor_joins_a_busy_queue_and_keeps_the_place(busy_server: LiveServer, browser: Any) -> None:
    loop = BackgroundLoop()
    first = loop.run(waiting_visitor(busy_server, pay=True))
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    sent: list[dict[str, Any]] = []
    received: list[dict[str, Any]] = []
    page.on("websocket", lambda socket: (
        socket.on("framesent", lambda payload: sent.append(json.loads(str(payload)))),
        socket.on("framereceived", lambda payload: received.append(json.loads(str(payload))))))
    try:
        page.goto(f"{busy_server.base_url}/en/help/chat/")
        # Every text the status line shows, however briefly (a rent solve can take a fraction of a second).
        page.evaluate("""() => {
            window.statusTexts = [];
            const line = document.querySelector('#chat-status');
            new MutationObserver(() => window.statusTexts.push(line.textContent))
                .observe(line, {childList: true, characterData: true, subtree: true});
        }""")
        with page.expect_response("**/chat/pow/") as pow_response:
            page.click("#chat-start")
        page.wait_for_selector("#chat-status:has-text('in the queue')", timeout=TIMEOUT)
        # The join carried an answer to the PBKDF2 puzzle the server asked for (one place of two was held).
        join = next(frame for frame in sent if frame["type"] == "join")
        price = pow_response.value.json()
        assert price["bits"] > 0
        assert join["pow"]["challenge"] == price["challenge"]
        assert work_check(b64d(price["challenge"]), b64d(join["pow"]["nonce"]), price["iterations"], price["bits"])

        # While waiting, the page answers every rent request; the place stays its own over several periods.
        deadline = loop.time() + 6 * RENT_SECONDS + 30
        while sum(frame["type"] == "rent" for frame in sent) < 3:
            assert loop.time() < deadline, f"the page paid no rent: {received[-5:]}"
            page.wait_for_timeout(100)
        # The page said why the phone was busy, then went back to the place in the queue.
        page.wait_for_function("""() => {
            const texts = window.statusTexts;
            const working = texts.findIndex((text) => text.includes('keep your place in the queue'));
            return working >= 0 && texts.slice(working + 1).some((text) => text.startsWith('You are number 2'));
        }""", timeout=TIMEOUT)
        for ask, answer in zip([f for f in received if f["type"] == "rent"], [f for f in sent if f["type"] == "rent"],
                               strict=False):
            assert answer["pow"]["challenge"] == ask["challenge"]
            assert work_check(b64d(ask["challenge"]), b64d(answer["pow"]["nonce"]), ask["iterations"], ask["bits"])
        assert not [frame for frame in received if frame["type"] == "error"]
        assert page.is_visible("#chat-waiting")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "chat-waiting-phone.png"))
        assert axe_violations(page) == []

        # Both places are paid for: a third visitor is turned away.
        third = VisitorClient(busy_server.base_url, org_public_key=busy_server.org_public_key)
        loop.run(third.join("en"))
        refused = loop.run(third.wait_for(ServerError, timeout=60))
        assert refused.code == "queue_full"
        loop.run(third.close())
    finally:
        context.close()
        loop.run(first.close())
        loop.stop()

