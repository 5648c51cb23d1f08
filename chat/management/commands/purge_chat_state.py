"""The periodic sweep: end chats whose visitor is gone, requeue chats whose counsellor is gone, count them.

Run it from cron or a systemd timer (every minute is plenty); the server also sweeps while sockets are open.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management.base import BaseCommand, CommandParser

from chat import actions
from chat.delivery import deliver


class Command(BaseCommand):
    help = "Remove abandoned chat state (counted as abandoned or timed out); optionally every chat older than N min."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-minutes", type=int, default=None,
                            help="also end every chat that began more than this many minutes ago")

    def handle(self, *args: Any, **options: Any) -> None:
        outcome, removed = actions.purge(actions.now(), options["older_than_minutes"])
        # With Redis the sockets hear about it; the in-memory layer belongs to the server process. Routing is
        # for the servers' clocks: this process serves no sockets.
        if get_channel_layer() is not None and not actions.single_process():
            outcome.queue_changed = False
            async_to_sync(deliver)(outcome)
        ended = sum(1 for event in outcome.events if event.type == "chat.ended")
        self.stdout.write(f"Swept: {ended} notice(s) for ended chats; {removed} old chat(s) ended.")
