"""Holds the service's own permissions; staff users are Django's, roles are groups (see roles.py)."""

from django.conf import settings
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


class EnrolmentInvitation(models.Model):
    """An administrator's single-use, expiring permission for one person to enrol an authenticator app.

    Only a hash of the link's token is kept; the link itself is shown once, to whoever issued it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"enrolment link for user {self.user_id}"
