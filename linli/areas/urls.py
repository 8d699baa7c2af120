from django.urls import path

from linli.areas import views

app_name = "areas"

urlpatterns = [
    path("import/", views.import_tree, name="import"),
    path("import/confirm/", views.confirm_import, name="import_confirm"),
    path("import/template.xlsx", views.template, name="import_template"),
    path("import/refused.csv", views.refused_rows, name="import_refused"),
]
