from django.urls import path

from linli.accounts import staff_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("first-sign-in/", staff_views.first_sign_in, name="first_sign_in"),
    path("staff/", staff_views.staff, name="staff"),
    path("staff/confirm/", staff_views.confirm_staff, name="staff_confirm"),
    path("staff/deactivate/", staff_views.deactivate, name="staff_deactivate"),
    path("staff/template.xlsx", staff_views.staff_template, name="staff_template"),
]
