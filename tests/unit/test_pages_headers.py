"""Every page carries the security headers; visitor pages set no cookie; referral codes are counted once."""

from __future__ import annotations

import pytest
from django.test import Client

from helpline.metrics.models import DailyCount

VISITOR_PAGES = ["/en/", "/nl/", "/en/privacy/", "/nl/privacy/", "/en/help/right-now/", "/en/help/modules/",
                 "/en/help/chat/", "/nl/help/chat/"]
STAFF_PAGES = ["/en/staff/sign-in/", "/nl/staff/sign-in/"]


@pytest.fixture
def client() -> Client:
    return Client(HTTP_USER_AGENT="CanaryAgent/9.9", HTTP_REFERER="https://referrer.invalid/canary")


@pytest.mark.django_db
@pytest.mark.parametrize("url", VISITOR_PAGES + STAFF_PAGES)
def test_security_headers_on_every_page(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response, "no HSTS without a configured TLS host"


@pytest.mark.django_db
@pytest.mark.parametrize("url", VISITOR_PAGES)
def test_contract_visitor_pages_set_no_cookie_and_no_referrer(client: Client, url: str) -> None:
    response = client.get(url)
    assert not response.cookies, f"{url} set {list(response.cookies)}"
    assert "Set-Cookie" not in response
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.django_db
@pytest.mark.parametrize("url", STAFF_PAGES)
def test_staff_pages_are_not_stored(client: Client, url: str) -> None:
    response = client.get(url)
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_staff_cookies_are_httponly_and_strict(client: Client) -> None:
    response = client.get("/en/staff/sign-in/")
    cookie = response.cookies["csrftoken"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"


@pytest.mark.django_db
def test_language_comes_from_the_url_and_no_language_cookie(client: Client) -> None:
    dutch = client.get("/nl/privacy/")
    assert dutch["Content-Language"] == "nl"
    assert '<html lang="nl">' in dutch.content.decode()
    assert "Snel weg" in dutch.content.decode()
    assert "Wat we bewaren, en wat we nooit bewaren" in dutch.content.decode()
    assert "django_language" not in dutch.cookies
    root = client.get("/", HTTP_ACCEPT_LANGUAGE="nl")
    assert root.status_code == 302 and root["Location"] == "/nl/"


@pytest.mark.django_db
def test_no_asset_from_another_host(client: Client) -> None:
    import re

    for url in VISITOR_PAGES + STAFF_PAGES:
        html = client.get(url).content.decode()
        for attribute in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not attribute.startswith(("http://", "https://", "//")) or attribute == "https://www.wikipedia.org/", (
                url, attribute)


@pytest.mark.django_db
def test_referral_code_is_counted_once_and_stripped(client: Client) -> None:
    response = client.get("/en/help/right-now/?src=poster&x=1")
    assert response.status_code == 302
    assert response["Location"] == "/en/help/right-now/?x=1"
    assert not response.cookies
    client.get(response["Location"])
    counts = list(DailyCount.objects.filter(metric="site.referral").values_list("dimension", "count"))
    assert counts == [("poster", 1)]


@pytest.mark.django_db
def test_unknown_referral_code_is_stripped_but_not_counted(client: Client) -> None:
    response = client.get("/en/?src=made-up-code")
    assert response.status_code == 302 and response["Location"] == "/en/"
    assert not DailyCount.objects.filter(metric="site.referral").exists()
