"""In Chromium, the counsellor console's half of issue 13: a console that survives a reload (repro 5), a warm
hand-over to a colleague with a note and the conversation so far (repro 6), and a hand-over nobody takes coming back
with its history. Counsellors on desktops and a visitor on a phone, each in a browser context of their own, through
the real pages on a real Daphne; nothing typed may be lost, and nothing may need Accept again.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import axe_violations, sign_in
from tests.conftest import LiveServer, own_live_server

pytestmark = [pytest.mark.browser, pytest.mark.live]

TIMEOUT = 30_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SHOTS = Path("/tmp/helpline-screenshots")

# What the console keeps in IndexedDB, read as the page itself could (the test reads; the page never does this).
STORED = """() => new Promise((resolve) => {
  const opening = indexedDB.open("helpline-console-chats");
  opening.onsuccess = () => {
    const db = opening.result;
    if (!db.objectStoreNames.contains("chats")) { db.close(); resolve(null); return; }
    const reading = db.transaction(["chats", "meta"]);
    const chats = reading.objectStore("chats").getAll();
    const meta = reading.objectStore("meta").getAll();
    reading.oncomplete = () => {
      resolve({
        chats: chats.result.map((row) => ({ fields: Object.keys(row).sort(), ct: Object.prototype.toString.call(row.ct),
                                           bytes: Array.from(new Uint8Array(row.ct)) })),
        meta: meta.result.map((row) => ({ tag: row.tag, type: row.key.type, extractable: row.key.extractable,
                                          usages: row.key.usages })),
      });
      db.close();
    };
  };
})"""


@pytest.fixture
def contexts(browser: Any) -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for context in made:
        context.close()


def new_page(browser: Any, contexts: list[Any], viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    contexts.append(context)
    return context.new_page()


def panel(selector: str = "") -> str:
    return f".chat-panel:not([hidden]) {selector}".strip()


def say(page: Any, field: str, text: str) -> None:
    page.fill(field, text)
    page.keyboard.press("Enter")


def line_of(page: Any, log: str, text: str) -> Any:
    return page.locator(f"{log} .chat-line", has_text=text).last


def open_console(page: Any, live_server: LiveServer, username: str, *, available: bool = True) -> None:
    sign_in(page, live_server, username)
    page.goto(f"{live_server.base_url}/en/staff/chat/")
    page.click("#device-enrol")
    page.wait_for_selector("#device-status:has-text('certified')", timeout=TIMEOUT)
    page.wait_for_selector("#socket-status:has-text('Connected')", timeout=TIMEOUT)
    if available:
        page.check("#available")


def start_chat(visitor: Any, counsellor: Any, live_server: LiveServer) -> None:
    visitor.goto(f"{live_server.base_url}/en/help/chat/")
    visitor.click("#chat-start")
    counsellor.get_by_role("button", name="Accept").click(timeout=TIMEOUT)
    visitor.wait_for_selector("#chat-state[data-state=connected]", timeout=TIMEOUT)


def delivered(page: Any, log: str, text: str) -> None:
    line_of(page, log, text).locator(".delivery:text-is('Delivered')").wait_for(timeout=TIMEOUT)


def wait_until_rekey_answered(page: Any, count: int) -> None:
    """The console answered the server's hand-back `count` times in all (a line each), with no Accept."""
    page.wait_for_function(
        "(count) => [...document.querySelectorAll('.chat-panel .chat-log .chat-line')]"
        ".filter((line) => line.textContent.includes('Your console reconnected')).length >= count",
        arg=count, timeout=TIMEOUT)


