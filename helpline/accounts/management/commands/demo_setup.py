"""Prepare the embedded default: demo organisation key and one demo staff member per role (idempotent)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from chat.org_key import DEMO_PUBLIC_KEY_FILE
from helpline.accounts.actions import create_staff
from helpline.accounts.management.commands.create_org_key import write_org_key
from helpline.accounts.roles import ADMIN, COUNSELLOR, PROGRAMME_MANAGER, SUPERVISOR

DEMO_STAFF = {
    "demo-counsellor": [COUNSELLOR],
    "demo-supervisor": [SUPERVISOR],
    "demo-manager": [PROGRAMME_MANAGER],
    "demo-admin": [ADMIN],
}


# The names visitors see in the demo (the demo certifies a counsellor's device under their first name).
# Never the username: a pseudonym is public, and a username is what password guessing needs.
DEMO_PSEUDONYMS = {
    "demo-counsellor": "Robin",
    "demo-supervisor": "Alex",
    "demo-manager": "Jo",
    "demo-admin": "Sam",
}


def demo_org_key_paths() -> tuple[Path, Path]:
    var = Path(settings.VAR_DIR)
    return var / "org_private_key.pem", var / DEMO_PUBLIC_KEY_FILE


def ensure_demo_credentials() -> dict[str, str]:
    path = Path(settings.VAR_DIR) / "demo_credentials.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    passwords = {username: secrets.token_urlsafe(12) for username in DEMO_STAFF}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(passwords, handle)
    return passwords


class Command(BaseCommand):
    help = "Create the demo organisation key and demo staff accounts, and say how to sign in as each."

    def handle(self, *args: Any, **options: Any) -> None:
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        private_path, public_path = demo_org_key_paths()
        if not private_path.exists():
            public_path.write_text(write_org_key(private_path) + "\n")
        passwords = ensure_demo_credentials()
        for username, roles in DEMO_STAFF.items():
            user, _created = create_staff(username, passwords[username], roles, with_totp=True)
            if not user.first_name:
                user.first_name = DEMO_PSEUDONYMS[username]
                user.save(update_fields=["first_name"])
        try:
            call_command("load_content", verbosity=0)
        except CommandError as error:
            raise CommandError(f"loading the self-help content failed: {error}") from None
        self.stdout.write("Demo staff (password, then a code from `make code USER=<name>`):")
        for username, roles in DEMO_STAFF.items():
            self.stdout.write(f"  {', '.join(roles):<18} {username:<16} password: {passwords[username]}")
