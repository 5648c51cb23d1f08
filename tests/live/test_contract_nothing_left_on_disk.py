"""A real chat through a real Daphne (the embedded default), then every byte of every file in var/ is read.

While the chat lasts its row is read from the database (id, exact times, resume-token hash); once it has
ended, none of them may be anywhere in var/, the database's write-ahead log included. The wrap-up and the
visitor's rating live on only as day counters: no file may hold them more often than a copy of the database
with only its live rows does (an older version of a counter row is how one chat's codes would show). And
every file the server wrote is its own: folders 0700, files 0600, also for an installation made before.
"""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest

from chat.client import ChatEnded, Connected, MessageReceived, Queued, VisitorClient
from tests.conftest import LiveServer, make_live_server

pytestmark = pytest.mark.live

WRAPUP = {"contact": "someone_else", "concern": ["contact_offending", "worried_about_child"],
          "action": ["crisis_info"]}
WRAPUP_DIMENSIONS = ["contact.someone_else", "concern.contact_offending", "concern.worried_about_child",
                     "action.crisis_info"]
RATING_METRIC = "chat.rating"
# Columns that name the counsellor's own socket and device, which live on in their own rows after the chat.
COUNSELLOR_SIDE = {"counsellor_channel", "device_id"}


def live_chat_row(database: Path, chat_id: str) -> dict[str, str]:
    """The chat's row as the server wrote it: every text value, exactly as stored."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM chat_chat WHERE id = ?", [chat_id]).fetchone()
    assert row is not None, "the chat is live: its row must be there"
    return {key: row[key] for key in row.keys()  # noqa: SIM118
            if isinstance(row[key], str) and len(row[key]) >= 8 and key not in COUNSELLOR_SIDE}


async def a_whole_chat(server: LiveServer) -> dict[str, str]:
    counsellor = await server.available_counsellor()
    visitor = VisitorClient(server.base_url, org_public_key=server.org_public_key)
    await visitor.join("nl")
    chat = (await visitor.wait_for(Queued)).chat
    await visitor.wait_for(Connected, timeout=30)
    await counsellor.wait_for(Connected, lambda event: event.chat == chat, timeout=30)
    await visitor.send_text("hello")
    await counsellor.wait_for(MessageReceived)
    row = live_chat_row(server.database, chat)
    await counsellor.end(chat, WRAPUP)
    ended = await visitor.wait_for(ChatEnded)
    assert ended.feedback
    assert await visitor.give_feedback(4, True) == 204
    await visitor.close()
    # The counsellor stays signed in and available, as at work: the server keeps running and writing.
    await counsellor.set_available(True)
    return row


def every_file(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def live_rows_only(database: Path, into: Path) -> bytes:
    """A copy of the database with its live rows and nothing else (no free space, no log)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        db.execute("VACUUM INTO ?", [str(into)])
    return into.read_bytes()


def test_contract_an_ended_chat_leaves_nothing_on_disk_and_every_file_is_private(tmp_path: Path) -> None:
    server = make_live_server(tmp_path / "server", HELPLINE_QUICK_EXIT_URL="about:blank")
    # An installation from before: var/ and its database open to everyone.
    server.var_dir.mkdir(parents=True)
    server.var_dir.chmod(0o755)
    server.database.touch()
    server.database.chmod(0o644)
    server.start()
    try:
        row = asyncio.run(a_whole_chat(server))
        files = every_file(server.var_dir)
        live = live_rows_only(server.database, tmp_path / "live.sqlite3")
    finally:
        server.stop()

    assert {"id", "queued_at", "waiting_since", "accepted_at", "resume_hash", "visitor_channel"} <= set(row), row
    found = [f"{name} ({value}) in {path.relative_to(server.var_dir)}" for name, value in row.items()
             for path, content in files.items() if value.encode() in content]
    assert found == [], "an ended chat left its traces on disk:\n" + "\n".join(found)
    for needle in [*WRAPUP_DIMENSIONS, RATING_METRIC]:
        on_disk = sum(content.count(needle.encode()) for content in files.values())
        assert on_disk == live.count(needle.encode()), f"{needle}: older versions of a counter on disk"

    modes = {path.relative_to(server.var_dir): stat.S_IMODE(path.stat().st_mode)
             for path in [server.var_dir, *server.var_dir.rglob("*")]}
    assert {str(path): oct(mode) for path, mode in modes.items()
            if mode != (0o700 if (server.var_dir / path).is_dir() else 0o600)} == {}