def test_a_reloaded_console_keeps_its_chats_and_loses_no_word(live_server: LiveServer, browser: Any,
                                                               contexts: list[Any]) -> None:
    """Repro 5: reload mid-chat; the transcript is there, nothing needs Accept, and what either side wrote while the
    other could not hear arrives."""
    visitor = new_page(browser, contexts, PHONE)
    counsellor = new_page(browser, contexts, DESKTOP)
    visitor.on("dialog", lambda dialog: dialog.accept())  # "leave the page?" when the visitor goes and comes back
    open_console(counsellor, live_server, "demo-counsellor")
    counsellor.check("#sound")
    start_chat(visitor, counsellor, live_server)
    say(visitor, "#chat-input", "V1 alpine-meadow before the reload")
    counsellor.wait_for_selector(panel(".chat-log :text('V1 alpine-meadow')"), timeout=TIMEOUT)
    say(counsellor, panel(".panel-input"), "C1 copper-kettle before the reload")
    delivered(counsellor, panel(".chat-log"), "C1 copper-kettle")
    counsellor.wait_for_timeout(500)  # the record is written a moment after the last change

    counsellor.reload()
    counsellor.wait_for_selector("#socket-status:has-text('Connected')", timeout=TIMEOUT)
    wait_until_rekey_answered(counsellor, 1)
    log = counsellor.inner_text(panel(".chat-log"))
    assert "V1 alpine-meadow before the reload" in log and "C1 copper-kettle before the reload" in log
    delivered(counsellor, panel(".chat-log"), "C1 copper-kettle")
    assert re.search(r"\d{1,2}:\d{2}", line_of(counsellor, panel(".chat-log"), "V1 alpine-meadow").inner_text()), \
        "every line shows its time"
    assert counsellor.get_by_role("button", name="Accept").count() == 0, "nothing needs Accept again"
    assert counsellor.is_checked("#available") and counsellor.is_checked("#sound")
    visitor.wait_for_selector("#chat-state[data-state=connected]", timeout=TIMEOUT)
    assert axe_violations(counsellor) == []
    counsellor.screenshot(path=str(SHOTS / "console-restored.png"), full_page=True)

    # A second console tab of the same person leaves the chat that the first tab holds alone.
    second = counsellor.context.new_page()
    second.goto(f"{live_server.base_url}/en/staff/chat/")
    second.wait_for_selector("#socket-status:has-text('Connected')", timeout=TIMEOUT)
    second.wait_for_timeout(500)
    assert second.locator(".chat-panel").count() == 0, "a chat another console tab holds stays with that tab"
    second.close()

    # The console is gone for a while (a reload that takes time, a network drop): the visitor writes meanwhile.
    counsellor.goto("about:blank")
    visitor.wait_for_selector("#chat-state[data-state=away]", timeout=TIMEOUT)
    say(visitor, "#chat-input", "V2 written during the reload")
    line_of(visitor, "#chat-log", "V2 written during the reload").locator(
        ".delivery:has-text('Not delivered yet')").wait_for(timeout=TIMEOUT)
    counsellor.goto(f"{live_server.base_url}/en/staff/chat/")
    counsellor.wait_for_selector(panel(".chat-log :text('V2 written during the reload')"), timeout=TIMEOUT)
    delivered(visitor, "#chat-log", "V2 written during the reload")
    assert "V1 alpine-meadow" in counsellor.inner_text(panel(".chat-log"))
    assert counsellor.get_by_role("button", name="Accept").count() == 0

    # The counsellor writes while the visitor is away, then reloads: the held message is kept and sent once the
    # visitor is back.
    visitor.goto("about:blank")
    counsellor.wait_for_selector(panel(".chat-log :text(\"visitor's connection dropped\")"), timeout=TIMEOUT)
    say(counsellor, panel(".panel-input"), "C2 are you still there")
    line_of(counsellor, panel(".chat-log"), "C2 are you still there").locator(
        ".delivery:has-text('Not delivered yet')").wait_for(timeout=TIMEOUT)
    counsellor.wait_for_timeout(500)
    counsellor.reload()
    counsellor.wait_for_selector(panel(".chat-log :text('C2 are you still there')"), timeout=TIMEOUT)
    line_of(counsellor, panel(".chat-log"), "C2 are you still there").locator(
        ".delivery:has-text('Not delivered yet')").wait_for(timeout=TIMEOUT)
    visitor.goto(f"{live_server.base_url}/en/help/chat/")  # the visitor's page resumes the chat
    visitor.wait_for_selector("#chat-log :text('C2 are you still there')", timeout=TIMEOUT)
    delivered(counsellor, panel(".chat-log"), "C2 are you still there")

    # What the browser keeps: sealed records and a key that cannot be read out; no text anywhere in them.
    counsellor.wait_for_timeout(500)
    stored = counsellor.evaluate(STORED)
    assert len(stored["chats"]) == 1 and stored["chats"][0]["fields"] == ["chat", "ct", "iv"]
    assert stored["chats"][0]["ct"] == "[object ArrayBuffer]"
    sealed = bytes(stored["chats"][0]["bytes"])
    # Whole words and field names only: a short byte string turns up in random ciphertext by chance
    # (two bytes did, in about one run in twenty).
    for text in (b"alpine-meadow", b"copper-kettle", b"written during", b"still there", b"lines", b'"ik"'):
        assert text not in sealed
    assert stored["meta"] == [{"tag": counsellor.get_attribute("#console", "data-store-tag"), "type": "secret",
                               "extractable": False, "usages": ["encrypt", "decrypt"]}]

    # Ending with the wrap-up wipes the chat's record.
    counsellor.click(panel(".panel-end"))
    assert counsellor.locator(panel("input[name=contact]:checked")).count() == 0, "no category is pre-selected"
    counsellor.click(panel(".panel-wrapup-submit"))
    assert counsellor.locator(".chat-panel").count() == 1, "the contact must be chosen: the form asks first"
    counsellor.check(panel("input[name=contact][value=self]"))
    counsellor.click(panel(".panel-wrapup-submit"))
    counsellor.wait_for_selector("#no-chats:not([hidden])", timeout=TIMEOUT)
    visitor.wait_for_selector("#chat-after:not([hidden])", timeout=TIMEOUT)
    counsellor.wait_for_timeout(500)
    assert counsellor.evaluate(STORED)["chats"] == []


