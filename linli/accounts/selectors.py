"""Reads of staff accounts."""

from collections import defaultdict

from linli.accounts.models import AreaAssignment
from linli.areas.models import Area


def staff_in_charge(areas: list[Area]) -> dict[int, list[AreaAssignment]]:
    """Returns {area id: assignments} for the given areas, in one query."""
    by_area: dict[int, list[AreaAssignment]] = defaultdict(list)
    assignments = (
        AreaAssignment.objects.filter(area__in=areas, user__is_active=True)
        .select_related("user")
        .order_by("user__role", "user__username")
    )
    for assignment in assignments:
        by_area[assignment.area_id].append(assignment)
    return by_area
