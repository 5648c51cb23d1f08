from django.apps import AppConfig


class SecureMessagesConfig(AppConfig):
    name = "securemessages"
    verbose_name = "Secure messages (mailbox)"

    def ready(self) -> None:
        from securemessages import erasure

        erasure.connect()