def shift_waits(live_server: LiveServer, minutes: int) -> None:
    """Make every live chat's visitor have joined `minutes` earlier (the test's stand-in for a long wait)."""
    with sqlite3.connect(live_server.database, timeout=30) as db:
        rows = db.execute("SELECT id, waiting_since FROM chat_chat").fetchall()
        for chat_id, since in rows:
            db.execute("UPDATE chat_chat SET waiting_since = datetime(?, ?) WHERE id = ?",
                       (since, f"-{minutes} minutes", chat_id))


def test_a_warm_handover_gives_the_colleague_the_note_and_the_conversation(live_server: LiveServer, browser: Any,
                                                                            contexts: list[Any]) -> None:
    """Repro 6: the colleague is listed as online, gets the note and the transcript (sealed to their device), the
    visitor's message written during the hand-over arrives, and the wait counts from the visitor's first join."""
    visitor = new_page(browser, contexts, PHONE)
    robin = new_page(browser, contexts, DESKTOP)
    alex = new_page(browser, contexts, DESKTOP)
    alex_frames: list[str] = []
    robin_frames: list[str] = []
    for page, frames in ((alex, alex_frames), (robin, robin_frames)):
        page.on("websocket", lambda socket, frames=frames: (
            socket.on("framesent", lambda payload: frames.append(str(payload))),
            socket.on("framereceived", lambda payload: frames.append(str(payload)))))
    open_console(robin, live_server, "demo-counsellor")
    open_console(alex, live_server, "demo-supervisor", available=False)  # online, not taking new chats
    start_chat(visitor, robin, live_server)
    say(visitor, "#chat-input", "V1 harbour-lantern: I need to talk about my thoughts")
    robin.wait_for_selector(panel(".chat-log :text('V1 harbour-lantern')"), timeout=TIMEOUT)
    say(robin, panel(".panel-input"), "C1 willow-bridge: I am listening")
    delivered(robin, panel(".chat-log"), "C1 willow-bridge")
    shift_waits(live_server, 5)

    robin.click(panel(".panel-handover"))
    dialog = robin.locator("#handover-dialog")
    robin.wait_for_selector("#handover-colleagues label:has-text('Alex')", timeout=TIMEOUT)
    alex_choice = robin.locator("#handover-colleagues label", has_text="Alex")
    assert "online, not taking new chats" in alex_choice.inner_text()
    assert alex_choice.locator("input").is_enabled()
    offline = robin.locator("#handover-colleagues label", has_text="offline")
    assert offline.count() >= 1 and all(not offline.nth(i).locator("input").is_enabled() for i in range(offline.count())), \
        "offline colleagues are shown but cannot be chosen"
    assert axe_violations(robin) == []
    robin.screenshot(path=str(SHOTS / "console-handover-dialog.png"))
    alex_choice.locator("input").check()
    robin.fill("#handover-note", "N1 quiet-orchard: has a safety plan, wants to talk about urges")
    robin.click("#handover-send")
    assert not dialog.is_visible()
    robin.wait_for_selector(panel(".panel-state:has-text('Being handed to Alex')"), timeout=TIMEOUT)

    visitor.wait_for_selector("#chat-state[data-state=queued]", timeout=TIMEOUT)
    say(visitor, "#chat-input", "V2 Ben je er nog?")
    line_of(visitor, "#chat-log", "V2 Ben je er nog?").locator(
        ".delivery:has-text('Not delivered yet')").wait_for(timeout=TIMEOUT)

    offer = alex.locator(".queue-list li.offer")
    offer.wait_for(timeout=TIMEOUT)
    details = offer.inner_text()
    assert "Handed to you by Robin" in details and "English" in details
    assert re.search(r"waiting ([5-9]|\d\d) min", details), f"the wait counts from the first join: {details}"
    assert re.search(r"\d+ s left to accept", details)
    assert axe_violations(alex) == []
    alex.get_by_role("button", name="Accept").click()
    alex.wait_for_selector(panel(".chat-log :text('V2 Ben je er nog?')"), timeout=TIMEOUT)
    log = alex.inner_text(panel(".chat-log"))
    assert "Robin handed this chat to you." in log
    assert "Note from Robin" in log and "N1 quiet-orchard" in log
    assert "V1 harbour-lantern" in log and "C1 willow-bridge" in log
    assert log.index("V1 harbour-lantern") < log.index("C1 willow-bridge") < log.index("V2 Ben je er nog?")
    delivered(visitor, "#chat-log", "V2 Ben je er nog?")
    robin.wait_for_selector("#console-notice:has-text('Alex took the chat')", timeout=TIMEOUT)
    robin.wait_for_selector("#no-chats:not([hidden])", timeout=TIMEOUT)
    visitor.wait_for_selector("#chat-log :text('You are now talking with Alex')", timeout=TIMEOUT)
    say(alex, panel(".panel-input"), "C2 Ja, ik ben er. Ik heb je gesprek gelezen.")
    visitor.wait_for_selector("#chat-log :text('C2 Ja, ik ben er')", timeout=TIMEOUT)
    assert axe_violations(alex) == []
    alex.screenshot(path=str(SHOTS / "console-handover-received.png"), full_page=True)
    # The server relayed the note and the transcript only as ciphertext.
    for frames in (alex_frames, robin_frames):
        assert any('"transfer"' in frame or '"handover"' in frame for frame in frames)
        assert not any(word in frame for frame in frames for word in ("quiet-orchard", "harbour-lantern", "willow-bridge"))

    # Back to the queue with nobody free: supervision shows the wait from the first join, not from the hand-over.
    robin.uncheck("#available")
    robin.wait_for_timeout(300)
    alex.click(panel(".panel-handover"))
    alex.wait_for_selector("#handover-colleagues label", timeout=TIMEOUT)
    alex.check("#handover-dialog input[value=queue]")
    alex.click("#handover-send")
    alex.wait_for_selector("#no-chats:not([hidden])", timeout=TIMEOUT)
    supervision = alex.context.new_page()
    supervision.goto(f"{live_server.base_url}/en/staff/chat/supervise/")
    waits = supervision.inner_text("#fig-waits")
    assert re.search(r"\b([5-9]|\d\d) min", waits), waits
    assert int(supervision.inner_text("#fig-longest")) >= 5
    visitor.click("#chat-leave")
    visitor.click("#chat-leave-confirm")
    visitor.wait_for_selector("#chat-after:not([hidden])", timeout=TIMEOUT)

    # Signing out wipes what the console kept: nothing of any chat stays in that browser (the console empties
    # the store before it signs out; the page after it deletes the store itself).
    alex.get_by_role("button", name="Sign out").click()
    alex.wait_for_url("**/sign-in/**", timeout=TIMEOUT)
    assert stored_once_settled(alex) is None


