"""The chat pages as the server renders them: the pinned org key with its SRI hash, no inline script,
translated strings for the scripts, canned responses, the supervision figures (numbers only)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest
from django.test import Client, override_settings

from chat.models import CannedResponse, Chat
from helpline.accounts.roles import COUNSELLOR, SUPERVISOR
from tests.unit.conftest import load_protocol_vectors
from tests.unit.test_accounts_access import signed_in

ORG_KEY = load_protocol_vectors()["org"]["public"]
# The import map is the one inline script, allowed by its hash (tests/unit/test_contract_page_scripts.py).
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"(?:application/json|importmap)\")[^>]*>", re.I)


def json_script(html: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


@pytest.mark.django_db
@override_settings(ORG_PUBLIC_KEY=ORG_KEY)
@pytest.mark.parametrize("lang", ["en", "nl"])
def test_visitor_page_pins_the_org_key_module_with_its_sri_hash(lang: str) -> None:
    client = Client()
    page = client.get(f"/{lang}/help/chat/").content.decode()
    link = re.search(r'<link rel="modulepreload" href="([^"]+)" integrity="([^"]+)" id="org-key-module">', page)
    assert link, "the org key module must be preloaded with an integrity hash"
    url, integrity = link.groups()
    assert url.startswith(f"/{lang}/help/chat/org-key.js?v=")
    module = client.get(url)
    assert module["Content-Type"].startswith("text/javascript")
    assert "immutable" in module["Cache-Control"] and "max-age=31536000" in module["Cache-Control"]
    assert integrity == "sha384-" + base64.b64encode(hashlib.sha384(module.content).digest()).decode()
    assert f'export const ORG_PUBLIC_KEY = "{ORG_KEY}";' in module.content.decode()
    assert url.endswith("?v=" + load_protocol_vectors()["org"]["key_id"]), "a new key gets a new URL"
    assert not module.cookies, "the visitor gets no cookie, not even from the key module"
    assert not INLINE_SCRIPT.search(page), "no inline script (CSP script-src 'self')"
    strings = json_script(page, "chat-strings")
    assert "{name}" in strings["connected"] and "{position}" in strings["queued"]


@pytest.mark.django_db
@override_settings(ORG_PUBLIC_KEY=ORG_KEY, LANGUAGE_CODE="en")
def test_visitor_page_is_in_dutch_under_nl_including_the_script_strings() -> None:
    page = Client().get("/nl/help/chat/").content.decode()
    assert "Start de chat" in page and "Openingstijden" in page
    assert json_script(page, "chat-strings")["connected"] == "Je hulpverlener: {name} (geverifieerd)"
    assert "Praat met een hulpverlener" in page, "the pre-chat text comes from the self-help content"


@pytest.mark.django_db
def test_without_an_org_key_the_page_says_the_chat_is_unavailable(settings: Any, tmp_path: Any) -> None:
    # Only the `settings` fixture here: mixed with @override_settings, its teardown would restore the
    # decorator's values and leak them into later tests.
    settings.ORG_PUBLIC_KEY = ""
    settings.VAR_DIR = tmp_path
    page = Client().get("/en/help/chat/").content.decode()
    assert "org-key-module" not in page and 'id="chat-start"' not in page
    assert "not available" in page
    assert Client().get("/en/help/chat/org-key.js").status_code == 404


@pytest.mark.django_db
@override_settings(ORG_PUBLIC_KEY=ORG_KEY)
def test_console_renders_canned_responses_per_language_wrapup_codes_and_the_pinned_org_key() -> None:
    CannedResponse.objects.create(title="Welcome", text_en="Hello, I'm here.", text_nl="Hallo, ik ben er.", order=1)
    CannedResponse.objects.create(title="Helpline number", text_en="You can also call us.", order=2)
    client, _user = signed_in(COUNSELLOR)
    page = client.get("/nl/staff/chat/").content.decode()
    # Both languages, whatever the page's: the console picks by each chat's language. A text without a Dutch
    # translation is not offered in Dutch chats (never English text in a Dutch chat).
    assert json_script(page, "canned-responses") == {
        "en": [{"title": "Welcome", "text": "Hello, I'm here."}, {"title": "Helpline number", "text": "You can also call us."}],
        "nl": [{"title": "Welcome", "text": "Hallo, ik ben er."}],
    }
    assert 'name="concern" value="own_urges"' in page
    assert 'name="contact" value="self">' in page and "checked" not in page, "no wrap-up category is pre-selected"
    assert re.search(r'<link rel="modulepreload" href="/nl/help/chat/org-key.js\?v=[^"]+" integrity="sha384-[^"]+" '
                     r'id="org-key-module">', page), "colleagues' certificates are checked against the pinned key"
    assert re.search(r'data-store-tag="[0-9a-f]{32}"', page)
    strings = json_script(page, "chat-strings")
    assert strings["offer_handover"] == "Aan jou overgedragen door {name}" and strings["tab_unread"] == "{count} ongelezen"
    assert not INLINE_SCRIPT.search(page)
    assert 'data-csrf="' in page, "the device API needs the CSRF token (the cookie is HttpOnly)"


@pytest.mark.django_db
def test_the_transcript_store_tag_is_per_session_and_not_the_session_key() -> None:
    from tests.conftest import staff_client

    def tag_of(client: Client) -> str:
        match = re.search(r'data-store-tag="([0-9a-f]{32})"', client.get("/en/staff/chat/").content.decode())
        assert match
        return match.group(1)

    first, user = signed_in(COUNSELLOR)
    assert tag_of(first) == tag_of(first), "the same session keeps its store across reloads"
    assert tag_of(first) not in str(first.session.session_key)
    assert tag_of(staff_client(user)) != tag_of(first), "another session (signing in again) wipes the store"


@pytest.mark.django_db
def test_supervision_figures_are_numbers_only() -> None:
    from django.utils import timezone

    now = timezone.now()
    Chat.objects.create(lang="en", resume_hash="a" * 64, queued_at=now, waiting_since=now, visitor_channel="v.1")
    client, _user = signed_in(SUPERVISOR)
    figures = client.get("/en/staff/chat/supervise/?format=json").json()
    assert figures["queue_length"] == 1 and figures["waits"] == [0]
    for value in figures.values():
        assert isinstance(value, (int, bool)) or all(isinstance(item, int) for item in value)
    page = client.get("/en/staff/chat/supervise/").content.decode()
    assert 'id="fig-queue">1<' in page


@pytest.mark.django_db
def test_supervision_is_for_supervisors_only() -> None:
    client, _user = signed_in(COUNSELLOR)
    assert client.get("/en/staff/chat/supervise/?format=json").status_code == 403
    assert Client().get("/en/staff/chat/supervise/?format=json").status_code == 302


def test_contract_chat_scripts_build_the_dom_from_text_and_keep_nothing_in_local_storage() -> None:
    from pathlib import Path

    scripts = sorted((Path(__file__).resolve().parents[2] / "chat" / "static" / "chat").glob("*.js"))
    assert {script.name for script in scripts} >= {"visitor.js", "console.js", "supervise.js", "session.js", "ui.js"}
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                          "new Function", "localStorage"):
            assert forbidden not in source, f"{script.name} uses {forbidden}"


@pytest.mark.django_db
@override_settings(ORG_PUBLIC_KEY=ORG_KEY)
def test_opening_hours_are_listed_per_day_in_the_pages_language() -> None:
    import datetime as dt

    from chat.models import OpeningHours

    OpeningHours.objects.create(weekday=0, opens=dt.time(9), closes=dt.time(12))
    OpeningHours.objects.create(weekday=0, opens=dt.time(19), closes=dt.time(22))
    OpeningHours.objects.create(weekday=3, opens=dt.time(14), closes=dt.time(17, 30))
    page = Client().get("/nl/help/chat/").content.decode()
    assert re.search(r'<th scope="row">maandag</th><td>09:00–12:00, 19:00–22:00</td>', page)
    assert re.search(r'<th scope="row">donderdag</th><td>14:00–17:30</td>', page)
