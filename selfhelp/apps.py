from django.apps import AppConfig


class SelfhelpConfig(AppConfig):
    name = "selfhelp"
    verbose_name = "Self-help"
