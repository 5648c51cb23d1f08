"""Every script a page loads is pinned by its hash, through one mechanism (helpline/templatetags/page_scripts.py).

Walks every page the URL map has (anonymous and as a verified administrator), so a page added later is held
to the same rule without a test of its own. The browser side (a swapped file refused) is
tests/browser/test_script_integrity.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import REPO, staff_client_with_role
from tests.unit.conftest import load_protocol_vectors

ORG_KEY = load_protocol_vectors()["org"]["public"]
# Folders that hold no template Django serves: the virtual environment, test pages, the embedded default's data.
NOT_TEMPLATES = {".venv", "tests", "var", "node_modules", ".git"}
# `import x from "y"`, `import "y"`, `export {a} from "y"`, `export * from "y"` (not `export const x = ...`).
STATIC_IMPORT = re.compile(r"""(?:^|;|\n)\s*(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']""")


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


class Scripts(HTMLParser):
    """Every <script> (attributes and text) and every <link> that loads a script, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.preloads: list[dict[str, str]] = []
        self._open: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "script":
            self._open, self._text = attributes, []
        elif tag == "link" and attributes.get("rel") in {"modulepreload", "preload", "prefetch"}:
            self.preloads.append(attributes)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open, "".join(self._text)))
            self._open = None


def template_files() -> list[Path]:
    return sorted(path for path in REPO.rglob("*.html")
                  if not NOT_TEMPLATES & set(path.relative_to(REPO).parts) and "templates" in path.parts)


def test_contract_no_template_loads_a_script_by_itself() -> None:
    """Scripts come only from the page_scripts tags, which pin each one; a hand-written tag would not be."""
    templates = template_files()
    assert len(templates) > 20, "the template walk found too few templates"
    offenders = [f"{path.relative_to(REPO)}: {match}" for path in templates
                 for match in re.findall(r"<script\b[^>]*>|<link\b[^>]*(?:modulepreload|preload)[^>]*>",
                                         path.read_text(), re.I)]
    assert offenders == [], "load scripts with {% module_script %} / {% module_preload %} (docs/architecture.md)"


def page_urls() -> list[str]:
    """Every GET-able page of the URL map (admin excluded: Django's own templates), a module page for slugs."""
    urls: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if "admin" not in route:
                    walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                urls.append(route.replace("<slug:slug>", "why-change"))

    walk(get_resolver().url_patterns, "/")
    return [url for url in urls if "<" not in url and url.startswith(("/en/", "/nl/"))]


def served(client: Client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, url
    return b"".join(response.streaming_content) if response.streaming else response.content


def check_page(client: Client, url: str, response: Any) -> list[str]:
    """The scripts of one page: what is wrong with them, as readable lines."""
    problems: list[str] = []
    html = response.content.decode()
    parser = Scripts()
    parser.feed(html)
    csp = response["Content-Security-Policy"]
    if response.get("Integrity-Policy") != "blocked-destinations=(script)":
        problems.append(f"{url}: no Integrity-Policy header")
    maps = [text for attributes, text in parser.scripts if attributes.get("type") == "importmap"]
    if len(maps) != 1:
        return [*problems, f"{url}: {len(maps)} import maps"]
    if csp_hash(maps[0]) not in csp:
        problems.append(f"{url}: the import map's hash is not in the CSP ({csp})")
    import_map = json.loads(maps[0])
    imports, integrity = import_map["imports"], import_map["integrity"]
    for target in imports.values():
        if integrity.get(target) != sri(served(client, target)):
            problems.append(f"{url}: {target} is mapped without its hash")
        for specifier in STATIC_IMPORT.findall(served(client, target).decode()):
            # The browser resolves a relative import against the hashed module's own URL (same folder).
            if urljoin(target, specifier) not in imports:
                problems.append(f"{url}: {target} imports {specifier}, which the map does not pin")
    for attributes, text in parser.scripts:
        kind = attributes.get("type", "")
        if kind == "importmap" or (kind == "application/json" and "src" not in attributes):
            continue
        if kind != "module" or "src" not in attributes or text.strip():
            problems.append(f"{url}: a script that is not a pinned module: {attributes}")
            continue
        source = attributes["src"]
        if source in imports:
            problems.append(f"{url}: {source} is an unhashed name")
        if attributes.get("integrity") != sri(served(client, source)) or integrity.get(source) != attributes.get(
                "integrity"):
            problems.append(f"{url}: {source} is not pinned by its hash")
    for attributes in parser.preloads:
        href = attributes.get("href", "")
        if attributes.get("integrity") != sri(served(client, href)) or integrity.get(href) != attributes["integrity"]:
            problems.append(f"{url}: preloaded {href} is not pinned by its hash")
    return problems


@pytest.mark.django_db
@override_settings(ORG_PUBLIC_KEY=ORG_KEY)
def test_contract_every_page_pins_every_script_it_loads() -> None:
    call_command("load_content", verbosity=0)
    anonymous = Client()
    admin, _user = staff_client_with_role("admin")
    checked, problems = 0, []
    for url in page_urls():
        for client in (anonymous, admin):
            response = client.get(url)
            if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                continue
            checked += 1
            problems += check_page(client, url, response)
    assert checked >= 20, f"only {checked} pages were checked"
    assert problems == []


@pytest.mark.django_db
@override_settings(ORG_PUBLIC_KEY=ORG_KEY)
def test_the_chat_page_pins_the_org_key_module_in_its_import_map() -> None:
    client = Client()
    response = client.get("/nl/help/chat/")
    parser = Scripts()
    parser.feed(response.content.decode())
    import_map = json.loads(next(text for attributes, text in parser.scripts if attributes.get("type") == "importmap"))
    org_key = next(link["href"] for link in parser.preloads if link.get("id") == "org-key-module")
    assert org_key.startswith("/nl/help/chat/org-key.js?v=")
    assert import_map["integrity"][org_key] == sri(served(client, org_key))
    assert check_page(client, "/nl/help/chat/", response) == []


@pytest.mark.django_db
@override_settings(ORG_PUBLIC_KEY=ORG_KEY)
def test_asset_hashes_lists_what_a_browser_loads_under_the_names_it_loads() -> None:
    out = io.StringIO()
    call_command("asset_hashes", "--json", stdout=out)
    hashes = json.loads(out.getvalue())
    client = Client()
    for url, digests in hashes.items():
        body = served(client, url)
        assert digests == {"sha256": hashlib.sha256(body).hexdigest(), "sri": sri(body)}, url
    parser = Scripts()
    parser.feed(client.get("/en/help/chat/").content.decode())
    loaded = [attributes["src"] for attributes, _text in parser.scripts if "src" in attributes]
    loaded += [link["href"] for link in parser.preloads]
    import_map = json.loads(next(text for attributes, text in parser.scripts if attributes.get("type") == "importmap"))
    loaded += list(import_map["imports"].values())
    assert loaded and set(loaded) <= set(hashes), "every script the chat page can load is listed"
    assert not [url for url in hashes if url.startswith("/static/") and url in import_map["imports"]], (
        "unhashed names are never loaded, so never listed")
    assert "/en/help/chat/org-key.js?v=" + load_protocol_vectors()["org"]["key_id"] in hashes
