"""Visitor chat pages: /<lang>/help/chat/…"""

from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.visitor, name="visitor"),
]
