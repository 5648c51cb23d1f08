"""Statistics pages for programme managers: /<lang>/staff/stats/…"""

from django.urls import path

from helpline.metrics import views

app_name = "metrics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path("export.xlsx", views.export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("export.json", views.export, {"fmt": "json"}, name="export_json"),
    path("report/", views.printable, name="report"),
]
