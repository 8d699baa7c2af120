from django import template

register = template.Library()


@register.filter
def lookup(mapping: dict, key: str) -> str:
    return mapping.get(key, "")