def stored_once_settled(page: Any) -> Any:
    """STORED once the sign-in page's deletion (chat/signed-out.js) has run: None when no store is left."""
    for _ in range(50):
        stored = page.evaluate(STORED)
        if stored is None:
            return None
        page.wait_for_timeout(100)
    return stored


def test_signing_out_from_another_staff_page_deletes_the_consoles_store(live_server: LiveServer, browser: Any,
                                                                        contexts: list[Any]) -> None:
    # The console seals its chats in this browser under a key it keeps beside them. Signing out from the console
    # wiped them; from any other staff page they stayed, sealed, until the console was next opened here.
    page = new_page(browser, contexts, DESKTOP)
    open_console(page, live_server, "demo-counsellor", available=False)
    kept = page.evaluate(STORED)
    assert kept is not None and len(kept["meta"]) == 1, kept
    page.goto(f"{live_server.base_url}/en/staff/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in/**", timeout=TIMEOUT)
    assert stored_once_settled(page) is None
    assert axe_violations(page) == []
    page.screenshot(path=str(SHOTS / "signed-out.png"), full_page=True)


@pytest.fixture
def quick_return_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A Daphne of the test's own where a hand-over nobody takes comes back after 8 s instead of a minute."""
    yield from own_live_server(tmp_path, HELPLINE_COUNSELLOR_GRACE_SECONDS="8")


