"""Live figures for the home page: computed from the registry, never typed in."""

from dataclasses import dataclass

from linli.accounts.selectors import staff_in_charge
from linli.areas import selectors as area_selectors
from linli.areas.models import Area
from linli.core.actors import Actor
from linli.core.roles import policy_for
from linli.registry import selectors as registry_selectors
from linli.registry.models import VulnerableTag


@dataclass(frozen=True)
class ChildFigures:
    area: Area
    residents: int
    households: int
    in_charge: list[str]


@dataclass(frozen=True)
class AreaOverview:
    area: Area
    residents: int
    households: int
    tag_counts: dict[str, int]
    children: list[ChildFigures]


def overview_for(user: Actor) -> list[AreaOverview]:
    """Returns, per root area of the user's jurisdiction, totals and figures per child area.

    Returns an empty list for roles that do not browse residents (volunteers).
    """
    if not policy_for(user).may_browse_people:
        return []
    people = registry_selectors.people_for(user)
    households = registry_selectors.households_for(user)
    overviews = []
    for root in area_selectors.root_areas(user):
        children = list(area_selectors.children_of(user, root))
        resident_counts = area_selectors.count_by_child(people, path_field="area_path", area=root)
        household_counts = area_selectors.count_by_child(
            households, path_field="area_path", area=root
        )
        staff = staff_in_charge(children)
        overviews.append(
            AreaOverview(
                area=root,
                residents=sum(resident_counts.values()),
                households=sum(household_counts.values()),
                tag_counts=registry_selectors.tag_counts(user, root),
                children=[
                    ChildFigures(
                        area=child,
                        residents=resident_counts.get(child.path, 0),
                        households=household_counts.get(child.path, 0),
                        in_charge=[str(a.user) for a in staff.get(child.pk, [])],
                    )
                    for child in children
                ],
            )
        )
    return overviews


def chart_data(overview: AreaOverview) -> dict:
    """Returns ECharts-ready series: residents and vulnerable people per child area."""
    return {
        "labels": [c.area.name for c in overview.children],
        "residents": [c.residents for c in overview.children],
        "households": [c.households for c in overview.children],
        "tag_labels": [str(label) for _, label in VulnerableTag.choices],
        "tags": [overview.tag_counts.get(tag, 0) for tag in VulnerableTag.values],
    }
