"""Unprefixed chat endpoints for scripts: proof-of-work challenges (protocol.md §9)."""


app_name = "chat_api"
urlpatterns: list = []  # type: ignore[type-arg]
