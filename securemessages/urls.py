"""Visitor pages: /<lang>/help/message/…"""

from django.urls import path

from securemessages import views

app_name = "securemessages"
urlpatterns = [
    path("", views.visitor, name="visitor"),
    path("about/", views.about, name="about"),
]
