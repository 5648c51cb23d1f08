"""Websocket routes: /ws/visitor/ (no cookie needed) and /ws/counsellor/ (staff with second factor)."""


websocket_urlpatterns: list = []  # type: ignore[type-arg]
