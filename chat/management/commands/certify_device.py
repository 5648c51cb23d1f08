"""Certify a counsellor device with the organisation private key file (kept offline in production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.api_views import certify
from chat.models import CounsellorDevice
from chat.protocol.crypto import CertificateError
from helpline.accounts.guessing import is_a_staff_username


class Command(BaseCommand):
    help = "Certify a pending counsellor device: sign its key and pseudonym with the organisation key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("device", help="device id (see list_devices)")
        parser.add_argument("--org-key", type=Path, required=True, help="organisation private key (PEM)")
        parser.add_argument("--pseudonym", required=True, help="the name visitors see (1–40 characters)")
        parser.add_argument("--days", type=int, default=90, help="valid for this many days (default 90)")

    def handle(self, *args: Any, **options: Any) -> None:
        device = CounsellorDevice.objects.filter(pk=options["device"]).first()
        if device is None:
            raise CommandError("no such device")
        if device.status == CounsellorDevice.REVOKED:
            raise CommandError("this device was revoked; the counsellor must register a new one")
        if is_a_staff_username(options["pseudonym"]):
            raise CommandError("the pseudonym is a staff username; visitors see it, so choose another name")
        if not 1 <= options["days"] <= 366:
            raise CommandError("--days must be from 1 to 366")
        try:
            key = serialization.load_pem_private_key(options["org_key"].read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as error:
            raise CommandError(f"cannot read the organisation key: {error}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CommandError("the organisation key must be a P-256 private key")
        try:
            certify(device, key, options["pseudonym"], options["days"])
        except (CertificateError, ValueError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Certified {device.id} as {device.pseudonym!r} until {device.not_after}.")
