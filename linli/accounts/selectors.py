"""Reads of staff accounts."""

from collections import defaultdict

from linli.accounts.models import AreaAssignment, User
from linli.areas.models import Area
from linli.core.actors import Actor
from linli.core.roles import Role

# Who answers for an area: the grid worker of a grid, the lead of a community, the officials of
# a street, district or city. Stewards and volunteers work there but are not in charge.
ROLES_IN_CHARGE = (
    Role.GRID_WORKER,
    Role.COMMUNITY_LEAD,
    Role.STREET_OFFICER,
    Role.DISTRICT_OFFICER,
    Role.CITY_OFFICER,
)


def staff_in_charge(areas: list[Area]) -> dict[int, list[AreaAssignment]]:
    """Returns {area id: assignments} for the given areas, in one query."""
    by_area: dict[int, list[AreaAssignment]] = defaultdict(list)
    assignments = (
        AreaAssignment.objects.filter(
            area__in=areas, user__is_active=True, user__role__in=ROLES_IN_CHARGE
        )
        .select_related("user")
        .order_by("user__role", "user__username")
    )
    for assignment in assignments:
        by_area[assignment.area_id].append(assignment)
    return by_area


def user_of(actor: Actor | None) -> User | None:
    """Returns the acting user as a foreign key stores them (`created_by`, `decided_by` …):
    None when no account acted (a command, a resident answering by link, an anonymous user)."""
    return actor if isinstance(actor, User) else None
