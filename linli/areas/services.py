"""Writes to the area tree."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from linli.areas.models import (
    ADMINISTRATIVE_LEVELS,
    LEVEL_ORDER,
    PATH_SEGMENT_WIDTH,
    Area,
    AreaLevel,
)


def segment(position: int) -> str:
    """Returns the path segment for the n-th child (1-based)."""
    if not 1 <= position < 10**PATH_SEGMENT_WIDTH:
        raise ValidationError("too many children under one area / 下级区域过多")
    return f"{position:0{PATH_SEGMENT_WIDTH}d}."


def validate_placement(*, parent: Area | None, level: str, code: str) -> None:
    """Raises ValidationError when a level or code does not fit under the parent."""
    if parent is None:
        if level != AreaLevel.CITY:
            raise ValidationError({"parent": "只有市可以没有上级 / only a city has no parent"})
    elif LEVEL_ORDER.index(level) <= LEVEL_ORDER.index(parent.level):
        raise ValidationError(
            {"level": "下级区域的层级必须低于上级 / a child must sit below its parent's level"}
        )
    if level in ADMINISTRATIVE_LEVELS and code and not re.fullmatch(r"\d{12}", code):
        raise ValidationError({"code": "区划代码应为12位数字 / a division code has 12 digits"})


@transaction.atomic
def create_area(
    *,
    parent: Area | None,
    level: str,
    name: str,
    code: str = "",
    aliases: list[str] | None = None,
    floor: int | None = None,
) -> Area:
    """Creates an area under `parent` with the next free path segment."""
    validate_placement(parent=parent, level=level, code=code)
    if parent is not None:
        # Lock the parent so two concurrent creations cannot take the same segment.
        Area.objects.select_for_update().filter(pk=parent.pk).first()
        siblings = Area.objects.filter(parent=parent)
        prefix = parent.path
    else:
        siblings = Area.objects.filter(parent__isnull=True)
        prefix = ""
    last = siblings.order_by("-path").values_list("path", flat=True).first()
    position = int(last[-(PATH_SEGMENT_WIDTH + 1) : -1]) + 1 if last else 1
    area = Area(
        parent=parent,
        level=level,
        name=name.strip(),
        code=code,
        aliases=aliases or [],
        floor=floor,
        path=prefix + segment(position),
    )
    area.full_clean()
    area.save()
    return area


@transaction.atomic
def rename_area(*, area: Area, name: str, aliases: list[str] | None = None) -> Area:
    area.name = name.strip()
    if aliases is not None:
        area.aliases = aliases
    area.full_clean()
    area.save(update_fields=["name", "aliases"])
    return area
