"""The door-knock list: a grid worker's unreached households, building by building and floor
by floor, and one household's members for the form."""

from dataclasses import dataclass, replace
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
