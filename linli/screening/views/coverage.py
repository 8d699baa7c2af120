"""Placeholder while the pages are being built."""

from django.http import Http404


def coverage_page(request, **kwargs):
    raise Http404


def coverage_live(request, **kwargs):
    raise Http404


def export_results(request, **kwargs):
    raise Http404
