"""Secure messages through a real Daphne with the Python clients: a whole thread; an envelope as the server
stored it, opened by the independent reader of docs/mailbox.md; and deletion that leaves no byte of the thread
in any file of var/ (SQLite's database, WAL and shared-memory files read raw)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chat.client.counsellor import enrol_device
from chat.client.http import sign_in_staff
from chat.client.mailbox import MailboxCounsellor, MailboxNotFound, MailboxVisitor
from tests.conftest import LiveServer
from tests.unit.test_mailbox_independent import derive, open_stored

pytestmark = pytest.mark.live

CANARY = "mailbox canary: the otter paints 41907 blue"


async def counsellor_of(server: LiveServer) -> MailboxCounsellor:
    staff = await sign_in_staff(server.base_url, "demo-counsellor", server.demo_password("demo-counsellor"),
                                lambda: server.demo_code("demo-counsellor"), code_attempts=1)
    counsellor = MailboxCounsellor(staff, await enrol_device(staff), org_public_key=server.org_public_key)
    await counsellor.register()
    return counsellor


def rows(server: LiveServer, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(server.database)
    try:
        return list(connection.execute(sql).fetchall())
    finally:
        connection.close()


def raw_files(var_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(var_dir.glob("helpline.sqlite3*")))


def test_a_thread_through_a_real_server_then_deleted_without_a_trace(private_live_server: LiveServer) -> None:
    server = private_live_server

    async def scenario() -> dict[str, Any]:
        counsellor = await counsellor_of(server)
        visitor = MailboxVisitor(server.base_url, org_public_key=server.org_public_key)
        codename = await visitor.write(CANARY, lang="nl")
        (thread,) = await counsellor.threads()
        assert thread["state"] == "new" and thread["lang"] == "nl"
        assert [m.text for m in await counsellor.read(thread["thread"])] == [CANARY]
        await counsellor.reply(thread["thread"], CANARY + " (answer)")
        again = MailboxVisitor(server.base_url, org_public_key=server.org_public_key)
        messages = await again.open(codename)
        assert [(m.sender == "visitor", m.text) for m in messages] == [(True, CANARY), (False, CANARY + " (answer)")]
        assert messages[1].pseudonym  # the counsellor's certificate verified under the pinned org key
        await again.reply(CANARY + " (thanks)")  # the client pays each request's own puzzle: reply, then open
        assert [m.text for m in await again.open()][-1] == CANARY + " (thanks)"
        with pytest.raises(MailboxNotFound):
            await MailboxVisitor(server.base_url, org_public_key=server.org_public_key).open(
                codename.rsplit(" ", 1)[0] + " zzz")
        stored = rows(server, "SELECT m.message_id, m.sender, m.ct, w.epk, w.wk FROM securemessages_message m "
                              "JOIN securemessages_wrap w ON w.message_id = m.id WHERE w.recipient = 'mailbox'")
        thread_row = rows(server, "SELECT id, access_hash, mailbox_key FROM securemessages_thread")
        return {"codename": codename, "visitor": again, "stored": stored, "thread_row": thread_row}

    outcome = asyncio.run(scenario())
    # The envelopes as stored open with nothing but docs/mailbox.md and the codename.
    independent = derive(outcome["codename"])
    (thread_id, access_hash, mailbox_key), = outcome["thread_row"]
    assert thread_id == independent["thread"]
    texts = [open_stored(independent["box"], thread_id, message_id, sender, ct, epk, wk)["body"]
             for message_id, sender, ct, epk, wk in outcome["stored"]]
    assert texts == [CANARY, CANARY + " (answer)", CANARY + " (thanks)"]

    secrets_on_disk = [ct.encode() for _id, _sender, ct, _epk, _wk in outcome["stored"]]
    secrets_on_disk += [thread_id.encode(), access_hash.encode(), mailbox_key.encode()]
    before = raw_files(server.var_dir)
    assert all(value in before for value in secrets_on_disk[:1]), "the test reads the files the thread is in"

    asyncio.run(outcome["visitor"].delete())
    assert rows(server, "SELECT COUNT(*) FROM securemessages_thread")[0][0] == 0
    after = raw_files(server.var_dir)
    left = [value[:24] for value in secrets_on_disk if value in after]
    assert not left, f"bytes of a deleted thread are still in var/: {left}"
    assert CANARY.encode() not in after
