"""Print the current authenticator code of a demo staff member (embedded default only)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP

from helpline.accounts.actions import confirmed_totp_device
from helpline.accounts.management.commands.demo_setup import DEMO_STAFF


class Command(BaseCommand):
    help = "Show the current six-digit code for a demo account, standing in for an authenticator app."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", choices=sorted(DEMO_STAFF))

    def handle(self, *args: Any, **options: Any) -> None:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=options["username"]).first()
        device = confirmed_totp_device(user) if user else None
        if device is None:
            raise CommandError("No such demo account yet; run `make run` (or `manage.py demo_setup`) first.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time()
        remaining = device.step - int(time.time() - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}  (valid for about {remaining} more seconds)")
