"""Writes to the area tree; each creation or change is audited."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from linli.areas.models import (
    ADMINISTRATIVE_LEVELS,
    LEVEL_ORDER,
    PATH_SEGMENT_WIDTH,
    Area,
    AreaAction,
    AreaLevel,
)
from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext


def segment(position: int) -> str:
    """Returns the path segment for the n-th child (1-based)."""
    if not 1 <= position < 10**PATH_SEGMENT_WIDTH:
        raise ValidationError(_("Too many children under one area."))
    return f"{position:0{PATH_SEGMENT_WIDTH}d}."


def validate_placement(*, parent: Area | None, level: str, code: str) -> None:
    """Raises ValidationError when a level or code does not fit under the parent."""
    if parent is None:
        if level != AreaLevel.CITY:
            raise ValidationError({"parent": _("Only a city has no parent.")})
    elif LEVEL_ORDER.index(level) <= LEVEL_ORDER.index(parent.level):
        raise ValidationError({"level": _("A child must sit below its parent's level.")})
    if level in ADMINISTRATIVE_LEVELS and code and not re.fullmatch(r"\d{12}", code):
        raise ValidationError({"code": _("A division code has 12 digits.")})


@transaction.atomic
def create_area(
    *,
    parent: Area | None,
    level: str,
    name: str,
    code: str = "",
    aliases: list[str] | None = None,
    floor: int | None = None,
    by: Actor | None = None,
    context: AuditContext | None = None,
) -> Area:
    """Creates an area under `parent` with the next free path segment and records it.

    `by` is None when no one signed in does it (the demo, a command, a test's world). Returns
    the area. Raises ValidationError when it does not fit under the parent."""
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
    _record(AreaAction.CREATE_AREA, area=area, by=by, context=context)
    return area


@transaction.atomic
def update_area(
    *,
    area: Area,
    name: str,
    aliases: list[str],
    code: str,
    floor: int | None,
    by: Actor | None,
    context: AuditContext | None = None,
) -> Area:
    """Sets what may change of an area (name, aliases, code, floor); records the change.

    Its place in the tree never changes here: that would re-path its whole subtree. Returns
    the area. Raises ValidationError for a malformed code."""
    before = {"name": area.name, "code": area.code, "floor": area.floor}
    validate_placement(parent=area.parent, level=area.level, code=code)
    area.name, area.aliases, area.code, area.floor = name.strip(), aliases, code, floor
    area.full_clean()
    area.save(update_fields=["name", "aliases", "code", "floor"])
    _record(AreaAction.UPDATE_AREA, area=area, by=by, context=context, detail={"before": before})
    return area


def _record(
    action: str,
    *,
    area: Area,
    by: Actor | None,
    context: AuditContext | None,
    detail: dict[str, object] | None = None,
) -> None:
    record_event(
        action=action,
        actor=by,
        context=context,
        subject=area,
        detail=detail,
    )
