"""Placeholder, filled in with the pages."""

from django.http import HttpResponse


def my_orders(request):
    return HttpResponse()


area_queue = notifications = my_orders


def order_detail(request, order_id):
    return HttpResponse()


def order_action(request, order_id, verb):
    return HttpResponse()
