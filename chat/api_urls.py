"""Unprefixed chat endpoints for scripts: proof of work (protocol.md §9), feedback, the device API, colleagues."""

from django.urls import path

from chat import api_views

app_name = "chat_api"
urlpatterns = [
    path("pow/", api_views.pow_challenge, name="pow"),
    path("feedback/", api_views.feedback, name="feedback"),
    path("device/", api_views.register_device, name="device"),
    path("device/<str:device>/", api_views.device_status, name="device_status"),
    path("colleagues/", api_views.colleagues, name="colleagues"),
]
