"""Stripping a referral code redirects to the same page, never to another host (issue 14, item 7)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils.http import url_has_allowed_host_and_scheme

# Paths Django decodes to something a browser reads as another host once it is a Location: "//host",
# "/\host" (browsers treat a backslash as a slash), and a tab or newline that browsers drop from URLs.
HOSTILE_PATHS = [
    "/%2Fevil.example/",
    "/%2F%2Fevil.example/",
    "/%5Cevil.example/",
    "/%5C%5Cevil.example/",
    "/%09/evil.example/",
    "/%0A/evil.example/",
    "/%2F%09evil.example/",
    "///evil.example/",
    "/%2F/evil.example/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_contract_stripping_a_referral_code_never_redirects_to_another_host(client: Client, path: str) -> None:
    response = client.get(f"{path}?src=poster&x=1")
    assert response.status_code == 302
    location = response["Location"]
    assert url_has_allowed_host_and_scheme(location, allowed_hosts=None), location
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert not any(character in location for character in "\t\n\r\\"), location
    assert location.endswith("?x=1")


@pytest.mark.django_db
def test_the_redirect_still_leads_back_to_the_same_page(client: Client) -> None:
    response = client.get("/en/help/right-now/?src=poster")
    assert response["Location"] == "/en/help/right-now/"
    # A path with characters that need escaping keeps them, escaped once.
    response = client.get("/en/help/a%20b/?src=poster")
    assert response["Location"] == "/en/help/a%20b/"
    # The hostile path, once redirected, is asked for again as itself (a 404 here), not as another host.
    response = client.get("/%2Fevil.example/?src=poster")
    assert client.get(response["Location"]).status_code == 404
