"""Print the SHA-256 and SRI (SHA-384) hash of every static asset, for publishing and checking.

People who want to be sure the pages they were served are the published code compare these hashes
with what their browser received (by hand, or with a tool such as WEBCAT or Code Verify).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from django.contrib.staticfiles import finders
from django.core.management.base import BaseCommand, CommandParser


def static_asset_hashes() -> dict[str, dict[str, str]]:
    """Path → {sha256, sri} for every file the static finders serve, sorted by path."""
    hashes: dict[str, dict[str, str]] = {}
    for finder in finders.get_finders():
        for path, storage in finder.list(ignore_patterns=["*.po", "*.mo"]):
            if path in hashes:
                continue  # the first finder wins, exactly as when serving
            with storage.open(path) as handle:
                content = handle.read()
            hashes[path] = {
                "sha256": hashlib.sha256(content).hexdigest(),
                "sri": "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode(),
            }
    return dict(sorted(hashes.items()))


class Command(BaseCommand):
    help = "List the hash of every static asset (JSON with --json), to publish beside each release."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        hashes = static_asset_hashes()
        if options["json"]:
            self.stdout.write(json.dumps(hashes, indent=2))
            return
        for path, digests in hashes.items():
            self.stdout.write(f"{digests['sha256']}  {path}")
