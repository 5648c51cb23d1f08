"""A routing pass is one transaction: when the database refuses part of it, nothing of it is kept.

Before, each offer of a pass was committed on its own. A pass that failed after its first offer (SQLite's
write lock taken by another thread past the busy timeout, say) left that chat offered in the database
while its offer was never sent: the visitor waited until the sweep took the offer back a minute later.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from chat import actions
from chat.models import Chat
from tests.unit.test_chat_language_routing import available, staff, waiting_chat

REFUSE_OFFER = """CREATE TRIGGER refuse_offer BEFORE UPDATE OF state ON {table}
                  WHEN NEW.id = '{chat}' AND NEW.state = 'offered' BEGIN SELECT RAISE(ABORT, 'refused'); END"""


@pytest.mark.django_db(transaction=True)  # autocommit, as in the server
def test_a_routing_pass_that_fails_part_way_leaves_every_chat_as_it_was() -> None:
    moment = timezone.now()
    first, second = waiting_chat("en", 2, moment), waiting_chat("en", 1, moment)
    available(staff("counsellor-a"), "socket.a", moment, minutes_ago=2)
    available(staff("counsellor-b"), "socket.b", moment, minutes_ago=1)
    with connection.cursor() as cursor:  # the database refuses the second offer of the pass
        cursor.execute(REFUSE_OFFER.format(table=Chat._meta.db_table, chat=second.id))

    with pytest.raises(DatabaseError):
        actions.route(moment)
    assert set(Chat.objects.values_list("state", flat=True)) == {Chat.QUEUED}

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_offer")
    outcome = actions.route(moment)  # the next pass offers both, and says so
    assert set(Chat.objects.values_list("state", flat=True)) == {Chat.OFFERED}
    assert sorted(event.message["chat"] for event in outcome.events) == sorted([first.id, second.id])
