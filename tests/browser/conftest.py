"""Browser fixtures: Debian's Chromium through Playwright (Playwright cannot download browsers here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API keeps an event loop running in the main thread for the whole session, which
# Django's async-safety check mistakes for async code in every later database test of this process.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("HELPLINE_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
]
AXE = Path(__file__).resolve().parent.parent.parent / "tests" / "vendor" / "axe.min.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: Playwright's sync API holds an event loop in the main thread while it runs, which
    # would break asyncio tests that come after it in the same process.
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make system-packages` (part of `make test`) installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _no_chat_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the shared live server, no chat of it stays for the next test's console to take back."""
    yield
    if "live_server" in request.fixturenames:
        request.getfixturevalue("live_server").end_every_chat()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core (vendored, injected from disk, never fetched) on the page; return violations."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern (an injected
    # <script> would be refused, as it should be).
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})).violations"
    )
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result]


def signed_in_state(browser: Any, live_server: Any, username: str) -> dict[str, Any]:
    """Sign in once through the real pages (a TOTP code cannot be used twice); new contexts reuse the cookies."""
    context = browser.new_context()
    sign_in(context.new_page(), live_server, username)
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


def sign_in(page: Any, live_server: Any, username: str, lang: str = "en") -> None:
    """Sign a demo account in through the real pages, by keyboard: password, then the test authenticator's code
    (tests/conftest.py: never a step the server already accepted, so no waiting for the next one)."""
    page.goto(f"{live_server.base_url}/{lang}/staff/sign-in/")
    page.fill("#id_username", username)
    page.fill("#id_password", live_server.demo_password(username))
    page.keyboard.press("Enter")
    page.wait_for_url("**/second-factor/**")
    page.fill("#id_code", live_server.demo_code(username))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(f"**/{lang}/staff/")
