"""List counsellor devices with their status, so an operator can certify pending ones."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from chat.models import CounsellorDevice


class Command(BaseCommand):
    help = "List counsellor devices (id, user, status, pseudonym, valid until)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", choices=[s for s, _ in CounsellorDevice.STATUSES])

    def handle(self, *args: Any, **options: Any) -> None:
        devices = CounsellorDevice.objects.select_related("user").order_by("user__username", "id")
        if options["status"]:
            devices = devices.filter(status=options["status"])
        for device in devices:
            until = device.not_after.isoformat() if device.not_after else "-"
            self.stdout.write(f"{device.id}  {device.user.username:<20} {device.status:<9} "
                              f"{device.pseudonym or '-':<20} {until}")
        if not devices:
            self.stdout.write("No devices.")
