"""In Chromium, as a new counsellor: enrolment link, password, authenticator, recovery codes; then a normal
sign-in (password, code) from the browser that is now known. Every page passes axe-core; all by keyboard.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import axe_violations
from tests.conftest import REPO, LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "a-long-browser-test-password-7"
SCREENSHOTS = Path(os.environ.get("HELPLINE_SCREENSHOT_DIR", "/tmp/helpline-screenshots"))


def add_counsellor(live_server: LiveServer, username: str) -> str:
    """`manage.py add_staff`, as an operator runs it; returns the enrolment link it prints."""
    result = subprocess.run([sys.executable, "manage.py", "add_staff", username, "--role", "counsellor",
                             "--password-env", "NEW_STAFF_PASSWORD"], cwd=REPO,
                            env={**live_server.env, "NEW_STAFF_PASSWORD": PASSWORD},
                            capture_output=True, text=True, check=True)
    match = re.search(r"/en/staff/enrol/[A-Za-z0-9_-]+/", result.stdout)
    assert match, result.stdout
    return match.group(0)


def code_for(secret_base32: str, step_offset: int = 0) -> str:
    """What an authenticator app shows for the key typed in from the enrolment page."""
    from django_otp.oath import TOTP

    raw = secret_base32.replace(" ", "")
    key = base64.b32decode(raw + "=" * (-len(raw) % 8))
    totp = TOTP(key, 30, 0, 6, 0)
    totp.time = time.time() + step_offset * 30
    return f"{totp.token():06d}"


def password_step_by_keyboard(page: Any, username: str) -> None:
    page.focus("#id_username")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def submit_by_keyboard(page: Any, field: str, value: str) -> None:
    page.focus(field)
    page.keyboard.type(value)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_new_counsellor_enrols_with_the_link_and_then_signs_in(live_server: LiveServer, page: Any) -> None:
    link = add_counsellor(live_server, "new-counsellor")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The link first asks for the password: the link alone enrols nothing.
    page.goto(live_server.base_url + link)
    page.wait_for_url(re.compile(r".*/en/staff/sign-in/\?next=.*enrol.*"))
    assert axe_violations(page) == []
    password_step_by_keyboard(page, "new-counsellor")
    page.wait_for_url(f"**{link}")

    # The enrolment page: QR code, the key to type in, the code field.
    assert page.locator("h1").inner_text() == "Set up your authenticator app"
    assert page.locator("figure.qr svg").count() == 1
    # The whole code is drawn, scaled to the box the style sheet gives it (a fixed size was cut off).
    assert page.eval_on_selector("figure.qr svg", """svg => {
        const view = svg.viewBox.baseVal, box = svg.getBoundingClientRect();
        return view.width > 0 && Math.abs(box.width / box.height - view.width / view.height) < 0.01;
    }""")
    secret = page.locator("code.secret").inner_text()
    assert axe_violations(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "staff-enrolment.png"), full_page=True)
    # At 200 % zoom (half the CSS width) nothing needs sideways scrolling, the QR code included.
    page.set_viewport_size({"width": 640, "height": 450})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SCREENSHOTS / "staff-enrolment-zoom.png"), full_page=True)
    submit_by_keyboard(page, "#id_code", code_for(secret))

    # Recovery codes, once; then the staff home, verified.
    page.wait_for_url("**/en/staff/recovery-codes/")
    assert page.locator("li code").count() == 10
    assert axe_violations(page) == []
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    known = cookies["staffbrowser"]
    assert known["httpOnly"] and known["sameSite"] == "Strict" and known["expires"] > time.time() + 30 * 86400
    page.goto(f"{live_server.base_url}/en/staff/")
    assert page.locator("h1").inner_text().startswith("Welcome")

    # The link is used up.
    assert page.goto(live_server.base_url + link).status == 404
    assert page.locator("h1").inner_text() == "This enrolment link does not work"
    assert axe_violations(page) == []

    # Sign out, then the everyday path: password, then a code from the app (the next time step: a code
    # is accepted once).
    page.goto(f"{live_server.base_url}/en/staff/")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_server.base_url}/en/staff/sign-in/")
    password_step_by_keyboard(page, "new-counsellor")
    page.wait_for_url("**/second-factor/**")
    assert axe_violations(page) == []
    submit_by_keyboard(page, "#id_code", code_for(secret, 1))
    page.wait_for_url("**/en/staff/")
    assert page.locator("h1").inner_text().startswith("Welcome")


def test_a_password_without_a_link_reaches_no_enrolment(live_server: LiveServer, page: Any) -> None:
    add_counsellor(live_server, "no-link-yet")
    page.goto(f"{live_server.base_url}/en/staff/sign-in/")
    page.fill("#id_username", "no-link-yet")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url("**/second-factor/**")
    assert page.locator("h1").inner_text() == "Your authenticator app is not set up yet"
    assert page.locator("figure.qr").count() == 0 and page.locator("#id_code").count() == 0
    assert axe_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "staff-needs-enrolment.png"), full_page=True)
