"""Visitor pages: /<lang>/ and /<lang>/help/…"""

from django.urls import path

from selfhelp import views

app_name = "selfhelp"
urlpatterns = [
    path("", views.home, name="home"),
    path("help/right-now/", views.right_now, name="right_now"),
    path("help/modules/", views.module_list, name="module_list"),
    path("help/modules/<slug:slug>/", views.module_detail, name="module"),
    path("help/self-check/", views.self_check, name="self_check"),
    path("help/resources/", views.resources, name="resources"),
    path("help/safety-plan/", views.safety_plan, name="safety_plan"),
]
