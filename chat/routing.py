"""Websocket routes: /ws/visitor/ (no cookie needed) and /ws/counsellor/ (staff with second factor)."""

from django.urls import path

from chat import consumers

websocket_urlpatterns = [
    path("ws/visitor/", consumers.VisitorConsumer.as_asgi()),
    path("ws/counsellor/", consumers.CounsellorConsumer.as_asgi()),
]
