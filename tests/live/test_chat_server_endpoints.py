"""Against the real Daphne: the chat endpoints answer as documented, set no cookie, and refuse strangers."""

from __future__ import annotations

import json
import urllib.request

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.conftest import LiveServer

pytestmark = pytest.mark.live


def test_pow_challenge_sets_no_cookie(live_server: LiveServer) -> None:
    with urllib.request.urlopen(live_server.base_url + "/chat/pow/", timeout=10) as response:
        body = json.loads(response.read())
        assert response.headers.get("Set-Cookie") is None
        assert "no-cache" in response.headers.get("Cache-Control", "") or "max-age=0" in response.headers.get(
            "Cache-Control", "")
    assert set(body) == {"challenge", "iterations", "bits"} and body["bits"] == 0


async def test_counsellor_socket_without_a_session_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(live_server.ws_url + "/ws/counsellor/", origin=live_server.base_url,
                                 open_timeout=10)
    assert refused.value.response.status_code == 403


async def test_visitor_socket_refuses_binary_and_closes_after_repeated_wrong_frames(live_server: LiveServer) -> None:
    async with websockets.connect(live_server.ws_url + "/ws/visitor/", origin=live_server.base_url,
                                  open_timeout=10) as socket:
        await socket.send(b"\x00binary")
        assert json.loads(await socket.recv())["code"] == "bad_frame"
        for _ in range(4):
            await socket.send("not json")
            assert json.loads(await socket.recv())["code"] == "bad_frame"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_visitor_socket_from_another_origin_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus):
        await websockets.connect(live_server.ws_url + "/ws/visitor/", origin="http://evil.example", open_timeout=10)
