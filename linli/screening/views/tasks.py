"""Placeholder while the pages are being built."""

from django.http import Http404


def task_list(request, **kwargs):
    raise Http404


def task_done(request, **kwargs):
    raise Http404
