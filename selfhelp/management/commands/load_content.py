"""Load the shipped self-help content into the database (idempotent; operator edits are kept)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from selfhelp.loader import ContentError, load_all


class Command(BaseCommand):
    help = "Create missing self-help content and update shipped items no operator has edited."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = load_all()
        except ContentError as error:
            raise CommandError(str(error)) from None
        if options["verbosity"] >= 1:
            self.stdout.write(f"Self-help content: {len(report.created)} created, {len(report.updated)} updated, "
                              f"{len(report.kept_edited)} kept as edited in the admin.")
        if options["verbosity"] >= 2:
            for label in report.kept_edited:
                self.stdout.write(f"  kept (edited in admin): {label}")
