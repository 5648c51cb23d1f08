"""A new visitor on a phone (390 × 844, Chromium, a real Daphne): whether the chat is open at a glance, with and
without JavaScript; Start or the alternatives above the fold; a module path from one module to the next; wipe
that asks first and can be undone; the talk-now result's buttons; "Stop waiting" without an empty "Keep a
copy?"; and the accessibility details: axe-core, the focus ring's measured contrast, 24 px targets."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import axe_violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
STORE_KEY = "helpline.selfhelp.v1"
TIMEOUT = 30_000
CLOSED_WORDS = {"en": ("closed", "Closed now. Opens"), "nl": ("gesloten", "Nu gesloten. Gaat")}
OPEN_WORDS = {"en": ("open", "Open now"), "nl": ("open", "Nu open")}


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_without_script(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture
def chat_closed(live_server: LiveServer) -> Iterator[None]:
    """The operator closes the chat for yesterday, today and tomorrow (whatever the zone), as the admin would."""
    days = [(dt.date.today() + dt.timedelta(days=n)).isoformat() for n in (-1, 0, 1)]
    with sqlite3.connect(live_server.database) as db:
        db.executemany("INSERT INTO chat_closedday (date, note) VALUES (?, 'browser test')", [(d,) for d in days])
    yield
    with sqlite3.connect(live_server.database) as db:
        db.execute("DELETE FROM chat_closedday WHERE note = 'browser test'")


def nav_badge(page: Any) -> Any:
    return page.locator(".site-nav a.chat-link .chat-badge")


def in_first_screen(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


# --- open or closed, at a glance ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("script", [True, False], ids=["js", "no-js"])
def test_badge_says_open_next_to_every_chat_link(live_server: LiveServer, phone: Any, phone_without_script: Any,
                                                 lang: str, script: bool) -> None:
    page = phone if script else phone_without_script
    short, long = OPEN_WORDS[lang]
    for path in ["/", "/help/right-now/", "/help/modules/", "/help/chat/"]:
        page.goto(f"{live_server.base_url}/{lang}{path}")
        assert nav_badge(page).get_attribute("data-chat-open") == "yes", path
        assert nav_badge(page).inner_text().strip() == short
        assert in_first_screen(page, ".site-nav a.chat-link")
    page.goto(f"{live_server.base_url}/{lang}/help/right-now/")
    assert page.locator(".cta .chat-badge").inner_text().strip() == long
    page.goto(f"{live_server.base_url}/{lang}/help/chat/")
    assert page.locator(".chat-open-state .chat-badge").inner_text().strip() == long
    if script:
        page.wait_for_selector("#chat-start", state="visible")
        assert in_first_screen(page, "#chat-start"), "Start is on the first phone screen"
    else:
        assert page.locator("#chat-start").is_hidden()
        assert page.locator("noscript").count() == 1
    assert page.locator("#chat-closed").is_hidden()


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("script", [True, False], ids=["js", "no-js"])
def test_badge_says_closed_and_when_it_opens_and_the_chat_page_offers_other_help(
        live_server: LiveServer, chat_closed: None, phone: Any, phone_without_script: Any, lang: str,
        script: bool) -> None:
    page = phone if script else phone_without_script
    short, long = CLOSED_WORDS[lang]
    for path in ["/", "/help/right-now/", "/help/self-check/", "/help/chat/"]:
        page.goto(f"{live_server.base_url}/{lang}{path}")
        assert nav_badge(page).get_attribute("data-chat-open") == "no", path
        assert nav_badge(page).inner_text().strip() == short
    page.goto(f"{live_server.base_url}/{lang}/")
    assert page.locator(".cards .chat-badge").inner_text().startswith(long)
    page.goto(f"{live_server.base_url}/{lang}/help/chat/")
    badge = page.locator(".chat-open-state .chat-badge").inner_text()
    assert badge.startswith(long) and ("(Amsterdam time)" in badge or "(tijd in Amsterdam)" in badge)
    if script:
        page.wait_for_function("() => document.querySelector('#chat-start') !== null")
        page.wait_for_timeout(200)  # the page script has run (module scripts run after parsing)
    assert page.locator("#chat-start").is_hidden(), "no Start while the chat is closed"
    assert page.locator("#chat-closed").is_visible()
    assert in_first_screen(page, "#chat-closed-heading"), "the alternative is on the first phone screen"
    assert "Stop it Now! Nederland" in page.inner_text("#chat-closed")
    assert page.locator("#chat-closed a[href$='/help/right-now/']").count() == 1
    if script:
        assert axe_violations(page) == []


def test_closed_during_a_visit_the_server_refusal_shows_the_alternatives_at_the_top(
        live_server: LiveServer, phone: Any) -> None:
    phone.goto(f"{live_server.base_url}/en/help/chat/")
    phone.wait_for_selector("#chat-start", state="visible")
    with sqlite3.connect(live_server.database) as db:
        db.executemany("INSERT INTO chat_closedday (date, note) VALUES (?, 'browser test')",
                       [((dt.date.today() + dt.timedelta(days=n)).isoformat(),) for n in (-1, 0, 1)])
    try:
        phone.click("#chat-start")
        phone.wait_for_selector("#chat-alert:not([hidden])", timeout=TIMEOUT)
        assert "closed" in phone.inner_text("#chat-alert")
        assert phone.locator("#chat-closed").is_visible()
        assert in_first_screen(phone, "#chat-alert")
    finally:
        with sqlite3.connect(live_server.database) as db:
            db.execute("DELETE FROM chat_closedday WHERE note = 'browser test'")


# --- modules as a path ----------------------------------------------------------------------------------------


def stored(page: Any) -> Any:
    return page.evaluate(f"() => JSON.parse(localStorage.getItem('{STORE_KEY}'))")


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_finish_a_module_and_land_on_the_next(live_server: LiveServer, phone: Any, lang: str) -> None:
    words = {"en": ("Module 1 of 9", "Module 2 of 9", "Finished on this device"),
             "nl": ("Module 1 van 9", "Module 2 van 9", "Afgerond op dit apparaat")}[lang]
    phone.goto(f"{live_server.base_url}/{lang}/help/modules/why-change/")
    assert phone.inner_text(".path-progress") .strip() == words[0]
    assert in_first_screen(phone, ".path-progress")
    phone.click(".toc a >> nth=1")
    assert phone.evaluate("location.hash") == "#section-2"
    phone.click("[data-finish]")
    assert phone.evaluate("document.activeElement.getAttribute('rel')") == "next"
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    assert phone.url.endswith(f"/{lang}/help/modules/online-behaviour/")
    assert phone.inner_text(".path-progress").strip() == words[1]
    assert phone.inner_text("[data-module-slug=why-change] [data-progress]") == words[2]
    assert phone.get_attribute("[data-module-slug=online-behaviour] a", "aria-current") == "step"
    # Kept on this device only, under the one key that wipe removes.
    assert stored(phone)["modules"]["why-change"]["completed"] is True
    assert phone.evaluate("Object.keys(localStorage)") == [STORE_KEY]
    phone.click("a[rel=prev]")
    assert phone.url.endswith("/help/modules/why-change/")
    assert axe_violations(phone) == []


# --- wipe asks first and can be undone ---------------------------------------------------------------------


def test_wipe_asks_first_and_can_be_undone(live_server: LiveServer, phone: Any) -> None:
    phone.goto(f"{live_server.base_url}/en/help/safety-plan/")
    phone.fill("#plan-reasons", "my children's future")
    before = stored(phone)
    phone.click("[data-wipe]")
    assert phone.locator("[data-wipe-confirm]").is_visible()
    assert phone.evaluate("document.activeElement.id") == "wipe-question"
    assert stored(phone) == before, "asking wipes nothing"
    assert axe_violations(phone) == []
    phone.click("[data-wipe-no]")
    assert stored(phone) == before and phone.input_value("#plan-reasons") == "my children's future"
    phone.click("[data-wipe]")
    phone.click("[data-wipe-yes]")
    assert phone.evaluate("() => localStorage.length") == 0
    assert phone.input_value("#plan-reasons") == ""
    assert "undo this for 10 seconds" in phone.inner_text("[data-status]")
    phone.click("[data-wipe-undo]")
    assert stored(phone) == before
    assert phone.input_value("#plan-reasons") == "my children's future"
    assert phone.inner_text("[data-status]") == "Everything is back as it was."
    phone.reload()
    assert phone.input_value("#plan-reasons") == "my children's future"


def test_undo_goes_after_a_few_seconds_and_the_wipe_stays(live_server: LiveServer, phone: Any) -> None:
    phone.goto(f"{live_server.base_url}/nl/help/modules/why-change/")
    phone.fill("textarea[name=why-change-two-sides]", "weg ermee")
    phone.click("[data-wipe]")
    phone.click("[data-wipe-yes]")
    assert phone.locator("[data-wipe-undo]").is_visible()
    phone.wait_for_selector("[data-wipe-undo]", state="hidden", timeout=15_000)
    assert phone.inner_text("[data-status]") == "Alles wat deze site op dit apparaat had bewaard, is gewist."
    assert phone.evaluate("() => localStorage.length") == 0
    phone.reload()
    assert phone.input_value("textarea[name=why-change-two-sides]") == ""


# --- the talk-now result, the right-now page, "Stop waiting" ---------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("script", [True, False], ids=["js", "no-js"])
def test_talk_now_result_has_large_buttons_with_the_badge(live_server: LiveServer, phone: Any,
                                                          phone_without_script: Any, lang: str, script: bool) -> None:
    page = phone if script else phone_without_script
    page.goto(f"{live_server.base_url}/{lang}/help/self-check/")
    for fieldset in page.locator("fieldset.question").all():
        fieldset.locator("input[type=radio]").nth(3).check()
    page.click("form[data-selfcheck-form] button[type=submit]")
    actions = page.locator("[data-talk-now-actions]:visible")
    actions.wait_for()
    chat = actions.locator(f"a[href='/{lang}/help/chat/']")
    box = chat.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300, box
    assert actions.locator(".chat-badge").get_attribute("data-chat-open") == "yes"
    assert actions.locator(f"a[href='/{lang}/help/right-now/']").is_visible()
    if script:
        assert axe_violations(page) == []


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_right_now_page_jumps_to_a_person_and_leads_with_the_services_country(live_server: LiveServer, phone: Any,
                                                                              lang: str) -> None:
    phone.goto(f"{live_server.base_url}/{lang}/help/right-now/")
    assert in_first_screen(phone, ".jump-link a")
    phone.click(".jump-link a")
    assert phone.evaluate("location.hash") == "#reach-a-person"
    heading = phone.locator("#reach-heading").bounding_box()
    assert heading is not None and 0 <= heading["y"] < 200, heading
    first_country = phone.locator("#reach-a-person [data-home-country]").first
    assert first_country.get_attribute("data-home-country") == "NL"
    assert phone.locator("#reach-a-person [data-country=GB]").count() == 0
    assert phone.locator("details[data-other-country=GB]").count() == 1
    assert axe_violations(phone) == []


def test_stop_waiting_shows_no_keep_a_copy_heading_without_a_button(live_server: LiveServer, phone: Any) -> None:
    phone.goto(f"{live_server.base_url}/en/help/chat/")
    phone.click("#chat-start")
    phone.wait_for_selector("#chat-status:has-text('queue')", timeout=TIMEOUT)
    phone.click("#chat-cancel")
    phone.wait_for_selector("#chat-after:not([hidden])", timeout=TIMEOUT)
    assert phone.locator("text=Keep a copy?").is_hidden()
    assert phone.locator("#chat-save").is_hidden()
    assert phone.locator("#chat-again").is_visible()


# --- accessibility details --------------------------------------------------------------------------------------

FOCUS_RING = """() => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 :
    ((v + 0.055) / 1.055) ** 2.4; }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const element = document.activeElement;
  const style = getComputedStyle(element);
  // The ring is drawn outside the element (outline-offset), so it meets the background behind the element.
  let node = element.parentElement;
  let behind = [255, 255, 255];
  while (node) {
    const colour = rgb(getComputedStyle(node).backgroundColor);
    if (colour.length < 4 || colour[3] > 0) { behind = colour; break; }
    node = node.parentElement;
  }
  const a = luminance(rgb(style.outlineColor)), b = luminance(behind);
  return {element: element.outerHTML.slice(0, 80), style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
}"""


@pytest.mark.parametrize("path", ["/en/", "/nl/help/modules/why-change/", "/en/help/right-now/", "/nl/help/chat/",
                                  "/en/help/self-check/", "/nl/help/safety-plan/"])
def test_focus_ring_has_at_least_3_to_1_contrast_against_what_is_behind_it(live_server: LiveServer, phone: Any,
                                                                           path: str) -> None:
    phone.goto(live_server.base_url + path)
    seen = 0
    for _ in range(40):
        phone.keyboard.press("Tab")
        if phone.evaluate("document.activeElement === document.body"):
            continue
        ring = phone.evaluate(FOCUS_RING)
        assert ring["style"] != "none" and ring["width"] >= 2, ring
        assert ring["ratio"] >= 3, ring
        seen += 1
    assert seen >= 10


TARGETS = """() => [...document.querySelectorAll(
    "input[type=radio], input[type=checkbox], .scale-point label, .rating label")]
  .filter((node) => node.getClientRects().length > 0)
  .map((node) => { const box = node.getBoundingClientRect();
                   return {what: node.outerHTML.slice(0, 60), width: box.width, height: box.height}; })"""


@pytest.mark.parametrize("path", ["/en/help/modules/why-change/", "/nl/help/modules/warning-signs/",
                                  "/en/help/self-check/"])
def test_radios_checkboxes_and_scale_labels_are_at_least_24_px(live_server: LiveServer, phone: Any,
                                                               path: str) -> None:
    phone.goto(live_server.base_url + path)
    targets = phone.evaluate(TARGETS)
    assert len(targets) >= 5
    small = [t for t in targets if t["width"] < 24 or t["height"] < 24]
    assert small == [], json.dumps(small[:5])


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("path", ["/", "/help/modules/why-change/", "/help/right-now/", "/help/chat/", "/privacy/"])
def test_phone_pages_pass_axe(live_server: LiveServer, phone: Any, lang: str, path: str) -> None:
    phone.goto(f"{live_server.base_url}/{lang}{path}")
    assert axe_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
