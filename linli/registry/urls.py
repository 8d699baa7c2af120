from django.urls import path

from linli.registry import views

app_name = "registry"

urlpatterns = [
    path("areas/", views.area_roots, name="areas"),
    path("areas/<int:area_id>/", views.area_detail, name="area"),
    path("people/", views.people, name="people"),
    path("people/<int:person_id>/", views.person_detail, name="person"),
    path("people/<int:person_id>/reveal/", views.reveal, name="reveal"),
    path("households/", views.households, name="households"),
    path("households/<int:household_id>/", views.household_detail, name="household"),
]
