from django.urls import path

from linli.reports import views

app_name = "reports"

urlpatterns = [path("", views.home, name="home")]
