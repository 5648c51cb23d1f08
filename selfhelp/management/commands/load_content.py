"""Load the shipped self-help content into the database (idempotent)."""

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load shipped self-help content."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("No content loader yet.")
