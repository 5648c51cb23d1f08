"""Staff sign-in and home: /<lang>/staff/…"""

from django.urls import path

from helpline.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.StaffLoginView.as_view(), name="login"),
    path("sign-in/second-factor/", views.second_factor, name="second_factor"),
    path("enrol/<str:token>/", views.enrol, name="enrol"),
    path("sign-out/", views.sign_out, name="logout"),
    path("recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("recovery-codes/new/", views.regenerate_recovery_codes, name="regenerate_recovery_codes"),
]
