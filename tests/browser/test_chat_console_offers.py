"""In Chromium, the console against a scripted websocket (the page, sign-in and device API are real): repro 7.

Offers say the chat's language, the wait and how long they stand, once; canned replies come in each chat's own
language; a new message or a visitor leaving in a chat the counsellor is not looking at counts in the tab and the
title, and (when ticked) gives a browser notification that says nothing of what was written; every line has its
time; the unread badge reads as "Chat 1, 1 unread"; no wrap-up category is chosen for the counsellor.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import pytest

from chat.client import EpochSession
from chat.protocol import crypto
from tests.browser.conftest import axe_violations, sign_in
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

TIMEOUT = 20_000
USER = "demo-admin"  # may counsel; keeps this module's TOTP sign-in apart from the live chat tests'

# Records each notification the page makes (title and body), so the test can read what it would have shown.
RECORD_NOTIFICATIONS = """
window.__notifications = [];
const Original = window.Notification;
window.Notification = class extends Original {
  constructor(title, options) {
    super(title, options);
    window.__notifications.push({ title, body: options && options.body });
  }
};
"""


class Visitor:
    """One scripted visitor: an identity key and, once the console accepted, the epoch session."""

    def __init__(self, chat: str) -> None:
        self.chat = chat
        self.identity = crypto.generate_private_key()
        self.key = crypto.generate_private_key()
        self.vk = crypto.b64e(crypto.public_key_bytes(self.key))
        self.session: EpochSession | None = None

    def rekey(self, **about: Any) -> str:
        return json.dumps({"type": "rekey", "chat": self.chat, "epoch": 0, "vk": self.vk,
                           "ik": crypto.b64e(crypto.public_key_bytes(self.identity)),
                           "vsig": crypto.sign_visitor_key(self.identity, self.vk), **about})

    def accepted(self, frames: list[dict[str, Any]]) -> None:
        accept = next(f for f in frames if f["type"] == "accept" and f["chat"] == self.chat)
        self.session = EpochSession.derive("visitor", self.chat, 0, self.key, self.vk, accept["ck"])

    def says(self, body: str) -> str:
        assert self.session is not None
        return json.dumps(self.session.seal(crypto.text_message(body, crypto.new_message_id())))


def add_canned_responses(live_server: LiveServer) -> None:
    with sqlite3.connect(live_server.database, timeout=30) as db:
        db.execute("DELETE FROM chat_cannedresponse")
        db.execute('INSERT INTO chat_cannedresponse (title, text_en, text_nl, "order") VALUES '
                   "('Welcome', 'Hello, I am here.', 'Hallo, ik ben er.', 1), "
                   "('Phone', 'You can also phone us.', '', 2)")


def canned_titles(page: Any) -> list[str]:
    return [text.strip() for text in page.locator(".chat-panel:not([hidden]) .canned button").all_inner_texts()]


def test_offers_cues_canned_replies_and_badges(live_server: LiveServer, browser: Any) -> None:
    add_canned_responses(live_server)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["notifications"])
    context.add_init_script(RECORD_NOTIFICATIONS)
    page = context.new_page()
    sent: list[dict[str, Any]] = []
    sockets: list[Any] = []

    def handler(socket: Any) -> None:
        sockets.append(socket)
        socket.on_message(lambda message: sent.append(json.loads(message)))

    page.route_web_socket("**/ws/counsellor/", handler)
    try:
        sign_in(page, live_server, USER)
        page.goto(f"{live_server.base_url}/en/staff/chat/")
        page.click("#device-enrol")
        page.wait_for_selector("#device-status:has-text('certified')", timeout=TIMEOUT)
        page.check("#available")
        page.check("#notify")
        assert page.is_checked("#notify"), "permission granted: the tick stays"
        server = sockets[-1]
        dutch, english = Visitor(crypto.b64e(bytes(range(16)))), Visitor(crypto.b64e(bytes(range(1, 17))))

        # An offer: language, the wait from the first join, and a countdown; the sentence is said once.
        server.send(dutch.rekey(lang="nl", waiting=3, expires=60))
        offer = page.locator(".queue-list li.offer")
        offer.wait_for(timeout=TIMEOUT)
        assert offer.locator(".offer-details").inner_text() == "New chat · Dutch · waiting 3 min"
        first = int(re.search(r"(\d+) s left to accept", offer.inner_text()).group(1))  # type: ignore[union-attr]
        assert 55 <= first <= 60
        page.wait_for_function("(first) => { const m = document.querySelector('.countdown').textContent.match(/\\d+/);"
                               " return m && Number(m[0]) < first; }", arg=first, timeout=TIMEOUT)
        assert page.inner_text("#console").count("A chat is offered to you") == 1
        assert page.title().startswith("(1) ")
        assert axe_violations(page) == []
        page.screenshot(path="/tmp/helpline-screenshots/console-offer.png")
        page.get_by_role("button", name="Accept").click()
        page.wait_for_selector(".chat-panel .panel-safety-code:text-matches('^[0-9]{6}$')", timeout=TIMEOUT)
        dutch.accepted(sent)
        assert page.inner_text(".chat-panel:not([hidden]) .panel-about") == "Language of this chat: Dutch."
        assert canned_titles(page) == ["Welcome"], "a text without a Dutch translation is not offered in Dutch"
        page.click(".chat-panel:not([hidden]) .canned button")
        assert page.input_value(".chat-panel:not([hidden]) .panel-input") == "Hallo, ik ben er."
        page.fill(".chat-panel:not([hidden]) .panel-input", "")

        server.send(english.rekey(lang="en", waiting=0, expires=60))
        page.get_by_role("button", name="Accept").click(timeout=TIMEOUT)
        page.wait_for_selector("#chat-tab-2[aria-selected=true]", timeout=TIMEOUT)
        english.accepted(sent)
        assert canned_titles(page) == ["Welcome", "Phone"]
        page.click(".chat-panel:not([hidden]) .canned button >> text=Welcome")
        assert page.input_value(".chat-panel:not([hidden]) .panel-input") == "Hello, I am here."

        # A message in the chat not in view: counted in its tab (read as words, not "Chat 11") and in the title.
        server.send(dutch.says("Is daar iemand?"))
        page.get_by_role("tab", name="Chat 1, 1 unread").wait_for(timeout=TIMEOUT)
        assert page.inner_text("#chat-tab-1") == "Chat 1, 1 unread"
        assert page.title().startswith("(1) ")
        assert page.locator("#chat-panel-1 .chat-log").inner_text().count("Is daar iemand?") == 1
        assert axe_violations(page) == []

        # The console's tab in the background: the notification says only that something happened.
        page.evaluate("() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });"
                      " document.dispatchEvent(new Event('visibilitychange')); }")
        server.send(dutch.says("geheime-inhoud-7781: ik wil praten"))
        page.get_by_role("tab", name="Chat 1, 2 unread").wait_for(timeout=TIMEOUT)
        server.send(json.dumps({"type": "ended", "chat": dutch.chat, "by": "visitor"}))
        page.get_by_role("tab", name="Chat 1, 3 unread").wait_for(timeout=TIMEOUT)
        notes = page.evaluate("window.__notifications")
        assert {"title": "Chat console", "body": "A new message"} in notes
        assert {"title": "Chat console", "body": "A chat has ended"} in notes
        assert "geheime" not in json.dumps(notes) and "praten" not in json.dumps(notes)
        assert page.title().startswith("(3) ")
        page.evaluate("() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });"
                      " document.dispatchEvent(new Event('visibilitychange')); }")

        page.get_by_role("tab", name="Chat 1, 3 unread").click()
        page.get_by_role("tab", name="Chat 1", exact=True).wait_for(timeout=TIMEOUT)
        assert not page.title().startswith("(")
        times = page.locator("#chat-panel-1 .chat-line .time").all_inner_texts()
        assert times and all(re.fullmatch(r"\d{2}:\d{2}", time) for time in times), times
        assert axe_violations(page) == []

        # At 200 % zoom (a 1280 px window is 640 px wide) nothing needs scrolling sideways, the dialog included;
        # the dialog is keyboard-operable (Esc closes it) and passes axe.
        page.get_by_role("tab", name="Chat 2").click()
        page.set_viewport_size({"width": 640, "height": 800})
        overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert page.evaluate(overflow) <= 0
        page.click(".chat-panel:not([hidden]) .panel-handover")
        page.wait_for_selector("#handover-colleagues label", timeout=TIMEOUT)
        assert page.evaluate(overflow) <= 0
        assert axe_violations(page) == []
        page.screenshot(path="/tmp/helpline-screenshots/console-zoom-dialog.png", full_page=True)
        page.keyboard.press("Escape")
        assert not page.locator("#handover-dialog").is_visible()
        page.set_viewport_size({"width": 1280, "height": 900})

        # The wrap-up: nothing chosen for the counsellor; ending without a contact type is not possible.
        page.click(".chat-panel:not([hidden]) .panel-end")
        assert page.locator(".chat-panel:not([hidden]) .wrapup input:checked").count() == 0
        page.click(".chat-panel:not([hidden]) .panel-wrapup-submit")
        assert not any(frame["type"] == "end" for frame in sent)
        page.check(".chat-panel:not([hidden]) input[name=contact][value=test]")
        page.click(".chat-panel:not([hidden]) .panel-wrapup-submit")
        page.wait_for_timeout(300)
        assert {"type": "end", "chat": english.chat, "wrapup": {"contact": "test"}} in sent
    finally:
        with sqlite3.connect(live_server.database, timeout=30) as db:
            db.execute("DELETE FROM chat_cannedresponse")
        context.close()
