"""In Chromium against a real Daphne: each script a page loads is swapped in transit, and the page refuses to run it.

A swapped file is the original with one line put in front that marks the page (`helplineSwapped`). The page
must never carry the mark, and Chromium must say it blocked the file for its integrity. Without the swap the
same pages run their scripts (the chat page shows its start button), so a refusal is the hash at work, not a
broken page. What the browser loaded is also compared with what `manage.py asset_hashes` publishes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import signed_in_state
from tests.conftest import REPO, LiveServer, make_live_server

pytestmark = [pytest.mark.browser, pytest.mark.live]

SWAP_MARK = b'globalThis.helplineSwapped = "swapped";\n'
VISITOR_PAGES = ["/en/", "/en/help/modules/why-change/", "/en/help/chat/"]
STAFF_PAGES = ["/en/staff/chat/", "/en/staff/chat/supervise/"]
SCREENSHOTS = REPO / "var" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A Daphne of this module's own: a swapped org-key module must not leave a chat behind for other tests."""
    live = make_live_server(tmp_path_factory.mktemp("integrity"), HELPLINE_QUICK_EXIT_URL="about:blank")
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def staff_state(browser: Any, server: LiveServer) -> dict[str, Any]:
    """A supervisor's signed-in cookies (counsel and supervise)."""
    return signed_in_state(browser, server, "demo-supervisor")


def published_hashes(server: LiveServer) -> dict[str, dict[str, str]]:
    result = subprocess.run([sys.executable, "manage.py", "asset_hashes", "--json"], cwd=REPO, env=server.env,
                            capture_output=True, text=True, check=True)
    hashes: dict[str, dict[str, str]] = json.loads(result.stdout)
    return hashes


def open_page(browser: Any, server: LiveServer, path: str, state: dict[str, Any] | None,
              swap: str | None = None) -> tuple[Any, Any, dict[str, bytes], list[str], list[str]]:
    """Load `path` (with `swap`'s body changed); returns context, page, scripts loaded, console lines, swaps made."""
    context = browser.new_context(storage_state=state) if state else browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    loaded: dict[str, bytes] = {}
    swaps: list[str] = []

    def remember(response: Any) -> None:
        if response.request.resource_type in {"script", "stylesheet"} and response.ok:
            loaded[response.url] = response.body()

    page.on("response", remember)
    if swap:
        def swapped(route: Any) -> None:
            original = route.fetch()
            swaps.append(route.request.url)
            route.fulfill(response=original, body=SWAP_MARK + original.body())

        page.route(swap, swapped)
    page.goto(server.base_url + path)
    page.wait_for_load_state("networkidle")
    return context, page, loaded, console, swaps


def org_key_import(page: Any) -> str:
    """What the chat page does with the org key (visitor.js orgPublicKey): import the preloaded module."""
    return str(page.evaluate("""() => import(document.getElementById("org-key-module").href)
        .then((module) => "ran:" + module.ORG_PUBLIC_KEY, (error) => "refused:" + error)"""))


def test_contract_every_script_is_refused_when_swapped(browser: Any, server: LiveServer,
                                                       staff_state: dict[str, Any]) -> None:
    published = published_hashes(server)
    every_script: set[str] = set()
    for path in VISITOR_PAGES + STAFF_PAGES:
        state = staff_state if path in STAFF_PAGES else None
        context, page, loaded, console, _swaps = open_page(browser, server, path, state)
        assert not [line for line in console if "integrity" in line.lower() or "Content Security" in line], console
        if path == "/en/help/chat/":
            page.locator("#chat-start").wait_for()  # visitor.js ran
            assert org_key_import(page) == "ran:" + server.org_public_key
            loaded.setdefault(page.locator("#org-key-module").evaluate("link => link.href"), b"")
        context.close()
        scripts = {url for url in loaded if urlsplit(url).path.endswith(".js")}
        assert scripts, f"{path} loaded no script"
        # asset_hashes lists exactly these files, under the names the browser asked for.
        for url, body in loaded.items():
            name = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
            assert name in published, f"{name} was loaded but is not in asset_hashes"
            if body:
                assert published[name]["sha256"] == hashlib.sha256(body).hexdigest(), name
        every_script |= {(path, url) for url in scripts}

    assert {Path(urlsplit(url).path).name.split(".")[0] for _path, url in every_script} >= {
        "quick-exit", "selfhelp", "visitor", "protocol", "session", "ui", "org-key", "console", "supervise"}
    for path, url in sorted(every_script):
        state = staff_state if path in STAFF_PAGES else None
        context, page, _loaded, console, swaps = open_page(browser, server, path, state, swap=url)
        if "org-key.js" in url:
            assert org_key_import(page).startswith("refused:")
        assert swaps, f"{url} was never requested from {path}"
        assert page.evaluate("globalThis.helplineSwapped") is None, f"{path} ran a swapped {url}"
        assert any("integrity" in line and urlsplit(url).path in line for line in console), (path, url, console)
        if path == "/en/help/chat/" and url.endswith(".js") and "/chat/" in url and "org-key" not in url:
            assert page.locator("#chat-start").is_hidden(), "no chat can start on a swapped script"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.locator("#chat-intro > *").last.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "chat-page-swapped-script.png"))
        context.close()
