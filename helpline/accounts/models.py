"""Holds the service's own permissions; staff users are Django's, roles are groups (see roles.py)."""

from django.db import models


class StaffCapability(models.Model):
    """No table: exists so the capabilities below are real, assignable Django permissions."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("counsel", "Can take and answer chats"),
            ("supervise", "Can watch the queue and counsellor load and transfer chats"),
            ("view_statistics", "Can see and export aggregate statistics"),
        ]

    def __str__(self) -> str:
        return "staff capability"
