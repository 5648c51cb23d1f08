"""Print the SHA-256 and SRI (SHA-384) hash of every file a browser may load from us, under the URL it loads.

That is every collected static file under its content-hashed name (the only names pages use) and the org-key
module in each language. Module files are served byte for byte as they are in the repository, so their hashes
can be checked against a checkout. People who want to be sure the pages they were served are the published
code compare these hashes with what their browser received (by hand, or with a tool such as WEBCAT or Code
Verify); browsers already refuse any script whose hash differs from the one its page names.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from helpline.assets import published_hashes


class Command(BaseCommand):
    help = "List the hash of every file a browser may load (JSON with --json), to publish beside each release."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from chat.views import org_key_modules

        hashes = published_hashes(org_key_modules())
        if options["json"]:
            self.stdout.write(json.dumps(hashes, indent=2))
            return
        for url, digests in hashes.items():
            self.stdout.write(f"{digests['sha256']}  {url}")
