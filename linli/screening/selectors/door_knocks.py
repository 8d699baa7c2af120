"""The door-knock list: a grid worker's unreached households, building by building and floor
by floor, and one household's members for the form.

A community holds thousands of households, too many for one page on a phone in a stairwell: the
landing page shows the buildings (and their units) with the households left in each
(door_knock_places, one query of three columns), and the list itself is read one building at a
time (door_knock_list over the building), then narrowed to a unit or a floor and paged.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import partial

from django.db.models import (
    Prefetch,
    Q,
)
from django.http import Http404

from linli.areas.models import PATH_SEGMENT_WIDTH, Area, AreaLevel
from linli.core.actors import Actor
from linli.core.clock import local_today
from linli.core.jurisdiction import paths_of
from linli.core.masking import mask_address, present
from linli.core.permissions import require
from linli.core.roles import policy_for
from linli.core.sensitivity import Sensitivity
from linli.registry.models import Household, Person, PersonTag, Relation
from linli.registry.selectors import ChoiceLabels, PersonRow, present_person
from linli.screening.models import (
    Campaign,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
    TargetStatus,
)
from linli.screening.roles import SCREENERS, require_browse
from linli.screening.selectors import campaigns as campaign_selectors

# ---------------------------------------------------------------------------------------------
# Door-knock lists


@dataclass(frozen=True)
class DoorKnockMember:
    """A household member in the campaign, as the worker may see them."""

    target_id: int
    person: PersonRow
    status: str
    door_knock_reason: str
    risk_level: str
    attempt_count: int
    reached: bool
    complete: bool


@dataclass(frozen=True)
class DoorKnockHousehold:
    """A household to knock at, with every member the campaign targets (those already
    reached too, so the worker sees who is done)."""

    household_id: int | None
    address: str
    building: str
    building_path: str
    floor: int | None
    dwelling_path: str
    members: list[DoorKnockMember]

    @property
    def reasons(self) -> list[str]:
        return sorted({m.door_knock_reason for m in self.members if m.door_knock_reason})


def _masked_address(building: str, dwelling: str, _value: str) -> str:
    return mask_address(building, dwelling)


def door_knock_list(
    user: Actor,
    campaign: Campaign,
    grid: Area,
    *,
    statuses: tuple[str, ...] = (TargetStatus.NEEDS_DOOR_KNOCK,),
    ever_listed: bool = False,
) -> list[DoorKnockHousehold]:
    """Returns the households of a grid (or any area) with a target on the door-knock list,
    ordered building by building and floor by floor, each with its members in the campaign
    (head first) masked for the user. Three queries whatever the grid's size.

    `ever_listed` also takes the households whose targets were put on a list once and have
    left it since (visited and reached, or refused at the door): the worker's "done" view.

    Raises PermissionDenied unless the user screens (grid worker, community lead) and the grid
    lies inside their areas; Http404 for a campaign they cannot see.
    """
    require(user, roles=SCREENERS, paths=[grid.path])
    campaign_selectors.require_campaign_visible(user, campaign)
    policy = policy_for(user)
    targets = CampaignTarget.objects.visible_to(user).filter(
        campaign=campaign, area_path__startswith=grid.path
    )
    on_list = targets.filter(status__in=statuses)
    if ever_listed:
        on_list = targets.filter(Q(status__in=statuses) | Q(escalated_at__isnull=False))
    members = (
        targets.filter(
            Q(household_id__in=on_list.exclude(household__isnull=True).values("household_id"))
            | Q(pk__in=on_list.filter(household__isnull=True).values("pk"))
        )
        .select_related("person", "household__dwelling", "person__dwelling")
        .prefetch_related(Prefetch("person__tags", queryset=PersonTag.objects.order_by("tag")))
        .order_by("id")
    )
    buildings = {
        b.path: b for b in Area.objects.filter(level=AreaLevel.BUILDING, path__startswith=grid.path)
    }
    labels = ChoiceLabels.current()
    today = local_today()
    groups: dict[tuple, list[CampaignTarget]] = {}
    for target in members:
        key = ("h", target.household_id) if target.household_id else ("p", target.person_id)
        groups.setdefault(key, []).append(target)
    households = []
    for group in groups.values():
        first = group[0]
        dwelling = first.household.dwelling if first.household else first.person.dwelling
        dwelling_path = dwelling.path if dwelling else first.area_path
        building = next(
            (b for path, b in buildings.items() if dwelling_path.startswith(path)), None
        )
        source: Household | Person = first.household or first.person
        address = present(
            f"{source.address_building}{source.address_dwelling}",
            sensitivity=Sensitivity.PERSONAL,
            policy=policy,
            mask=partial(_masked_address, source.address_building, source.address_dwelling),
        )
        group.sort(key=lambda t: (t.person.relation_to_head != Relation.HEAD, t.person_id))
        households.append(
            DoorKnockHousehold(
                household_id=first.household_id,
                address=address,
                building=building.name if building else "",
                building_path=building.path if building else "",
                floor=dwelling.floor if dwelling else None,
                dwelling_path=dwelling_path,
                members=[
                    DoorKnockMember(
                        target_id=t.pk,
                        person=present_person(t.person, policy, today=today, labels=labels),
                        status=t.status,
                        door_knock_reason=t.door_knock_reason,
                        risk_level=t.risk_level,
                        attempt_count=t.attempt_count,
                        reached=t.reached_at is not None,
                        complete=t.complete,
                    )
                    for t in group
                ],
            )
        )
    # Floors without a number (bungalows, unparsed rooms) go last in their building.
    households.sort(
        key=lambda h: (
            h.building_path,
            h.floor is None,
            h.floor or 0,
            h.dwelling_path,
            h.household_id or 0,
        )
    )
    return households


@dataclass
class DoorKnockPlace:
    """A building (or one of its units) with what is left to visit in it. A building holds
    its units; `area` is None for the households outside any building."""

    area: Area | None
    compound: str = ""
    households_left: int = 0
    people_left: int = 0
    units: list["DoorKnockPlace"] = field(default_factory=list)


@dataclass
class DoorKnockPlaces:
    """Where an area's door-knock list stands: its buildings in path order and the totals."""

    buildings: list[DoorKnockPlace]
    households_left: int
    people_left: int


