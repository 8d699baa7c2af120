"""Placeholder while the pages are being built."""

from django.http import Http404


def door_knock_page(request, **kwargs):
    raise Http404


def door_knock_submit(request, **kwargs):
    raise Http404
