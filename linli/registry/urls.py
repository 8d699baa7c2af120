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
    path("households/<int:household_id>/change/", views.change_household, name="change_household"),
    path("people/<int:person_id>/choose/", views.choose_value, name="choose_value"),
    path("imports/", views.imports, name="imports"),
    path("imports/<int:batch_id>/", views.import_detail, name="import"),
    path("imports/<int:batch_id>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:batch_id>/rejected.csv", views.import_rejected, name="import_rejected"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<int:review_id>/", views.review_detail, name="review"),
    path("merges/<int:merge_id>/undo/", views.undo_merge, name="undo_merge"),
]
