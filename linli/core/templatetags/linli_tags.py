"""Template filters every app's pages use."""

from django import template

register = template.Library()


@register.filter
def lookup(mapping: dict, key: str) -> str:
    """Returns mapping[key], or "" when absent (templates cannot index by a variable)."""
    return mapping.get(key, "")
