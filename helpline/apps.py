"""The site itself as an app, so its templates, static files, translations and commands are found."""

from django.apps import AppConfig


class HelplineConfig(AppConfig):
    name = "helpline"
    verbose_name = "Helpline site"

    def ready(self) -> None:
        from helpline import disk_privacy

        disk_privacy.connect()

        # Registers the system check that refuses an unsafe production configuration.
        from helpline.settings import checks  # noqa: F401
