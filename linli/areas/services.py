"""Writes to the area tree; each creation or change is audited."""

import json
import re

from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext_lazy as _

from linli.areas.importing.plan import Node, Plan
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
from linli.core.bulkload import allocate_ids, insert_tuples
from linli.core.permissions import require
from linli.core.roles import Role

# Who may load the tree from files: a data steward, or an official above the community (each
# only inside their own jurisdiction, which the plan checks row by row).
TREE_IMPORTERS = (
    Role.DATA_STEWARD,
    Role.STREET_OFFICER,
    Role.DISTRICT_OFFICER,
    Role.CITY_OFFICER,
)


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


def _rows_storing_paths() -> list[tuple[type[models.Model], str]]:
    """Returns (model, field) for every column outside the tree that stores an area path.

    Found from the models themselves (a field named area_path, or the one a model's
    `jurisdiction_path` names), so an app added later is covered without telling this one.
    The audit log is left as it was written: it is append-only, and an event keeps the path
    the area had when it happened (the move's own event records both)."""
    found = []
    for model in django_apps.get_models():
        if model is Area or model._meta.app_label == "audit":
            continue
        names = {"area_path", getattr(model, "jurisdiction_path", "")}
        for field in model._meta.concrete_fields:
            if field.name in names and isinstance(field, models.CharField):
                found.append((model, field.name))
    return found


def _repath(old: str, new: str) -> int:
    """Rewrites every stored path under `old` to start with `new`; returns the rows changed."""

    def moved(column: str) -> Concat:
        return Concat(Value(new), Substr(column, len(old) + 1), output_field=models.CharField())

    changed = Area.objects.filter(path__startswith=old).update(path=moved("path"))
    for model, column in _rows_storing_paths():
        changed += model._base_manager.filter(**{f"{column}__startswith": old}).update(
            **{column: moved(column)}
        )
    return changed


def _next_segment(parent: Area) -> str:
    last = (
        Area.objects.filter(parent=parent).order_by("-path").values_list("path", flat=True).first()
    )
    position = int(last[-(PATH_SEGMENT_WIDTH + 1) : -1]) + 1 if last else 1
    return parent.path + segment(position)


@transaction.atomic
def move_area(
    *, area: Area, parent: Area, by: Actor | None, context: AuditContext | None = None
) -> Area:
    """Puts an area (and everything below it) under another parent and records it.

    Everything attached stays attached: the subtree's paths and every row that stores one
    (people, households, campaign targets, work orders…) are rewritten to the new prefix in
    this transaction. Returns the area. Raises ValidationError when the parent's level does
    not fit or the parent lies inside the area."""
    area = Area.objects.select_for_update().get(pk=area.pk)
    parent = Area.objects.select_for_update().get(pk=parent.pk)
    if area.parent_id == parent.pk:
        return area
    if parent.path.startswith(area.path):
        raise ValidationError({"parent": _("An area cannot move inside itself.")})
    validate_placement(parent=parent, level=area.level, code=area.code)
    old, new = area.path, _next_segment(parent)
    before = {"parent": area.parent.name if area.parent else "", "path": old}
    rows = _repath(old, new)
    Area.objects.filter(pk=area.pk).update(parent=parent)
    area.refresh_from_db()
    _record(
        AreaAction.MOVE_AREA,
        area=area,
        by=by,
        context=context,
        detail={"before": before, "parent": parent.name, "path": new, "rows": rows},
    )
    return area


