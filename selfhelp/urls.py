"""Visitor pages: /<lang>/ and /<lang>/help/…"""

from django.urls import path

from selfhelp import views

app_name = "selfhelp"
urlpatterns = [
    path("", views.home, name="home"),
    path("help/right-now/", views.right_now, name="right_now"),
    path("help/modules/", views.module_list, name="module_list"),
]
