"""Small things every visitor meets: the favicon, the description search engines show, and a privacy page in
plain words (the technical names live in docs/privacy.md, which a test holds to the code)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from helpline.asgi_privacy import IDENTIFYING_HEADERS

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.mark.django_db
def test_favicon_is_served_not_a_404() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00", "an ICO file"
    assert "public" in response["Cache-Control"]
    assert not response.cookies


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "words"), [("/en/", "Anonymous help"), ("/nl/", "Anonieme hulp"),
                                             ("/en/privacy/", "Anonymous help"), ("/nl/help/chat/", "Anonieme hulp")])
def test_visitor_pages_have_a_meta_description(path: str, words: str) -> None:
    html = Client().get(path).content.decode()
    assert f'<meta name="description" content="{words}' in html


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "nl"])
def test_privacy_page_names_no_http_headers(lang: str) -> None:
    html = Client().get(f"/{lang}/privacy/").content.decode().lower()
    for name in IDENTIFYING_HEADERS:
        assert name.decode() not in html, name


def test_docs_list_every_header_we_drop() -> None:
    doc = (REPO / "docs" / "privacy.md").read_text()
    for name in IDENTIFYING_HEADERS:
        assert f"`{name.decode()}`" in doc, name
