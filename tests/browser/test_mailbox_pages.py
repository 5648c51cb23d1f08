"""Secure messages end to end in Chromium, in English and in Dutch: a visitor on a phone writes and gets a
codename, a counsellor reads and answers in the inbox, the visitor comes back with the codename, reads the
answer and deletes the thread. Every page passes axe, works by keyboard and fits at 200 % zoom; no request
carries the message text. Set MAILBOX_SCREENSHOTS=<folder> to keep a screenshot of each step."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chat.client.counsellor import enrol_device
from chat.client.http import sign_in_staff
from chat.client.mailbox import MailboxCounsellor, MailboxVisitor
from tests.browser.conftest import axe_violations, sign_in
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

TIMEOUT = 60_000
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
COUNSELLOR = "demo-supervisor"
TEXT = {
    "en": {"question": "Mailbox canary: can I talk about my thoughts without giving my name? 6614",
           "answer": "Yes, you can. Thank you for writing to us. 6615", "counsellor": "Counsellor",
           "write": "Write a message", "have": "I have a codename", "deleted": "The conversation was deleted",
           "new": "New", "closed": "closed this conversation", "reply": "Thank you, that helps. 6616",
           "working": "keeps automated programs"},
    "nl": {"question": "Mailbox-kanarie: kan ik over mijn gedachten praten zonder mijn naam te geven? 7714",
           "answer": "Ja, dat kan. Dank je dat je ons schrijft. 7715", "counsellor": "Hulpverlener",
           "write": "Schrijf een bericht", "have": "Ik heb een codenaam", "deleted": "Het gesprek is verwijderd",
           "new": "Nieuw", "closed": "dit gesprek afgesloten", "reply": "Dank je, dat helpt. 7716",
           "working": "automatische programma"},
}


def shoot(page: Any, name: str) -> None:
    folder = os.environ.get("MAILBOX_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def fits_at_200_percent(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth <= 0"))


class Wire:
    """Every request body a page sends to /mailbox/, and the paths it posts to."""

    def __init__(self, page: Any) -> None:
        self.bodies: list[str] = []
        self.posted: list[str] = []
        page.on("request", self.seen)

    def seen(self, request: Any) -> None:
        if "/mailbox/" in request.url:
            self.bodies.append(request.post_data or "")
            if request.method == "POST":
                self.posted.append(request.url)


@pytest.fixture(scope="module")
def counsellor(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A counsellor signed in once, with a device key certified in the chat console (the demo certifies it)."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, COUNSELLOR)
    page.goto(f"{live_server.base_url}/en/staff/chat/")
    page.click("#device-enrol")
    page.wait_for_selector("#device-status:has-text('certified')", timeout=TIMEOUT)
    yield page
    context.close()


def open_inbox(page: Any, live_server: LiveServer, lang: str) -> None:
    page.goto(f"{live_server.base_url}/{lang}/staff/messages/")
    page.wait_for_selector("#inbox-list-section:not([hidden])", timeout=TIMEOUT)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_write_answer_return_and_delete_through_the_pages(live_server: LiveServer, browser: Any, counsellor: Any,
                                                          lang: str) -> None:
    text = TEXT[lang]
    # The counsellor's inbox registers this device's encryption key before any visitor writes.
    open_inbox(counsellor, live_server, lang)

    context = browser.new_context(**PHONE)
    visitor = context.new_page()
    wire = Wire(visitor)
    visitor.goto(f"{live_server.base_url}/{lang}/help/message/")
    assert visitor.locator("html").get_attribute("lang") == lang
    assert axe_violations(visitor) == []
    shoot(visitor, f"{lang}-1-start")

    # Write, by keyboard.
    visitor.get_by_role("button", name=text["write"]).focus()
    visitor.keyboard.press("Enter")
    visitor.wait_for_selector("#mailbox-write:not([hidden])")
    visitor.focus("#mailbox-text")
    visitor.keyboard.type(text["question"])
    visitor.keyboard.press("Tab")
    assert visitor.evaluate("document.activeElement.id") == "mailbox-send"
    assert axe_violations(visitor) == []
    shoot(visitor, f"{lang}-2-write")
    visitor.keyboard.press("Enter")

    # The codename, once: eight words of the page's language, and nothing goes on until it is noted.
    visitor.wait_for_selector("#mailbox-codename:not([hidden])", timeout=TIMEOUT)
    codename = visitor.inner_text("#mailbox-codename-words").strip()
    words = (Path(__file__).resolve().parents[2] / "securemessages" / "wordlists" / f"{lang}.txt").read_text().split()
    assert len(codename.split()) == 8 and set(codename.split()) <= set(words)
    assert visitor.is_disabled("#mailbox-codename-done")
    assert axe_violations(visitor) == []
    shoot(visitor, f"{lang}-3-codename")
    visitor.check("#mailbox-noted")
    visitor.click("#mailbox-codename-done")
    visitor.wait_for_selector(f"#mailbox-log :text('{text['question']}')", timeout=TIMEOUT)
    assert fits_at_200_percent(visitor)
    shoot(visitor, f"{lang}-4-sent")
    context.close()

    # The counsellor reads it in the inbox and answers.
    open_inbox(counsellor, live_server, lang)
    row = counsellor.locator("#inbox-list li[data-state=new]").first
    assert text["new"] in row.inner_text()
    assert axe_violations(counsellor) == []
    shoot(counsellor, f"{lang}-5-inbox-list")
    row.get_by_role("button").click()
    counsellor.wait_for_selector(f"#inbox-log :text('{text['question']}')", timeout=TIMEOUT)
    counsellor.fill("#inbox-reply-text", text["answer"])
    counsellor.click("#inbox-reply-send")
    counsellor.wait_for_selector(f"#inbox-log :text('{text['answer']}')", timeout=TIMEOUT)
    assert axe_violations(counsellor) == []
    shoot(counsellor, f"{lang}-5-inbox-answered")
    # Closed with a wrap-up, as a chat is.
    counsellor.click("#inbox-close-open")
    counsellor.check("#inbox-wrapup input[name=concern][value=own_urges]")
    assert axe_violations(counsellor) == []
    counsellor.click("#inbox-close")
    counsellor.wait_for_selector("#inbox-list li[data-state=closed]", timeout=TIMEOUT)

    # The visitor comes back on another day, another tab: the codename opens the thread and the answer.
    context = browser.new_context(**PHONE)
    visitor = context.new_page()
    wire_back = Wire(visitor)
    visitor.goto(f"{live_server.base_url}/{lang}/help/message/")
    visitor.get_by_role("button", name=text["have"]).click()
    visitor.fill("#mailbox-codename-input", "  " + codename.upper().replace(" ", " - ") + " ")
    visitor.keyboard.press("Enter")
    visitor.wait_for_selector(f"#mailbox-log :text('{text['answer']}')", timeout=TIMEOUT)
    assert text["counsellor"] in visitor.inner_text("#mailbox-log")
    assert text["closed"] in visitor.inner_text("#mailbox-thread-state")
    assert axe_violations(visitor) == []
    assert fits_at_200_percent(visitor)
    shoot(visitor, f"{lang}-6-answer")

    # The visitor writes back (a reply, then the thread read again: two more puzzles, each for its request).
    visitor.fill("#mailbox-reply-text", text["reply"])
    visitor.click("#mailbox-reply-send")
    visitor.wait_for_selector(f"#mailbox-log :text('{text['reply']}')", timeout=TIMEOUT)

    # Delete, after a question.
    visitor.click("#mailbox-delete")
    visitor.wait_for_selector("#mailbox-delete-confirm:not([hidden])")
    visitor.click("#mailbox-delete-yes")
    visitor.wait_for_selector("#mailbox-deleted:not([hidden])", timeout=TIMEOUT)
    assert visitor.inner_text("#mailbox-deleted-heading") == text["deleted"]
    assert axe_violations(visitor) == []
    shoot(visitor, f"{lang}-7-deleted")
    assert context.cookies() == []

    # The same codename opens nothing now: the generic answer.
    visitor.click("#mailbox-again")
    visitor.get_by_role("button", name=text["have"]).click()
    visitor.fill("#mailbox-codename-input", codename)
    visitor.keyboard.press("Enter")
    visitor.wait_for_selector("#mailbox-open-status:has-text('30')", timeout=TIMEOUT)
    context.close()

    for body in wire.bodies + wire_back.bodies:
        for canary in (text["question"], text["answer"], text["reply"], codename):
            assert canary not in body, "plaintext or the codename went over the wire"


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_page_says_so_while_the_device_works_for_a_request(live_server: LiveServer, browser: Any,
                                                               counsellor: Any, lang: str) -> None:
    # The page starts on the write's puzzle when the form opens; the challenge is held back here, so the device
    # is still at work when the visitor sends, as on a slow phone or a slow network.
    open_inbox(counsellor, live_server, lang)
    context = browser.new_context(**PHONE)
    visitor = context.new_page()
    held: list[Any] = []
    asked: list[str] = []
    visitor.on("request", lambda request: asked.append(request.url) if "/mailbox/pow/" in request.url else None)
    visitor.route(lambda url: "/mailbox/pow/?for=write" in url, lambda route: held.append(route))
    visitor.goto(f"{live_server.base_url}/{lang}/help/message/")
    visitor.get_by_role("button", name=TEXT[lang]["write"]).click()
    visitor.fill("#mailbox-text", TEXT[lang]["question"])
    visitor.click("#mailbox-send")
    visitor.wait_for_selector(f"#mailbox-write-status:has-text('{TEXT[lang]['working']}')", timeout=TIMEOUT)
    assert visitor.is_visible("#mailbox-write-status-progress")
    assert visitor.is_disabled("#mailbox-send")
    assert axe_violations(visitor) == []
    assert fits_at_200_percent(visitor)
    shoot(visitor, f"{lang}-2b-working")
    assert len(held) == 1  # one challenge, fetched when the form opened, not again for each key typed
    held[0].continue_()
    visitor.wait_for_selector("#mailbox-codename:not([hidden])", timeout=TIMEOUT)
    assert not visitor.is_visible("#mailbox-write-status-progress")
    visitor.check("#mailbox-noted")
    visitor.click("#mailbox-codename-done")
    visitor.wait_for_selector(f"#mailbox-log :text('{TEXT[lang]['question']}')", timeout=TIMEOUT)
    visitor.click("#mailbox-delete")
    visitor.click("#mailbox-delete-yes")
    visitor.wait_for_selector("#mailbox-deleted:not([hidden])", timeout=TIMEOUT)
    # Each request asked for a challenge of its own kind: the write, the open that "Continue" needs, the delete.
    assert [url.split("for=")[1] for url in asked] == ["write", "open", "delete"]
    context.close()


def test_a_mistyped_codename_names_the_word_without_asking_the_server(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    wire = Wire(page)
    page.goto(f"{live_server.base_url}/en/help/message/")
    page.get_by_role("button", name="I have a codename").click()
    page.fill("#mailbox-codename-input", "abacus abide ablaze able abroad absurd accent acheing")
    page.keyboard.press("Enter")
    page.wait_for_selector("#mailbox-open-status:has-text('acheing')")
    page.fill("#mailbox-codename-input", "abacus abide")
    page.keyboard.press("Enter")
    page.wait_for_selector("#mailbox-open-status:has-text('8 words')")
    assert wire.posted == []  # (the open's puzzle was fetched when the form opened: it names no thread)
    context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_plain_words_page_and_the_entry_points(live_server: LiveServer, page: Any, lang: str) -> None:
    page.goto(f"{live_server.base_url}/{lang}/help/message/about/")
    assert axe_violations(page) == []
    body = page.inner_text("main")
    assert "30" in body and {"en": "codename", "nl": "codenaam"}[lang] in body
    shoot(page, f"{lang}-about")
    # "Send a message" in the navigation, and from the chat page.
    page.goto(f"{live_server.base_url}/{lang}/")
    page.locator(".site-nav a[href$='/help/message/']").click()
    page.wait_for_url(f"**/{lang}/help/message/")
    page.goto(f"{live_server.base_url}/{lang}/help/chat/")
    page.locator("#chat-intro a[href$='/help/message/']:visible").click()
    page.wait_for_url(f"**/{lang}/help/message/")


def in_thread(coroutine: Any) -> Any:
    """Run a Python client's coroutine outside Playwright's event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=180)


