"""Against a real Daphne started like `make run`: content is loaded at start, operator edits survive a restart,
pages revalidate with 304 and set no cookie, and /count/ accepts exactly the counts the page script sends."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.live

SCRIPT_COUNTS = [
    {"metric": "selfhelp.module_started", "dimension": "why-change"},
    {"metric": "selfhelp.module_completed", "dimension": "why-change"},
    {"metric": "selfhelp.safety_plan_made"},
    {"metric": "selfhelp.selfcheck_completed", "dimension": "talk-now"},
    {"metric": "selfhelp.selfcheck_completed", "dimension": "starting-out"},
]


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), ""


def test_content_is_loaded_at_start_and_pages_revalidate(live_server: LiveServer) -> None:
    status, headers, html = fetch(f"{live_server.base_url}/nl/help/modules/why-change/")
    assert status == 200 and "Waarom veranderen" in html
    assert "Set-Cookie" not in headers and "public" in headers["Cache-Control"]
    status, headers, _html = fetch(f"{live_server.base_url}/nl/help/modules/why-change/",
                                   **{"If-None-Match": headers["ETag"]})
    assert status == 304 and "Set-Cookie" not in headers


@pytest.mark.parametrize("payload", SCRIPT_COUNTS, ids=lambda p: f"{p['metric']}/{p.get('dimension', '')}")
def test_count_endpoint_accepts_what_the_page_script_sends(live_server: LiveServer, payload: dict[str, str]) -> None:
    request = urllib.request.Request(f"{live_server.base_url}/count/", data=json.dumps(payload).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204
        assert response.headers.get("Set-Cookie") is None


def test_operator_edits_survive_a_restart(private_live_server: LiveServer) -> None:
    with sqlite3.connect(private_live_server.database) as db:
        db.execute("UPDATE selfhelp_module SET title_en = 'Edited by the operator', edited_in_admin = 1 "
                   "WHERE slug = 'why-change'")
        db.execute("UPDATE selfhelp_module SET title_en = 'Stale shipped copy', source_hash = 'old' "
                   "WHERE slug = 'the-law'")
    private_live_server.restart()
    _status, _headers, edited = fetch(f"{private_live_server.base_url}/en/help/modules/why-change/")
    assert "Edited by the operator" in edited
    _status, _headers, refreshed = fetch(f"{private_live_server.base_url}/en/help/modules/the-law/")
    assert "Stale shipped copy" not in refreshed
