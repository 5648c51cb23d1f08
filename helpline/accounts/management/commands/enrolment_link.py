"""Issue a staff member a single-use, expiring link with which they enrol their authenticator app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpline.accounts.actions import ENROLMENT_LINK_HOURS, issue_enrolment_link


class Command(BaseCommand):
    help = ("Print a link with which a staff member sets up their authenticator app: once, after their password, "
            "within --hours. It replaces any app they had (a lost phone) and any earlier link.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--hours", type=int, default=ENROLMENT_LINK_HOURS,
                            help=f"valid for this many hours (default {ENROLMENT_LINK_HOURS}, at most 336)")
        parser.add_argument("--lang", default=settings.LANGUAGE_CODE, choices=[code for code, _ in settings.LANGUAGES])
        parser.add_argument("--base-url", default="", help="the site's address, e.g. https://help.example.org")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.contrib.auth import get_user_model

        if not 1 <= options["hours"] <= 336:
            raise CommandError("--hours must be from 1 to 336")
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no staff member called {options['username']!r}")
        path = issue_enrolment_link(user, lang=options["lang"], hours=options["hours"])
        self.stdout.write(enrolment_link_message(options["base_url"].rstrip("/") + path, options["hours"]))


def enrolment_link_message(link: str, hours: int) -> str:
    where = "" if link.startswith("http") else " (put the site's address in front)"
    return (f"Enrolment link{where}, valid once for {hours} hours; give it only to them:\n  {link}")
