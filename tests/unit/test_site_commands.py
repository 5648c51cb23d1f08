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


def test_asset_hashes_match_the_files_and_modules_match_the_repository() -> None:
    from django.contrib.staticfiles.storage import staticfiles_storage

    out = io.StringIO()
    call_command("asset_hashes", "--json", stdout=out)
    hashes = json.loads(out.getvalue())
    css = staticfiles_storage.url("helpline/site.css")
    assert hashes[css]["sha256"] == hashlib.sha256(
        staticfiles_storage.open(staticfiles_storage.stored_name("helpline/site.css")).read()).hexdigest()
    # Modules are served byte for byte as in the repository, so a checkout is enough to check them.
    module = (REPO / "chat/static/chat/protocol.js").read_bytes()
    assert hashes[staticfiles_storage.url("chat/protocol.js")]["sha256"] == hashlib.sha256(module).hexdigest()
    assert hashes[staticfiles_storage.url("helpline/quick-exit.js")]["sri"].startswith("sha384-")
    assert not any(url.endswith((".po", ".mo", ".gz")) for url in hashes)


@pytest.mark.django_db(transaction=True)
async def test_unknown_websocket_route_is_closed_with_4404() -> None:
    communicator = WebsocketCommunicator(application, "/ws/no-such-thing/", headers=[(b"origin", b"http://localhost"),
                                                                                   (b"host", b"localhost")])
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4404
