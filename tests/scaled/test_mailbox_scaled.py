"""Secure messages in the scaled mode: PostgreSQL, two Daphne processes and nginx. The visitor writes through
one Daphne, the counsellor reads and answers on the other, the visitor reads the answer and deletes the thread
through nginx; the generic answer and the counters are the same as in the embedded default."""

from __future__ import annotations

import pytest

from chat.client.mailbox import MailboxCounsellor, MailboxNotFound, MailboxVisitor
from tests.scaled.conftest import Deployment
from tests.scaled.test_chat_across_processes import sign_in_and_certify

pytestmark = pytest.mark.scaled

CANARY = "scaled mailbox canary: copper-heron-8842"


async def test_a_thread_across_daphne_processes_and_postgresql(scaled: Deployment) -> None:
    staff = await sign_in_and_certify(scaled, scaled.daphnes[1].base_url, "demo-counsellor")
    counsellor = MailboxCounsellor(staff.session, staff.device, org_public_key=scaled.org_public_key)
    await counsellor.register()

    visitor = MailboxVisitor(scaled.daphnes[0].base_url, org_public_key=scaled.org_public_key)
    codename = await visitor.write(CANARY, lang="en")
    thread = next(entry["thread"] for entry in await counsellor.threads() if entry["state"] == "new")
    assert [m.text for m in await counsellor.read(thread)] == [CANARY]
    await counsellor.reply(thread, CANARY + " answered")

    back = MailboxVisitor(scaled.nginx.base_url, org_public_key=scaled.org_public_key)
    assert [m.text for m in await back.open(codename)] == [CANARY, CANARY + " answered"]
    with scaled.postgres.connect() as connection:
        stored = connection.execute("SELECT ct FROM securemessages_message").fetchall()
        counts = dict(connection.execute(
            "SELECT metric, SUM(count) FROM metrics_dailycount WHERE metric LIKE 'mailbox.%%' GROUP BY metric"
        ).fetchall())
    assert stored and all("copper-heron" not in str(row[0]) for row in stored)
    assert counts["mailbox.threads_answered"] >= 1 and counts["mailbox.received"] >= 1

    await back.delete()
    with pytest.raises(MailboxNotFound):
        await MailboxVisitor(scaled.daphnes[1].base_url, org_public_key=scaled.org_public_key).open(codename)
    with scaled.postgres.connect() as connection:
        assert connection.execute("SELECT COUNT(*) FROM securemessages_thread WHERE id = %s",
                                  (thread,)).fetchone()[0] == 0
