"""Unprefixed mailbox endpoints for scripts (docs/mailbox.md §6)."""

from django.urls import path

from securemessages import api_views

app_name = "securemessages_api"
urlpatterns = [
    path("pow/", api_views.pow_challenge, name="pow"),
    path("team/", api_views.team, name="team"),
    path("threads/", api_views.start, name="start"),
    path("open/", api_views.open_thread, name="open"),
    path("reply/", api_views.reply, name="reply"),
    path("delete/", api_views.delete, name="delete"),
    path("staff/device-key/", api_views.device_key, name="device_key"),
    path("staff/threads/", api_views.inbox, name="inbox"),
    path("staff/threads/<str:thread_id>/", api_views.thread_detail, name="thread"),
    path("staff/threads/<str:thread_id>/reply/", api_views.team_reply, name="team_reply"),
    path("staff/threads/<str:thread_id>/keys/", api_views.share_keys, name="share_keys"),
    path("staff/threads/<str:thread_id>/close/", api_views.close, name="close"),
]
