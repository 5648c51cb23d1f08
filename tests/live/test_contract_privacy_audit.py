"""Privacy audit (embedded default): a whole visit through the real server, then every trace is read.

Self-help with an exercise answer, a referral code, the no-script self-check, the counter beacon, a chat
with a canary sentence, feedback, a secure-message thread (docs/mailbox.md) with the canary sentence and a
canary codename, a staff sign-in and a statistics export, every request carrying a
made-up user agent, referrer and X-Forwarded-For. Then every table, every log line and every file the
service wrote is searched for the canaries and for client addresses. (The scaled mode's audit of Redis
and nginx is in tests/scaled/test_contract_privacy_audit_scaled.py, which runs this module's scenario,
`whole_visit`, against a `Site` of its own.)
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chat.client import ChatEnded, Connected, CounsellorClient, MessageReceived, VisitorClient
from chat.client.counsellor import enrol_device
from chat.client.http import StaffSession, sign_in_staff
from chat.client.mailbox import MailboxCounsellor, MailboxVisitor
from securemessages.crypto import derive_codename_keys
from tests.conftest import LiveServer, make_live_server

pytestmark = pytest.mark.live

CANARY_SENTENCE = "audit canary: the lighthouse keeper sings 77231"
CANARY_ANSWER = "audit-exercise-answer-5520"
CANARY_AGENT = "AuditBrowser/3.1 audit-agent-9154"
CANARY_REFERRER = "https://audit-referrer.invalid/from-9154"
CANARY_ADDRESS = "198.51.100.203"
CANARY_HEADERS = {"User-Agent": CANARY_AGENT, "Referer": CANARY_REFERRER, "X-Forwarded-For": CANARY_ADDRESS,
                  "X-Real-IP": CANARY_ADDRESS}
# The mailbox's codename and the access secret made from it never leave the visitor's client.
CANARY_CODENAME = "lantern meadow pebble violet walnut harbor quilt saffron"
CANARY_ACCESS = derive_codename_keys(CANARY_CODENAME).access_b64
CANARIES = [CANARY_SENTENCE, "lighthouse keeper", "77231", CANARY_ANSWER, CANARY_AGENT, "audit-agent",
            CANARY_REFERRER, "audit-referrer", CANARY_ADDRESS, "127.0.0.1", CANARY_CODENAME, CANARY_ACCESS]


@pytest.fixture
def audited_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = make_live_server(tmp_path, HELPLINE_LOG_LEVEL="INFO")
    server.extra_args = ["--access-log"]
    server.start()
    yield server
    server.stop()


@dataclass
class Site:
    """Where the scenario runs, and how it reaches what only the operator has (demo passwords and codes,
    the database, a counsellor's certified device): the embedded server here, the scaled deployment in
    tests/scaled/."""

    base_url: str
    rows: Callable[[str], list[tuple[object, ...]]]
    demo_password: Callable[[str], str]
    demo_code: Callable[[str], str]
    org_public_key: str
    # Signs the demo counsellor in and returns its session and a certified device.
    counsellor: Callable[[], Awaitable[tuple[StaffSession, Any]]]
    # Where staff sign in, when not at base_url (the scaled audit: see its module docstring).
    staff_url: str | None = None


def embedded_site(server: LiveServer) -> Site:
    async def counsellor() -> tuple[StaffSession, Any]:
        session = await sign_in_staff(server.base_url, "demo-counsellor", server.demo_password("demo-counsellor"),
                                      lambda: server.demo_code("demo-counsellor"), code_attempts=1)
        return session, await enrol_device(session)  # the dev settings certify it at once (DEMO_AUTOCERTIFY)

    return Site(base_url=server.base_url, rows=lambda sql: query(server, sql), demo_password=server.demo_password,
                demo_code=server.demo_code, org_public_key=(server.var_dir / "org_public_key.txt").read_text().strip(),
                counsellor=counsellor)


def http(server: Site, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(server.base_url + path, data=body, method=method,
                                     headers={**CANARY_HEADERS, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def query(server: LiveServer, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(server.database)
    try:
        return list(connection.execute(sql).fetchall())
    finally:
        connection.close()


def first_module_slug(server: Site) -> str:
    return str(server.rows("SELECT slug FROM selfhelp_module ORDER BY id LIMIT 1")[0][0])


def self_help_visit(server: Site) -> None:
    slug = first_module_slug(server)
    assert http(server, "GET", "/en/?src=poster") == 200  # counted, then redirected without the code
    assert http(server, "GET", f"/en/help/modules/{slug}/") == 200
    assert http(server, "GET", "/nl/help/right-now/") == 200
    # The no-script self-check: a stateless post whose answers the server must not keep.
    answers = {str(key): "2" for (key,) in server.rows("SELECT key FROM selfhelp_selfcheckquestion")}
    assert answers, "the self-check questions were loaded"
    form = urllib.parse.urlencode({**answers, "note": CANARY_ANSWER}).encode()
    assert http(server, "POST", "/en/help/self-check/", form,
                {"Content-Type": "application/x-www-form-urlencoded"}) == 200
    beacon = json.dumps({"metric": "selfhelp.module_completed", "dimension": slug}).encode()
    assert http(server, "POST", "/count/", beacon, {"Content-Type": "application/json"}) == 204


async def chat_with_canary(server: Site) -> None:
    session, device = await server.counsellor()
    counsellor = CounsellorClient(session, device)
    await counsellor.open()
    await counsellor.set_available(True)
    visitor = VisitorClient(server.base_url, org_public_key=server.org_public_key, extra_headers=CANARY_HEADERS)
    try:
        await visitor.join("en")
        connected = await visitor.wait_for(Connected, timeout=30)
        await visitor.send_text(CANARY_SENTENCE)
        assert (await counsellor.wait_for(MessageReceived, timeout=30)).text == CANARY_SENTENCE
        await counsellor.send_text(connected.chat, CANARY_SENTENCE + " (reply)")
        assert (await visitor.wait_for(MessageReceived, timeout=30)).text == CANARY_SENTENCE + " (reply)"
        await counsellor.end(connected.chat, {"contact": "self"})
        assert (await visitor.wait_for(ChatEnded, timeout=30)).feedback
        assert await visitor.give_feedback(5, True) == 204
    finally:
        await visitor.close()
        await counsellor.close()


async def mailbox_with_canary(server: Site) -> None:
    """A secure-message thread: the visitor writes the canary, a counsellor answers, the visitor reads it.

    The thread is left in place, so the audit reads its ciphertext at rest."""
    session, device = await server.counsellor()
    counsellor = MailboxCounsellor(session, device, org_public_key=server.org_public_key)
    await counsellor.register()
    visitor = MailboxVisitor(server.base_url, org_public_key=server.org_public_key, extra_headers=CANARY_HEADERS)
    await visitor.write(CANARY_SENTENCE + " (mailbox)", lang="en", codename=CANARY_CODENAME)
    thread = next(entry["thread"] for entry in await counsellor.threads() if entry["state"] == "new")
    assert [m.text for m in await counsellor.read(thread)] == [CANARY_SENTENCE + " (mailbox)"]
    await counsellor.reply(thread, CANARY_SENTENCE + " (mailbox answer)")
    opened = await MailboxVisitor(server.base_url, org_public_key=server.org_public_key,
                                  extra_headers=CANARY_HEADERS).open(CANARY_CODENAME)
    assert [m.text for m in opened][-1] == CANARY_SENTENCE + " (mailbox answer)"


def statistics_export(server: Site) -> None:
    async def go() -> int:
        staff_url = server.staff_url or server.base_url
        session = await sign_in_staff(staff_url, "demo-manager", server.demo_password("demo-manager"),
                                      lambda: server.demo_code("demo-manager"), code_attempts=1)
        request = urllib.request.Request(staff_url + "/en/staff/stats/export.csv",
                                         headers={**CANARY_HEADERS, "Cookie": session.cookie_header()})
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status)

    assert asyncio.run(go()) == 200


def whole_visit(site: Site) -> None:
    """The scenario both audits run: self-help, the self-check, the beacon, a chat, feedback, a secure-message
    thread, an export."""
    self_help_visit(site)
    asyncio.run(chat_with_canary(site))
    asyncio.run(mailbox_with_canary(site))
    statistics_export(site)


def every_row(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(row) for table in tables
                         for row in connection.execute(f'SELECT * FROM "{table}"'))
    finally:
        connection.close()


def day_or_coarser_violations(database: Path) -> list[str]:
    """Columns of the mailbox's tables that could hold a time of day (only dates may be kept)."""
    connection = sqlite3.connect(database)
    try:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'securemessages_%'")]
        assert tables, "the mailbox's tables exist"
        return [f"{table}.{column[1]} {column[2]}" for table in tables
                for column in connection.execute(f'PRAGMA table_info("{table}")')
                if "time" in str(column[2]).lower()]
    finally:
        connection.close()


def every_file(var_dir: Path) -> str:
    texts = []
    for path in var_dir.rglob("*"):
        if path.is_file() and path.suffix != ".sqlite3":
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(texts)


def test_contract_privacy_audit_embedded(audited_server: LiveServer) -> None:
    whole_visit(embedded_site(audited_server))
    audited_server.stop()

    stored = every_row(audited_server.database)
    assert "site.referral" in stored and "chat.answered" in stored, "the visit was counted"
    assert "mailbox.threads_answered" in stored, "the secure-message thread was counted"
    assert not day_or_coarser_violations(audited_server.database), "a mailbox table holds a time finer than a day"
    logs = audited_server.output().replace(f"127.0.0.1:{audited_server.port}", "<server>")
    assert "POST /count/ 204" in logs, "the access log was on, so requests were logged (without addresses)"
    files = every_file(audited_server.var_dir)
    for canary in CANARIES:
        assert canary not in stored, f"{canary!r} in the database"
        assert canary not in logs, f"{canary!r} in the server's output"
        assert canary not in files, f"{canary!r} in a file the service wrote"
    # WAL/SHM files hold pages of the database itself; read them raw as well.
    for sidecar in audited_server.var_dir.glob("*.sqlite3*"):
        raw = sidecar.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in raw, f"{canary!r} in {sidecar.name}"
