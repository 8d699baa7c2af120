"""Placeholder while the pages are being built."""

from django.http import Http404


def send_links(request, **kwargs):
    raise Http404


def h5_page(request, **kwargs):
    raise Http404


def h5_answer(request, **kwargs):
    raise Http404
