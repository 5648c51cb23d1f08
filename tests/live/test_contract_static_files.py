"""Static files served by a real Daphne (the embedded default, no nginx): security headers, no open CORS,
content-hashed names cached for good and nothing else cached at all."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from helpline.static_headers import STATIC_FILE_HEADERS
from tests.conftest import REPO, LiveServer

pytestmark = pytest.mark.live


def head(url: str) -> dict[str, str]:
    with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as response:
        assert response.status == 200
        return {name.lower(): value for name, value in response.headers.items()}


def test_contract_static_files_carry_the_security_headers_and_no_open_cors(live_server: LiveServer) -> None:
    manifest = json.loads((live_server.var_dir / "staticfiles" / "staticfiles.json").read_text())["paths"]
    for name in ("helpline/site.css", "chat/protocol.js", "helpline/quick-exit.js"):
        headers = head(f"{live_server.base_url}/static/{manifest[name]}")
        for header, value in STATIC_FILE_HEADERS.items():
            assert headers.get(header.lower()) == value, (name, header, headers)
        assert "access-control-allow-origin" not in headers, name
        assert "immutable" in headers["cache-control"], "a hashed name never changes"
        unhashed = head(f"{live_server.base_url}/static/{name}")
        assert unhashed["cache-control"].startswith("max-age=0"), "an unhashed name may change: never cached"
        assert "access-control-allow-origin" not in unhashed


def test_nginx_sends_the_same_static_headers_as_the_app() -> None:
    template = (REPO / "deploy/nginx/helpline.conf.template").read_text()
    static = template.split("location /static/ {", 1)[1].split("\n    }", 1)[0]
    sent = dict(re.findall(r'add_header ([\w-]+) "?([^"\n]*?)"? always;', static))
    assert {name: sent.get(name) for name in STATIC_FILE_HEADERS} == STATIC_FILE_HEADERS
