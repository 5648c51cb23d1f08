"""Visitor chat pages: /<lang>/help/chat/… (the page, and the module that pins the organisation key)."""

from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.visitor, name="visitor"),
    path("org-key.js", views.org_key, name="org_key"),
]