def _ancestors(path: str) -> Iterable[str]:
    """Yields the paths above `path` (and itself), nearest first."""
    step = PATH_SEGMENT_WIDTH + 1
    for end in range(len(path), 0, -step):
        yield path[:end]


def door_knock_places(user: Actor, campaign: Campaign, area: Area) -> DoorKnockPlaces:
    """Returns the buildings of an area (with their units) that have households on the
    door-knock list, each with the households and people left to visit, in path order; the
    households outside any building come last as a place whose area is None. Two queries
    whatever the area's size (the list's three columns, and the buildings and units).

    Raises PermissionDenied and Http404 like door_knock_list.
    """
    require(user, roles=SCREENERS, paths=[area.path])
    campaign_selectors.require_campaign_visible(user, campaign)
    rows = (
        CampaignTarget.objects.visible_to(user)
        .filter(
            campaign=campaign,
            area_path__startswith=area.path,
            status=TargetStatus.NEEDS_DOOR_KNOCK,
        )
        .values_list("area_path", "household_id", "person_id")
    )
    places = {
        a.path: a
        for a in Area.objects.filter(
            path__startswith=area.path,
            level__in=[AreaLevel.COMPOUND, AreaLevel.BUILDING, AreaLevel.UNIT],
        ).only("id", "name", "path", "level")
    }
    households: dict[str, set] = {}
    people: dict[str, int] = {}
    everyone: set = set()
    for path, household_id, person_id in rows:
        key = ("h", household_id) if household_id else ("p", person_id)
        building = unit = ""
        for prefix in _ancestors(path):
            place = places.get(prefix)
            if place is None:
                continue
            if place.level == AreaLevel.UNIT and not unit:
                unit = prefix
            elif place.level == AreaLevel.BUILDING:
                building = prefix
                break
        everyone.add(key)
        for where in {building, unit} if unit else {building}:
            households.setdefault(where, set()).add(key)
            people[where] = people.get(where, 0) + 1
    buildings: list[DoorKnockPlace] = []
    for path in sorted(p for p in households if p and places[p].level == AreaLevel.BUILDING):
        compound = next((places[p].name for p in _ancestors(path) if p in places and p != path), "")
        units = [
            DoorKnockPlace(
                area=places[u], households_left=len(households[u]), people_left=people[u]
            )
            for u in sorted(households)
            if u.startswith(path) and u != path
        ]
        buildings.append(
            DoorKnockPlace(
                area=places[path],
                compound=compound,
                households_left=len(households[path]),
                people_left=people[path],
                units=units,
            )
        )
    if "" in households:
        buildings.append(
            DoorKnockPlace(area=None, households_left=len(households[""]), people_left=people[""])
        )
    return DoorKnockPlaces(
        buildings=buildings, households_left=len(everyone), people_left=len(rows)
    )


