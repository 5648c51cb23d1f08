"""The four staff roles and what each may do, as data; groups are made from this table."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

COUNSELLOR = "counsellor"
SUPERVISOR = "supervisor"
PROGRAMME_MANAGER = "programme_manager"
ADMIN = "admin"

# role -> capabilities (codenames of accounts.StaffCapability permissions)
ROLE_CAPABILITIES: dict[str, tuple[str, ...]] = {
    COUNSELLOR: ("counsel",),
    SUPERVISOR: ("counsel", "supervise"),
    PROGRAMME_MANAGER: ("view_statistics",),
    ADMIN: ("counsel", "supervise", "view_statistics"),
}
ROLE_LABELS = {
    COUNSELLOR: _("Counsellor"),
    SUPERVISOR: _("Supervisor"),
    PROGRAMME_MANAGER: _("Programme manager"),
    ADMIN: _("Administrator"),
}
ROLE_DESCRIPTIONS = {
    COUNSELLOR: _("Take chats from the queue, answer, transfer, and end each chat with a wrap-up."),
    SUPERVISOR: _("Everything a counsellor does, plus a live view of the queue and counsellor load, and "
                  "transferring any chat."),
    PROGRAMME_MANAGER: _("See and export aggregate statistics. Never any single chat or visit."),
    ADMIN: _("Manage content, opening hours, canned responses and staff, and see statistics."),
}


def sync_role_groups(**_kwargs: Any) -> None:
    """Create or update one group per role with exactly its capabilities (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    for role, capabilities in ROLE_CAPABILITIES.items():
        group, _created = Group.objects.get_or_create(name=role)
        permissions = Permission.objects.filter(content_type__app_label="accounts", codename__in=capabilities)
        group.permissions.set(permissions)


def assign_roles(user: Any, roles: list[str]) -> None:
    """Give a user exactly these roles; admins also get Django's admin site (is_staff)."""
    from django.contrib.auth.models import Group

    unknown = sorted(set(roles) - set(ROLE_CAPABILITIES))
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLE_CAPABILITIES)}")
    sync_role_groups()
    user.groups.set(Group.objects.filter(name__in=roles))
    user.is_staff = ADMIN in roles
    user.is_superuser = ADMIN in roles
    user.save(update_fields=["is_staff", "is_superuser"])


def roles_of(user: Any) -> list[str]:
    if not getattr(user, "is_authenticated", False):
        return []
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in ROLE_CAPABILITIES if role in names]
