"""Service levels (时限) per priority class, configurable per area.

An area's own ServiceLevel row wins; without one, the nearest ancestor's; without any, the
defaults below. The ladder is part of the level: whom to notify, how long after the order
started waiting, and how often a step nobody acknowledged is sent again.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from linli.areas.models import PATH_SEGMENT_WIDTH, Area
from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext
from linli.core.permissions import require
from linli.workorders.models import LadderRung, Priority, ServiceLevel, WorkOrderAction
from linli.workorders.roles import MANAGERS

R = LadderRung


@dataclass(frozen=True)
class Level:
    """A priority class's service level as it applies to one area."""

    priority: str
    accept_minutes: int
    done_minutes: int
    ladder: tuple[tuple[int, str], ...]  # (minutes after the start, LadderRung), in order
    repeat_minutes: int

    @property
    def accept_within(self) -> timedelta:
        return timedelta(minutes=self.accept_minutes)

    @property
    def done_within(self) -> timedelta:
        return timedelta(minutes=self.done_minutes)

    def plan(self) -> dict:
        """Returns the ladder as an order stores it (WorkOrder.escalation_plan)."""
        return {"steps": [list(step) for step in self.ladder], "repeat": self.repeat_minutes}


DEFAULT_LEVELS: dict[str, Level] = {
    # Urgent medical: a dialysis ride, a birth, chest pain. Somebody must have it in 10 min.
    Priority.P0: Level(
        Priority.P0,
        accept_minutes=10,
        done_minutes=120,
        ladder=(
            (0, R.ASSIGNEE),
            (5, R.COMMUNITY_LEAD),
            (15, R.STREET_OFFICER),
            (30, R.DISTRICT_OFFICER),
        ),
        repeat_minutes=5,
    ),
    Priority.P1: Level(
        Priority.P1,
        accept_minutes=60,
        done_minutes=12 * 60,
        ladder=(
            (0, R.ASSIGNEE),
            (30, R.COMMUNITY_LEAD),
            (60, R.STREET_OFFICER),
            (180, R.DISTRICT_OFFICER),
        ),
        repeat_minutes=15,
    ),
    Priority.P2: Level(
        Priority.P2,
        accept_minutes=4 * 60,
        done_minutes=48 * 60,
        ladder=((0, R.ASSIGNEE), (120, R.COMMUNITY_LEAD), (240, R.STREET_OFFICER)),
        repeat_minutes=60,
    ),
}


def ancestor_paths(path: str) -> list[str]:
    """Returns the paths of an area and its ancestors, the root first."""
    step = PATH_SEGMENT_WIDTH + 1
    return [path[: step * i] for i in range(1, len(path) // step + 1)]


def _level_of(row: ServiceLevel) -> Level:
    return Level(
        row.priority,
        accept_minutes=row.accept_minutes,
        done_minutes=row.done_minutes,
        ladder=tuple((int(after), str(rung)) for after, rung in row.ladder)
        or DEFAULT_LEVELS[row.priority].ladder,
        repeat_minutes=row.repeat_minutes,
    )


def level_for(area_path: str, priority: str) -> Level:
    """Returns the service level of `priority` at an area: its own setting, else its nearest
    ancestor's, else the default. Raises KeyError for an unknown priority."""
    default = DEFAULT_LEVELS[priority]
    rows = ServiceLevel.objects.filter(
        area_path__in=ancestor_paths(area_path), priority=priority
    ).order_by("-area_path")
    row = rows.first()  # the longest path is the nearest ancestor
    return _level_of(row) if row is not None else default


def _clean_ladder(ladder: list[tuple[int, str]]) -> list[list]:
    cleaned: list[list] = []
    last = -1
    for after, rung in ladder:
        if rung not in LadderRung.values:
            raise ValidationError({"ladder": _("Unknown ladder step %(rung)s") % {"rung": rung}})
        if int(after) < 0 or int(after) <= last:
            raise ValidationError({"ladder": _("Ladder steps must come later and later")})
        last = int(after)
        cleaned.append([int(after), rung])
    return cleaned


@transaction.atomic
def set_service_level(
    *,
    area: Area,
    priority: str,
    accept_minutes: int,
    done_minutes: int,
    ladder: list[tuple[int, str]] | None = None,
    repeat_minutes: int | None = None,
    by: Actor,
    context: AuditContext | None = None,
) -> ServiceLevel:
    """Sets an area's service level for a priority class (its subtree follows unless a lower
    area sets its own). Orders already waiting keep the level they started with.

    Raises PermissionDenied unless `by` manages the area; ValidationError for an unknown
    priority, times that are not positive or a done time shorter than the accept time, or a
    ladder whose steps are unknown or not in increasing order.
    """
    require(by, roles=MANAGERS, paths=[area.path])
    if priority not in Priority.values:
        raise ValidationError({"priority": _("Unknown priority %(p)s") % {"p": priority}})
    if accept_minutes <= 0 or done_minutes <= 0:
        raise ValidationError({"accept_minutes": _("Times must be at least one minute")})
    if done_minutes < accept_minutes:
        raise ValidationError({"done_minutes": _("The done time must not be shorter")})
    default = DEFAULT_LEVELS[priority]
    steps = _clean_ladder(list(ladder)) if ladder else []
    repeat = repeat_minutes if repeat_minutes is not None else default.repeat_minutes
    if repeat <= 0:
        raise ValidationError({"repeat_minutes": _("Times must be at least one minute")})
    row, _created = ServiceLevel.objects.update_or_create(
        area=area,
        priority=priority,
        defaults={
            "area_path": area.path,
            "accept_minutes": accept_minutes,
            "done_minutes": done_minutes,
            "ladder": steps,
            "repeat_minutes": repeat,
        },
    )
    record_event(
        action=WorkOrderAction.SERVICE_LEVEL,
        actor=by,
        context=context,
        subject=row,
        detail={
            "priority": priority,
            "accept_minutes": accept_minutes,
            "done_minutes": done_minutes,
            "ladder": steps,
            "repeat_minutes": repeat,
        },
    )
    return row
