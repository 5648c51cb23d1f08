"""In Chromium: quick exit leaves for good, staff sign-in works with a second factor, pages pass axe-core."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import axe_violations, sign_in
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("trigger", ["click", "escape"])
def test_quick_exit_leaves_and_back_does_not_return(live_server: LiveServer, page: Any, trigger: str) -> None:
    page.goto("about:blank")
    page.goto(f"{live_server.base_url}/en/privacy/")
    if trigger == "click":
        page.click("#quick-exit")
    else:
        page.keyboard.press("Escape")
    page.wait_for_url("about:blank")
    page.go_back()
    assert "/privacy/" not in page.url, "Back must not return to the page the person left"
    assert len(page.context.pages) == 1


def test_quick_exit_is_a_plain_link_without_javascript(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.base_url}/nl/privacy/")
    assert page.get_attribute("#quick-exit", "href") == "about:blank"
    assert page.get_attribute("#quick-exit", "rel") == "noreferrer noopener"
    context.close()


@pytest.mark.parametrize("path", ["/en/privacy/", "/nl/privacy/", "/en/staff/sign-in/", "/nl/staff/sign-in/"])
def test_pages_pass_axe(live_server: LiveServer, page: Any, path: str) -> None:
    page.goto(live_server.base_url + path)
    assert axe_violations(page) == []




def test_staff_sign_in_by_keyboard_and_staff_home_passes_axe(live_server: LiveServer, page: Any) -> None:
    sign_in(page, live_server, "demo-supervisor")
    assert page.locator("h1").inner_text().startswith("Welcome")
    assert page.get_by_role("link", name="Supervision").count() == 1
    assert page.get_by_role("link", name="Statistics").count() == 0
    assert axe_violations(page) == []
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["sessionid"]["httpOnly"] and cookies["sessionid"]["sameSite"] == "Strict"


def test_visitor_pages_leave_no_cookie_in_the_browser(live_server: LiveServer, page: Any) -> None:
    for path in ["/en/", "/nl/privacy/", "/en/help/right-now/", "/en/help/chat/"]:
        page.goto(live_server.base_url + path)
    assert page.context.cookies() == []


def test_readable_at_200_percent_zoom(live_server: LiveServer, browser: Any) -> None:
    # 200% zoom of a 1280px window is a 640px-wide CSS viewport: nothing may need horizontal scrolling.
    context = browser.new_context(viewport={"width": 640, "height": 800}, device_scale_factor=2)
    page = context.new_page()
    for path in ["/en/privacy/", "/nl/staff/sign-in/"]:
        page.goto(live_server.base_url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (path, overflow)
    context.close()