def door_knock_areas(user: Actor, campaign: Campaign) -> list[Area]:
    """Returns the areas whose door-knock list a screener may open in a campaign, in path
    order: their own areas inside the campaign (the campaign's area for a user above it), then
    the grids below those, so a community lead can narrow the community down to one grid.
    Empty for a user with no area in the campaign.

    Raises PermissionDenied for a role that does not screen; Http404 for a campaign the user
    cannot see.
    """
    require(user, roles=SCREENERS)
    campaign_selectors.require_campaign_visible(user, campaign)
    roots = set()
    for prefix in paths_of(user):
        if prefix.startswith(campaign.area_path):
            roots.add(prefix)
        elif campaign.area_path.startswith(prefix):
            roots.add(campaign.area_path)
    # A user assigned both a community and one of its grids walks the community's list.
    roots = {p for p in roots if not any(p != q and p.startswith(q) for q in roots)}
    if not roots:
        return []
    condition = Q(path__in=roots)
    for prefix in roots:
        condition |= Q(path__startswith=prefix, level=AreaLevel.GRID)
    return list(Area.objects.filter(condition).order_by("path"))


def last_door_knocks(user: Actor, target_ids: list[int]) -> dict[int, ContactAttempt]:
    """Returns the latest door-knock attempt on each of the targets that have one (the list
    shows "not at home at 14:02"), in one query; only attempts inside the user's areas."""
    require_browse(user)
    latest: dict[int, ContactAttempt] = {}
    attempts = (
        ContactAttempt.objects.visible_to(user)
        .filter(target_id__in=target_ids, channel=ChannelCode.DOOR_KNOCK)
        .only("id", "target_id", "outcome", "finished_at", "by_proxy")
        .order_by("target_id", "-finished_at", "-id")
    )
    for attempt in attempts:
        latest.setdefault(attempt.target_id, attempt)
    return latest


def door_knock_household(
    user: Actor, campaign: Campaign, target: CampaignTarget
) -> DoorKnockHousehold:
    """Returns the household of one target as a door-knock list shows it (every member the
    campaign targets at that address, masked), whether or not it is on a list now: the page of
    one member's form. Raises Http404 or PermissionDenied like door_knock_list."""
    area = Area.objects.filter(path=target.area_path).first()
    if area is None or target.campaign_id != campaign.pk:
        raise Http404("target not found")
    households = door_knock_list(user, campaign, area, statuses=tuple(TargetStatus.values))
    household = next(
        (h for h in households if any(m.target_id == target.pk for m in h.members)), None
    )
    if household is None:
        raise Http404("target not found")
    # The list was read below the building, so the building is looked up above the dwelling.
    step = PATH_SEGMENT_WIDTH + 1
    building = Area.objects.filter(
        level=AreaLevel.BUILDING,
        path__in=[area.path[: step * i] for i in range(1, len(area.path) // step + 1)],
    ).first()
    if building is not None:
        household = replace(household, building=building.name, building_path=building.path)
    return household


def door_knock_place(user: Actor, area: Area, place_id: int, level: str) -> Area:
    """Returns the building or unit `place_id` below `area` (a list the user may open), for
    narrowing its door-knock list. Raises Http404 for any other id (another community's
    building too: its existence is not the worker's business); PermissionDenied like
    door_knock_list."""
    require(user, roles=SCREENERS, paths=[area.path])
    place = Area.objects.filter(pk=place_id, level=level, path__startswith=area.path).first()
    if place is None:
        raise Http404("place not found")
    return place
