"""Campaigns and their targets, fetched and authorized for the acting user; target and reach
previews for the campaign form."""

from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Q,
    QuerySet,
)
from django.http import Http404

from linli.areas.models import LEVEL_ORDER, Area, AreaLevel
from linli.core.actors import Actor
from linli.core.jurisdiction import paths_of
from linli.core.permissions import require
from linli.registry.models import Person
from linli.registry.selectors import current_people
from linli.screening.contact import remote_reach
from linli.screening.models import (
    Campaign,
    CampaignTarget,
    ContactAttempt,
)
from linli.screening.roles import CAMPAIGN_MANAGERS, require_browse
from linli.screening.targeting import TargetFilters, matching_people, without_smartphone


def campaigns_for(user: Actor, *, status: str = "") -> QuerySet[Campaign]:
    """Returns the campaigns over the user's areas or over an area above them, newest first."""
    require_browse(user)
    campaigns = Campaign.objects.visible_to(user).select_related(
        "area", "questionnaire_version__questionnaire"
    )
    if status:
        campaigns = campaigns.filter(status=status)
    return campaigns.order_by("-created_at", "-id")


def campaign_for(user: Actor, campaign_id: int) -> Campaign:
    """Returns the campaign if visible to the user. Raises Http404 or PermissionDenied."""
    campaign = campaigns_for(user).filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404("campaign not found")
    return campaign


def require_campaign_visible(user: Actor, campaign: Campaign) -> None:
    """A campaign passed in must overlap the user's areas (inside or above them)."""
    if getattr(user, "is_superuser", False):
        return
    if not any(
        campaign.area_path.startswith(p) or p.startswith(campaign.area_path) for p in paths_of(user)
    ):
        raise Http404("campaign not found")


# ---------------------------------------------------------------------------------------------
# Targets


@dataclass(frozen=True)
class TargetPreview:
    """How many targets a campaign would get: people (one per household in household mode)
    and the households they live in."""

    people: int
    households: int


def preview_targets(
    user: Actor, *, area: Area, filters: TargetFilters | dict | None
) -> TargetPreview:
    """Counts whom a campaign over `area` with these filters would reach, in one query.

    Raises PermissionDenied outside the user's role or jurisdiction; ValidationError for bad
    filters.
    """
    require(user, roles=CAMPAIGN_MANAGERS, paths=[area.path])
    if not isinstance(filters, TargetFilters):
        filters = TargetFilters.from_json(filters)
    counts = matching_people(current_people(user), area, filters).aggregate(
        people=Count("id"),
        households=Count("household_id", distinct=True),
        alone=Count("id", filter=Q(household__isnull=True)),
    )
    people = counts["households"] + counts["alone"] if filters.per_household else counts["people"]
    return TargetPreview(people=people, households=counts["households"])


def targets_for(
    user: Actor,
    campaign: Campaign,
    *,
    statuses: tuple[str, ...] = (),
    risk_levels: tuple[str, ...] = (),
    area: Area | None = None,
) -> QuerySet[CampaignTarget]:
    """Returns the campaign's targets inside the user's areas (optionally one status, risk
    level or subtree), in address order, with person and household loaded."""
    require_browse(user)
    require_campaign_visible(user, campaign)
    targets = CampaignTarget.objects.visible_to(user).filter(campaign=campaign)
    if statuses:
        targets = targets.filter(status__in=statuses)
    if risk_levels:
        targets = targets.filter(risk_level__in=risk_levels)
    if area is not None:
        targets = targets.filter(area_path__startswith=area.path)
    return targets.select_related("person", "household").order_by("area_path", "id")


def target_for(user: Actor, target_id: int) -> CampaignTarget:
    """Returns a target inside the user's areas with its campaign, version and person.
    Raises Http404 or PermissionDenied."""
    require_browse(user)
    target = (
        CampaignTarget.objects.visible_to(user)
        .filter(pk=target_id)
        .select_related("campaign__questionnaire_version", "person", "household")
        .first()
    )
    if target is None:
        raise Http404("target not found")
    return target


def attempts_of(user: Actor, target: CampaignTarget) -> QuerySet[ContactAttempt]:
    """Returns the attempts on a target, newest first (the provenance of its answers)."""
    require_browse(user)
    return (
        ContactAttempt.objects.visible_to(user)
        .filter(target=target)
        .select_related("by")
        .order_by("-finished_at", "-id")
    )


