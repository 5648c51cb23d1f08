"""Add a staff member with one or more roles, and print the link with which they enrol their authenticator."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpline.accounts.actions import ENROLMENT_LINK_HOURS, create_staff, issue_enrolment_link
from helpline.accounts.management.commands.enrolment_link import enrolment_link_message
from helpline.accounts.roles import ROLE_CAPABILITIES, assign_roles


class Command(BaseCommand):
    help = "Add a staff member (or change an existing one's roles)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", action="append", required=True, choices=sorted(ROLE_CAPABILITIES),
                            help="repeat for several roles")
        parser.add_argument("--password-env", default=None,
                            help="read the password from this environment variable instead of a prompt")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.contrib.auth import get_user_model

        username: str = options["username"]
        roles: list[str] = options["role"]
        existing = get_user_model().objects.filter(username=username).first()
        if existing is not None:
            assign_roles(existing, roles)
            self.stdout.write(f"{username} exists; roles set to {', '.join(roles)}.")
            return
        if options["password_env"]:
            password = os.environ.get(options["password_env"], "")
            if not password:
                raise CommandError(f"{options['password_env']} is empty")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        user, _created = create_staff(username, password, roles)
        self.stdout.write(f"Added {username} with roles {', '.join(roles)}.")
        self.stdout.write(enrolment_link_message(issue_enrolment_link(user), ENROLMENT_LINK_HOURS))
