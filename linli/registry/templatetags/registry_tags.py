from django import template
from django.utils.translation import gettext as _

from linli.core.jurisdiction import path_within
from linli.registry.models import VulnerableTag
from linli.registry.selectors import PersonFile

register = template.Library()


@register.filter
def within(area, user) -> bool:
    """Whether an area lies inside the user's jurisdiction (so it may be linked)."""
    return path_within(area.path, user)


@register.filter
def tag_rows(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    labels = dict(VulnerableTag.choices)
    return [(tag, labels[tag], n) for tag, n in counts.items()]


@register.filter
def identifier_rows(file: PersonFile) -> list[tuple[str, str, str]]:
    return [
        ("id_number", _("ID number"), file.row.id_number),
        ("phone", _("Phone"), file.row.phone),
    ]


@register.filter
def lookup_value(values: dict, key: str) -> str:
    return values.get(key, "")
