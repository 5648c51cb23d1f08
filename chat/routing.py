"""Websocket routes: /ws/visitor/ (no cookie needed) and /ws/counsellor/ (staff with second factor)."""

from django.urls import path

websocket_urlpatterns: list = []  # type: ignore[type-arg]
