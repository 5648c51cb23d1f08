"""Counsellor and supervisor pages: /<lang>/staff/chat/…"""

from django.urls import path

from chat import views

app_name = "chat_staff"
urlpatterns = [
    path("", views.console, name="console"),
    path("supervise/", views.supervise, name="supervise"),
    path("wrapup/", views.late_wrapup, name="wrapup"),
]
