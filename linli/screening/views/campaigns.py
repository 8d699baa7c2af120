"""Placeholder while the pages are being built."""

from django.http import Http404


def campaign_list(request, **kwargs):
    raise Http404


def campaign_create(request, **kwargs):
    raise Http404


def campaign_preview(request, **kwargs):
    raise Http404


def campaign_detail(request, **kwargs):
    raise Http404


def campaign_launch(request, **kwargs):
    raise Http404


def campaign_pause(request, **kwargs):
    raise Http404


def campaign_resume(request, **kwargs):
    raise Http404


def campaign_close(request, **kwargs):
    raise Http404
