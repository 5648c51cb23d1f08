"""One account signs in again and again within one 30-second step, through the real pages of a real server,
with the test authenticator (tests/conftest.py) and no waiting; a code the server already accepted is still
refused. This is what lets every other test sign demo accounts in without waiting for the next step."""

from __future__ import annotations

import asyncio

import pytest

from chat.client.http import HttpError, sign_in_staff
from tests.conftest import LiveServer

pytestmark = pytest.mark.live


def test_three_sign_ins_in_a_row_and_a_replay_refused(live_server: LiveServer) -> None:
    username = "demo-supervisor"
    password = live_server.demo_password(username)
    used: list[str] = []

    def next_code() -> str:
        used.append(live_server.demo_code(username))
        return used[-1]

    async def sign_ins() -> None:
        for _ in range(3):  # one code each (code_attempts=1): a refused code fails here, nothing waits
            session = await sign_in_staff(live_server.base_url, username, password, next_code, code_attempts=1)
            assert session.cookie_header()
        assert len(set(used)) == 3  # three different codes: three steps, none of them replayed
        with pytest.raises(HttpError, match="refused"):
            await sign_in_staff(live_server.base_url, username, password, lambda: used[-1], code_attempts=1)

    asyncio.run(sign_ins())
