"""Statistics pages for programme managers: /<lang>/staff/stats/…"""

from django.urls import path

from helpline.metrics import views

app_name = "metrics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
