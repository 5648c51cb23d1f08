"""Make the organisation's signing key pair: private key to a 0600 file, public key printed."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand, CommandError, CommandParser


def write_org_key(private_path: Path) -> str:
    """Write a new P-256 private key (PKCS#8 PEM, mode 0600) and return the public key as b64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never overwrite an organisation key; the mode is set before a byte is written.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return public_key_b64(key.public_key())


def public_key_b64(public_key: ec.EllipticCurvePublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Command(BaseCommand):
    help = "Create the organisation key pair. Keep the private key file offline; put the public key in settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("private_key_file", type=Path, help="where to write the private key (must not exist)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["private_key_file"]
        if path.exists():
            raise CommandError(f"{path} already exists; refusing to overwrite an organisation key")
        public = write_org_key(path)
        self.stdout.write(f"Private key written to {path} (mode 0600). Keep it offline.")
        self.stdout.write("Set this in the environment of every server:")
        self.stdout.write(f"HELPLINE_ORG_PUBLIC_KEY={public}")
