"""Unprefixed endpoints the visitor pages' scripts call to count things (no identifier, ever)."""

from django.urls import path

from helpline.metrics import views

app_name = "count"
urlpatterns = [
    path("", views.count_event, name="event"),
]
