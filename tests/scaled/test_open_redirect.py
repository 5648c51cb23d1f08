"""Through the shipped nginx file: stripping a referral code never redirects to another host (issue 14, item 7).

nginx passes the request's path on as it came (`proxy_pass` without a URI part), so `/%2Fevil.example/`
reaches Django, which decodes it to `//evil.example/`.
"""

from __future__ import annotations

import pytest

from tests.scaled.conftest import Deployment, fetch

pytestmark = pytest.mark.scaled


@pytest.mark.parametrize("path", ["/%2Fevil.example/", "/%5Cevil.example/", "/%2F%2Fevil.example/"])
def test_contract_referral_redirect_through_nginx_stays_on_this_site(scaled: Deployment, path: str) -> None:
    status, headers, _body = fetch(f"{scaled.nginx.base_url}{path}?src=poster")
    assert status == 302
    location = headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert "\\" not in location, location