@transaction.atomic
def import_area_tree(
    *, plan: Plan, file_name: str, by: Actor | None, context: AuditContext | None = None
) -> dict[str, int]:
    """Writes a plan (linli.areas.importing.plan.plan_import) in one transaction: renames,
    codes and aliases of existing areas, moves, then the new areas level by level. A plan with
    refused rows is not written (nothing half-imported). Records each change of an existing
    area, and one event for the import. Returns counts {created, renamed, moved, …}; a plan
    with nothing to change writes nothing. Raises ValidationError for a plan with errors and
    PermissionDenied for an importer whose role may not change the tree."""
    if by is not None:
        require(by, roles=TREE_IMPORTERS, paths=_touched_paths(plan))
    if plan.errors:
        raise ValidationError(_("Correct the refused rows first."))
    counts = {
        "created": len(plan.creates),
        "renamed": len(plan.renames),
        "recoded": len(plan.recodes),
        "moved": len(plan.moves),
        "aliases": len(plan.alias_additions),
    }
    if not plan.changes:
        return counts
    # Codes are unique: free the ones that change hands before giving them out again.
    recoded = {node.pk for node, _old in plan.recodes}
    updated = {node.pk for node, _old in plan.renames} | recoded
    updated |= {node.pk for node, _added in plan.alias_additions}
    if recoded:
        Area.objects.filter(pk__in=recoded).update(code=Concat(Value("~"), "pk"))
    for node in plan.existing:
        if node.pk not in updated or node.original is None:
            continue
        Area.objects.filter(pk=_pk(node)).update(
            name=node.name, code=node.code, aliases=list(node.aliases)
        )
        area = Area.objects.get(pk=_pk(node))
        before = {"name": node.original[0], "code": node.original[1]}
        _record(
            AreaAction.UPDATE_AREA, area=area, by=by, context=context, detail={"before": before}
        )
    moves = {node.pk: node for node, _old in plan.moves}
    for level in LEVEL_ORDER:
        for node in plan.existing:
            if node.pk in moves and node.level == level and node.parent is not None:
                move_area(
                    area=Area.objects.get(pk=_pk(node)),
                    parent=Area.objects.get(pk=_pk(node.parent)),
                    by=by,
                    context=context,
                )
        _create_level([n for n in plan.creates if n.level == level])
    touched = [n.pk for n in plan.creates] + [n.pk for n in plan.existing if n.pk in updated]
    touched += list(moves)
    paths = Area.objects.filter(pk__in=touched).values_list("path", flat=True)
    record_event(
        action=AreaAction.IMPORT_AREAS,
        actor=by,
        context=context,
        object_type="area_import",
        object_label=file_name,
        # Filed under the highest area the import touched, where its readers will look.
        area_path=min(paths, key=len, default=""),
        detail={**counts, "file": file_name, "levels": plan.created_counts},
    )
    return counts


def _touched_paths(plan: Plan) -> set[str]:
    """The existing areas a plan writes into: each new area's nearest existing ancestor, each
    changed area and each move's destination (the plan checked them row by row; the write
    checks them again, so no plan made for someone else can be written)."""

    def existing(node: Node | None) -> str:
        while node is not None and node.pk is None:
            node = node.parent
        return node.path if node is not None else ""

    paths = {existing(n.parent) for n in plan.creates}
    paths |= {n.path for n, _old in [*plan.renames, *plan.recodes, *plan.alias_additions]}
    paths |= {n.path for n, _old in plan.moves} | {existing(n.parent) for n, _old in plan.moves}
    return paths


def _pk(node: Node) -> int:
    """The id of a node that exists by now (existing, or created at a higher level)."""
    if node.pk is None:
        raise ValueError(f"{node.names} was not created")
    return node.pk


_AREA_COLUMNS = ["id", "parent_id", "level", "name", "code", "aliases", "floor", "path"]


def _create_level(nodes: list[Node]) -> None:
    """Creates one level's new areas in bulk, each at the next free segment of its parent."""
    if not nodes:
        return
    parent_ids = {n.parent.pk for n in nodes if n.parent is not None}
    paths = dict(Area.objects.filter(pk__in=parent_ids).values_list("pk", "path"))
    last = dict(
        Area.objects.filter(parent_id__in=parent_ids)
        .values("parent_id")
        .annotate(last=Max("path"))
        .values_list("parent_id", "last")
    )
    if any(n.parent is None for n in nodes):
        roots = Area.objects.filter(parent__isnull=True).aggregate(last=Max("path"))["last"]
        last[None] = roots
    taken: dict[int | None, int] = {
        key: int(path[-(PATH_SEGMENT_WIDTH + 1) : -1]) for key, path in last.items() if path
    }
    # Tuples straight to COPY (PostgreSQL) or executemany: a district has half a million
    # dwellings, and building a model instance for each costs more than writing it.
    ids = allocate_ids(Area, len(nodes))
    rows = []
    for node, pk in zip(nodes, ids, strict=True):
        key = node.parent.pk if node.parent is not None else None
        taken[key] = taken.get(key, 0) + 1
        node.pk = pk
        node.path = (paths[key] if key is not None else "") + segment(taken[key])
        aliases = json.dumps(list(node.aliases), ensure_ascii=False)
        rows.append((pk, key, node.level, node.name, node.code, aliases, node.floor, node.path))
    insert_tuples(Area, _AREA_COLUMNS, rows)