def test_a_handover_nobody_takes_comes_back_with_its_history(quick_return_server: LiveServer, browser: Any,
                                                             contexts: list[Any]) -> None:
    live_server = quick_return_server
    visitor = new_page(browser, contexts, PHONE)
    robin = new_page(browser, contexts, DESKTOP)
    alex = new_page(browser, contexts, DESKTOP)
    open_console(robin, live_server, "demo-counsellor")
    open_console(alex, live_server, "demo-supervisor", available=False)
    start_chat(visitor, robin, live_server)
    say(visitor, "#chat-input", "V1 before the hand-over")
    robin.wait_for_selector(panel(".chat-log :text('V1 before the hand-over')"), timeout=TIMEOUT)
    # By keyboard: open the dialog, take the first colleague offered, write a note, hand over.
    robin.focus(panel(".panel-handover"))
    robin.keyboard.press("Enter")
    robin.wait_for_selector("#handover-colleagues label:has-text('Alex') input:focus", timeout=TIMEOUT)
    robin.keyboard.press("Space")
    robin.keyboard.press("Tab")
    robin.keyboard.type("Please take over, I have to leave.")
    robin.keyboard.press("Tab")
    robin.keyboard.press("Enter")
    robin.wait_for_selector(panel(".panel-state:has-text('Being handed to Alex')"), timeout=TIMEOUT)
    alex.locator(".queue-list li.offer").wait_for(timeout=TIMEOUT)  # offered to Alex, who does not take it
    say(visitor, "#chat-input", "V2 Ben je er nog?")

    robin.wait_for_selector(panel(".chat-log :text('Alex did not take the chat in time')"), timeout=TIMEOUT)
    robin.wait_for_selector(panel(".chat-log :text('V2 Ben je er nog?')"), timeout=TIMEOUT)
    assert robin.get_by_role("button", name="Accept").count() == 0, "it comes back without an offer to accept"
    assert robin.locator(panel(".panel-state")).is_hidden()
    log = robin.inner_text(panel(".chat-log"))
    assert log.index("V1 before the hand-over") < log.index("V2 Ben je er nog?"), "the transcript continues"
    assert robin.locator(".chat-panel").count() == 1
    delivered(visitor, "#chat-log", "V2 Ben je er nog?")
    say(robin, panel(".panel-input"), "C1 I am still here")
    visitor.wait_for_selector("#chat-log :text('C1 I am still here')", timeout=TIMEOUT)
    alex.wait_for_selector(".queue-list li.offer", state="detached", timeout=TIMEOUT)
    assert json.loads(alex.evaluate("JSON.stringify([...document.querySelectorAll('.chat-panel')].length)")) == 0
