"""Delete mailbox threads past retention (MAILBOX_RETENTION_DAYS after their last message), for cron."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from securemessages import actions


class Command(BaseCommand):
    help = "Delete mailbox threads whose last message is older than MAILBOX_RETENTION_DAYS (e.g. daily from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = actions.purge_expired(timezone.localdate())
        self.stdout.write(f"deleted {deleted} mailbox threads")