def person_screenings(user: Actor, person: Person) -> QuerySet[CampaignTarget]:
    """Returns a person's screening status in every campaign, newest first (for their file)."""
    require_browse(user)
    return (
        CampaignTarget.objects.visible_to(user)
        .filter(person=person)
        .select_related("campaign")
        .order_by("-created_at", "-id")
    )


# A campaign covers a whole subtree: down to one grid, never a single building (a building's
# residents are reached through its grid's campaign and the door-knock list).
CAMPAIGN_AREA_LEVELS = tuple(LEVEL_ORDER[: LEVEL_ORDER.index(AreaLevel.GRID) + 1])


def campaign_areas(user: Actor) -> QuerySet[Area]:
    """Returns the areas a campaign manager may run a campaign over: their own areas and the
    ones below them down to grids, in tree order. Raises PermissionDenied for other roles."""
    require(user, roles=CAMPAIGN_MANAGERS)
    return Area.objects.visible_to(user).filter(level__in=CAMPAIGN_AREA_LEVELS).order_by("path")


@dataclass(frozen=True)
class ReachPreview:
    """Whom a campaign would reach (TargetPreview's counts) and how many of them cannot be
    reached remotely: `no_phone` have no phone at all, `no_smartphone` have a phone but cannot
    open an H5 link, and `door_knock` no remote channel chosen reaches, so they go straight to
    the door-knock lists at launch (None when no channel was chosen yet)."""

    people: int
    households: int
    no_phone: int
    no_smartphone: int
    door_knock: int | None


def preview_reach(
    user: Actor,
    *,
    area: Area,
    filters: TargetFilters | dict | None,
    channels: list[str] | tuple[str, ...] = (),
) -> ReachPreview:
    """Counts whom a campaign over `area` with these filters and channels would reach, as
    launch_campaign would choose them (one per household in household mode: the head when the
    head matches, otherwise the member registered first).

    Raises PermissionDenied outside the user's role or jurisdiction; ValidationError for bad
    filters; LookupError for an unknown channel.
    """
    require(user, roles=CAMPAIGN_MANAGERS, paths=[area.path])
    if not isinstance(filters, TargetFilters):
        filters = TargetFilters.from_json(filters)
    people = matching_people(current_people(user), area, filters)
    no_phone = Q(phone_hash="")
    no_smartphone = ~Q(phone_hash="") & without_smartphone()
    reach = remote_reach(list(channels)) if channels else None
    # Nobody is remote-reachable when every chosen channel needs a worker at the door.
    to_door = ~reach if reach is not None else Q(pk__isnull=False)
    if not filters.per_household:
        counts = people.aggregate(
            people=Count("id"),
            households=Count("household_id", distinct=True),
            no_phone=Count("id", filter=no_phone),
            no_smartphone=Count("id", filter=no_smartphone),
            door_knock=Count("id", filter=to_door),
        )
        return ReachPreview(
            people=counts["people"],
            households=counts["households"],
            no_phone=counts["no_phone"],
            no_smartphone=counts["no_smartphone"],
            door_knock=counts["door_knock"] if channels else None,
        )
    flags = {
        name: ExpressionWrapper(condition, output_field=BooleanField())
        for name, condition in (("f_no_phone", no_phone), ("f_no_smart", no_smartphone))
    }
    flags["f_door"] = ExpressionWrapper(to_door, output_field=BooleanField())
    rows = (
        people.annotate(**flags)
        .order_by("id")
        .values_list("id", "household_id", "household__head_id", *flags)
    )
    chosen: dict[int, tuple] = {}
    alone: list[tuple] = []
    for pid, hid, head, *marks in rows.iterator(chunk_size=2000):
        if hid is None:
            alone.append(marks)
        elif hid not in chosen or pid == head:
            chosen[hid] = marks
    picked = [*chosen.values(), *alone]
    return ReachPreview(
        people=len(picked),
        households=len(chosen),
        no_phone=sum(1 for m in picked if m[0]),
        no_smartphone=sum(1 for m in picked if m[1]),
        door_knock=sum(1 for m in picked if m[2]) if channels else None,
    )
