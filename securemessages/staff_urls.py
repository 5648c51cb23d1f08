"""Counsellors' page: /<lang>/staff/messages/"""

from django.urls import path

from securemessages import views

app_name = "securemessages_staff"
urlpatterns = [
    path("", views.inbox, name="inbox"),
]
