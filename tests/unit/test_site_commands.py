"""Site-wide pieces: published asset hashes, and unknown websocket routes refused without an exception."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.core.management import call_command

from helpline.asgi import application

REPO = Path(__file__).resolve().parent.parent.parent


def test_asset_hashes_match_the_files() -> None:
    out = io.StringIO()
    call_command("asset_hashes", "--json", stdout=out)
    hashes = json.loads(out.getvalue())
    css = (REPO / "helpline/static/helpline/site.css").read_bytes()
    assert hashes["helpline/site.css"]["sha256"] == hashlib.sha256(css).hexdigest()
    assert hashes["helpline/quick-exit.js"]["sri"].startswith("sha384-")
    assert not any(path.startswith("admin/") is False and path.endswith(".po") for path in hashes)


@pytest.mark.django_db(transaction=True)
async def test_unknown_websocket_route_is_closed_with_4404() -> None:
    communicator = WebsocketCommunicator(application, "/ws/no-such-thing/", headers=[(b"origin", b"http://localhost"),
                                                                                   (b"host", b"localhost")])
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4404