def test_the_inbox_shares_older_messages_with_a_device_certified_later(live_server: LiveServer,
                                                                        counsellor: Any) -> None:
    open_inbox(counsellor, live_server, "en")
    visitor = MailboxVisitor(live_server.base_url, org_public_key=live_server.org_public_key)
    question = "Written before the second device existed. 9931"
    codename = in_thread(visitor.write(question, lang="en"))

    async def new_colleague() -> MailboxCounsellor:
        staff = await sign_in_staff(live_server.base_url, "demo-counsellor",
                                    live_server.demo_password("demo-counsellor"),
                                    lambda: live_server.demo_code("demo-counsellor"), code_attempts=1)
        colleague = MailboxCounsellor(staff, await enrol_device(staff), org_public_key=live_server.org_public_key)
        await colleague.register()
        return colleague

    colleague = in_thread(new_colleague())
    thread = next(entry["thread"] for entry in in_thread(colleague.threads()) if entry["unshared"])
    assert in_thread(colleague.read(thread)) == []  # sealed before this device had a key
    # The first colleague's inbox page shares it when it opens, checking the new device against the org key.
    open_inbox(counsellor, live_server, "en")
    counsellor.wait_for_selector("#inbox-status:has-text('Shared')", timeout=TIMEOUT)
    assert [message.text for message in in_thread(colleague.read(thread))] == [question]
    in_thread(MailboxVisitor(live_server.base_url, org_public_key=live_server.org_public_key).open(codename))
