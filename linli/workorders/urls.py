from django.urls import path

from linli.workorders import views

app_name = "workorders"

urlpatterns = [
    path("", views.my_orders, name="mine"),
    path("queue/", views.area_queue, name="queue"),
    path("notifications/", views.notifications, name="notifications"),
    path("<int:order_id>/", views.order_detail, name="detail"),
    path("<int:order_id>/<str:verb>/", views.order_action, name="action"),
]
