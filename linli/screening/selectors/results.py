"""Campaign results: one row per target with answers, masked by role (the results table and
the export)."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Q,
)
from django.utils.translation import gettext as _

from linli.areas.models import PATH_SEGMENT_WIDTH, Area, AreaLevel
from linli.core.actors import Actor
from linli.core.clock import local_today
from linli.core.masking import HIDDEN_TEXT, MASK, present
from linli.core.roles import RolePolicy, Visibility, policy_for
from linli.core.sensitivity import Sensitivity
from linli.registry.selectors import ChoiceLabels, PersonRow, present_person
from linli.screening.models import (
    Campaign,
    CampaignTarget,
    ChannelCode,
    DoorKnockReason,
    QuestionnaireVersion,
    TargetStatus,
)
from linli.screening.questionnaires.schema import FollowUp, RiskLevel
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import coverage as coverage_selectors

# The columns of the export's area path, top down.
RESULT_LEVELS = (
    AreaLevel.COMMUNITY,
    AreaLevel.GRID,
    AreaLevel.COMPOUND,
    AreaLevel.BUILDING,
    AreaLevel.UNIT,
    AreaLevel.DWELLING,
)
# Unit and room numbers locate a family: personal data, masked like an address.
_PERSONAL_LEVELS = {AreaLevel.UNIT, AreaLevel.DWELLING}


@dataclass(frozen=True)
class TargetRow:
    """A campaign target as the acting user may see it: the person masked by role; risk,
    reasons and follow-ups (health data) only for roles that see sensitive data in clear."""

    id: int
    person: PersonRow
    status: str
    status_label: str
    risk_level: str
    risk_label: str
    risk_reasons: list[str]
    follow_ups: list[str]  # labels
    complete: bool
    attempt_count: int
    last_attempt_at: datetime | None
    reached_at: datetime | None
    answered_via: str  # label
    answered_by_proxy: bool
    door_knock_reason: str  # label


class _TargetPresenter:
    """Presents targets one by one with the labels translated once."""

    def __init__(self, user: Actor) -> None:
        self.policy = policy_for(user)
        self.sensitive = self.policy.visibility(Sensitivity.SENSITIVE) == Visibility.CLEAR
        self.today = local_today()
        self.labels = ChoiceLabels.current()
        self.statuses = {k: str(v) for k, v in TargetStatus.choices}
        self.risks = {k: str(v) for k, v in RiskLevel.choices}
        self.follow_ups = {k: str(v) for k, v in FollowUp.choices}
        self.channels = {k: str(v) for k, v in ChannelCode.choices}
        self.reasons = {k: str(v) for k, v in DoorKnockReason.choices}
        self.not_screened = _("Not yet screened")

    def risk_label(self, target: CampaignTarget) -> str:
        # Nobody answered yet: no risk is known, and "No risk" would be a claim.
        if target.reached_at is None:
            return self.not_screened
        return self.risks.get(target.risk_level, "")

    def row(self, target: CampaignTarget) -> TargetRow:
        sensitive = self.sensitive
        return TargetRow(
            id=target.pk,
            person=present_person(target.person, self.policy, today=self.today, labels=self.labels),
            status=target.status,
            status_label=self.statuses.get(target.status, target.status),
            risk_level=target.risk_level if sensitive else "",
            risk_label=self.risk_label(target) if sensitive else HIDDEN_TEXT,
            risk_reasons=list(target.risk_reasons) if sensitive else [],
            follow_ups=[self.follow_ups.get(f, f) for f in target.follow_ups] if sensitive else [],
            complete=target.complete,
            attempt_count=target.attempt_count,
            last_attempt_at=target.last_attempt_at,
            reached_at=target.reached_at,
            answered_via=self.channels.get(target.answered_via, ""),
            answered_by_proxy=target.answered_by_proxy,
            door_knock_reason=self.reasons.get(target.door_knock_reason, ""),
        )


def present_targets(user: Actor, targets: Iterable[CampaignTarget]) -> list[TargetRow]:
    """Returns the targets (person and tags loaded: unreached_targets, risky_targets) as the
    user may see them."""
    presenter = _TargetPresenter(user)
    return [presenter.row(target) for target in targets]


@dataclass(frozen=True)
class ResultRow:
    """One target of the results export: its area names by RESULT_LEVELS (unit and dwelling
    masked like an address for roles that see personal data masked), the target as
    present_targets shows it, and its raw answers ({} for roles that may not see them)."""

    areas: tuple[str, ...]
    target: TargetRow
    answers: dict[str, object]


@dataclass(frozen=True)
class CampaignResults:
    """A campaign's results below `area` for one user: `count` rows, produced lazily by
    `rows` (one pass, a constant number of queries per 2,000 rows)."""

    campaign: Campaign
    version: QuestionnaireVersion
    area: Area
    count: int
    rows: Iterator[ResultRow]
    answers_visible: bool


def campaign_results(user: Actor, campaign: Campaign, area: Area | None = None) -> CampaignResults:
    """Returns the campaign's results inside the user's areas (below `area`, by default the
    user's coverage root) for an export, one row per target in address order.

    Raises PermissionDenied for roles that do not see residents; Http404 for a campaign or
    area the user cannot see.
    """
    area = area or coverage_selectors.coverage_root(user, campaign)
    targets = campaign_selectors.targets_for(user, campaign, area=area)
    presenter = _TargetPresenter(user)
    names = _area_names(area, presenter.policy)

    def rows() -> Iterator[ResultRow]:
        for target in coverage_selectors.with_people(targets).iterator(chunk_size=2000):
            yield ResultRow(
                areas=names(target.area_path),
                target=presenter.row(target),
                answers=dict(target.answers) if presenter.sensitive else {},
            )

    version = QuestionnaireVersion.objects.select_related("questionnaire").get(
        pk=campaign.questionnaire_version_id
    )
    return CampaignResults(
        campaign=campaign,
        version=version,
        area=area,
        count=targets.count(),
        rows=rows(),
        answers_visible=presenter.sensitive,
    )


def _area_names(top: Area, policy: RolePolicy) -> Callable[[str], tuple[str, ...]]:
    """Returns a function giving the RESULT_LEVELS names along an area path below (or at)
    `top`. Loads the areas above `top` and its subtree once; each path is resolved once."""
    step = PATH_SEGMENT_WIDTH + 1
    above = [top.path[: step * i] for i in range(1, len(top.path) // step)]
    by_path = {
        path: (level, name)
        for path, level, name in Area.objects.filter(
            Q(path__startswith=top.path) | Q(path__in=above), level__in=RESULT_LEVELS
        ).values_list("path", "level", "name")
    }
    masked = policy.visibility(Sensitivity.PERSONAL) != Visibility.CLEAR
    resolved: dict[str, tuple[str, ...]] = {}

    def names(path: str) -> tuple[str, ...]:
        if path not in resolved:
            found = dict.fromkeys(RESULT_LEVELS, "")
            for depth in range(1, len(path) // step + 1):
                level, name = by_path.get(path[: step * depth], ("", ""))
                if level:
                    found[level] = name
            if masked:
                for level in _PERSONAL_LEVELS:
                    found[level] = present(
                        found[level],
                        sensitivity=Sensitivity.PERSONAL,
                        policy=policy,
                        mask=lambda value: MASK * 4 if value else "",
                    )
            resolved[path] = tuple(found.values())
        return resolved[path]

    return names
