"""Revoke a counsellor device: it can no longer accept chats; its chats go back to the queue at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from chat.models import Chat, CounsellorDevice


class Command(BaseCommand):
    help = "Revoke a counsellor device (lost laptop, leaver). The certificate is removed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("device", help="device id (see list_devices)")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        device = CounsellorDevice.objects.filter(pk=options["device"]).first()
        if device is None:
            raise CommandError("no such device")
        device.status = CounsellorDevice.REVOKED
        device.certificate = None
        device.save(update_fields=["status", "certificate"])
        # Chats keyed by this device lose their counsellor; the sweep returns them to the front of the queue.
        long_ago = timezone.now() - dt.timedelta(days=1)
        held = Chat.objects.filter(device=device).update(counsellor_left_at=long_ago)
        self.stdout.write(f"Revoked {device.id}; {held} chat(s) will return to the queue.")
