"""Placeholder while the pages are being built."""

from django.http import Http404


def questionnaire_list(request, **kwargs):
    raise Http404


def questionnaire_edit(request, **kwargs):
    raise Http404
