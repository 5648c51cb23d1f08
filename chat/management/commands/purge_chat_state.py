"""The periodic sweep: end chats whose visitor is gone, requeue chats whose counsellor is gone, count them.

Run it from cron or a systemd timer (every minute is plenty); the server also sweeps while sockets are open.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management.base import BaseCommand, CommandParser

from chat import actions


class Command(BaseCommand):
    help = "Remove abandoned chat state (counted as abandoned or timed out); optionally every chat older than N min."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-minutes", type=int, default=None,
                            help="also end every chat that began more than this many minutes ago")

    def handle(self, *args: Any, **options: Any) -> None:
        outcome, removed = actions.purge(actions.now(), options["older_than_minutes"])
        layer = get_channel_layer()
        # With Redis the sockets hear about it; the in-memory layer belongs to the server process.
        if layer is not None and not actions._single_process():
            for note in outcome.notes:
                async_to_sync(layer.send)(note.channel, note.event)
        ended = sum(1 for note in outcome.notes if note.event["type"] == "chat.ended")
        self.stdout.write(f"Swept: {ended} notice(s) for ended chats; {removed} old chat(s) ended.")
