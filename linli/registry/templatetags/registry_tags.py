from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.core.jurisdiction import path_within
from linli.registry.forms import import_area_label
from linli.registry.models import VulnerableTag
from linli.registry.selectors import PersonFile

register = template.Library()


@register.filter
def within(area, user) -> bool:
    """Whether an area lies inside the user's jurisdiction (so it may be linked)."""
    return path_within(area.path, user)


@register.filter
def import_area(area) -> str:
    """Names an import's community, or its grid with the community (forms.import_area_label)."""
    return import_area_label(area)


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


# The matcher explains a pair with comparison names and levels; shown in the reader's language.
REASON_LABELS = {  # lazy: translated when shown
    "name": gettext_lazy("Name"),
    "name_pinyin": gettext_lazy("name (pinyin)"),
    "birth_date": gettext_lazy("Birth date"),
    "sex": gettext_lazy("Sex"),
    "region": gettext_lazy("region"),
    "region_code": gettext_lazy("region"),
    "phone": gettext_lazy("Phone"),
    "dwelling": gettext_lazy("Address"),
    "address": gettext_lazy("Address"),
    "exact": gettext_lazy("same"),
    "same": gettext_lazy("same"),
    "same_pinyin": gettext_lazy("same pronunciation"),
    "similar": gettext_lazy("similar"),
    "one_character_differs": gettext_lazy("one character differs"),
    "same_year": gettext_lazy("same year"),
    "same_building": gettext_lazy("same building"),
    "different": gettext_lazy("different"),
    "missing": gettext_lazy("missing"),
    "else": gettext_lazy("different"),
    "same_room_compound_unknown": gettext_lazy("same room, compound not given"),
}


@register.filter
def reason_label(code: str) -> str:
    return str(REASON_LABELS.get(code, code))
