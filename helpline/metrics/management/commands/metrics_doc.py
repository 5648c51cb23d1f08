"""Write docs/metrics.md from the metric catalogue (or, with --check, fail if it is out of date)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpline.metrics.docs import render


class Command(BaseCommand):
    help = "Generate docs/metrics.md from helpline/metrics/catalogue.py."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "docs" / "metrics.md"))
        parser.add_argument("--check", action="store_true", help="exit with an error if the file differs")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["output"])
        text = render()
        if options["check"]:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                raise CommandError(f"{path} is out of date: run `python manage.py metrics_doc`")
            return
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {path}")
