from django.urls import path

from linli.voice import views

app_name = "voice"

urlpatterns = [
    # The phone robot of a campaign (campaign managers)
    path("campaigns/<int:campaign_id>/", views.robot_page, name="campaign"),
    path("campaigns/<int:campaign_id>/live/", views.robot_live, name="live"),
    path("campaigns/<int:campaign_id>/start/", views.robot_start, name="start"),
    path("campaigns/<int:campaign_id>/pause/", views.robot_pause, name="pause"),
    path("campaigns/<int:campaign_id>/settings/", views.robot_settings, name="settings"),
]
