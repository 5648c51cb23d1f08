"""Websocket routes: /ws/visitor/ (no cookie read) and /ws/counsellor/ (staff with second factor)."""

from django.urls import path

from chat import consumers

# No session middleware on either: a visitor socket reads no cookie, even in a browser that has one (a staff
# member trying the visitor chat); the counsellor socket's gate reads the session cookie itself, on the
# database thread with the socket's other database work, and the socket keeps only what it decided
# (chat.consumers.counsellor_gate). Nothing of a session or user lives as long as a socket
# (docs/performance.md, memory per chat).
websocket_urlpatterns = [
    path("ws/visitor/", consumers.VisitorConsumer.as_asgi()),
    path("ws/counsellor/", consumers.CounsellorConsumer.as_asgi()),
]
