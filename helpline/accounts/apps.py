"""App config: keeps the role groups in step with roles.py after every migrate."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "helpline.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"

    def ready(self) -> None:
        from helpline.accounts.roles import sync_role_groups

        post_migrate.connect(sync_role_groups, sender=self)
