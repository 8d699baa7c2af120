"""H5 links: a signed per-person link to the resident's mobile page, sent by SMS.

A link carries the target's id, the purpose PURPOSE and an expiry (linli.core.links): it
is the resident's only credential, so the page needs no log-in and shows nothing but what the
person (or the family member answering for them) needs: the masked name and the questions.

Sending is claim-then-send: a batch of sendable targets is marked sent (link_sent_at,
links_sent) in a short transaction that skips rows another run holds, then the SMS go out
through one backend, and a message the gateway refused gives its claim back and is recorded
as a failed H5 attempt. So two runs started at once never text the same person twice, a
resident answering while a batch goes out is never blocked behind a slow gateway, and a
crash mid-run costs at most one resend interval for the batch in flight.

Phone numbers are opened (decrypted) only to build the message: logs, audit details and
attempt details carry target ids, masked numbers and provider references, never a number.
"""

import contextlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus

from linli.adapters import sms
from linli.areas.models import PATH_SEGMENT_WIDTH, Area, AreaLevel
from linli.audit.services import record_event
from linli.core import identifiers
from linli.core.links import ExpiredLink, InvalidLink, make_token, read_token
from linli.core.masking import mask_name
from linli.core.permissions import require
from linli.core.phones import InvalidPhone
from linli.registry.models import Person
from linli.screening import channels as channel_registry
from linli.screening.models import (
    AttemptOutcome,
    Campaign,
    CampaignStatus,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
    ScreeningAction,
    TargetStatus,
)
from linli.screening.questionnaires import next_question, question_map, route
from linli.screening.services import CAMPAIGN_MANAGERS

logger = logging.getLogger(__name__)

PURPOSE = "screening-h5"
# A link without a campaign deadline works this long (settings.LINLI_H5_LINK_DAYS overrides).
DEFAULT_LINK_DAYS = 7
# A person is texted again at most this often, and at most MAX_LINKS times per campaign: a
# reminder helps, a flood of texts from the community does not.
RESEND_AFTER = timedelta(hours=12)
MAX_LINKS = 3
# Targets claimed and sent per round: one UPDATE, one backend call, one phone query.
BATCH = 500
# Who may still be texted: nobody reached them and they neither refused nor gave a wrong
# number (those go to the door, not to another SMS).
SENDABLE = (TargetStatus.PENDING, TargetStatus.NO_ANSWER)
# Keeps the SMS to two parts with the longest names.
MAX_NAME_IN_SMS = 16


# ---------------------------------------------------------------------------------------------
# Links


def link_expiry(campaign: Campaign, *, now: datetime | None = None) -> datetime:
    """Returns when a link sent now stops working: the campaign's deadline when it has one
    still ahead, else DEFAULT_LINK_DAYS from now."""
    now = now or timezone.now()
    if campaign.deadline is not None and campaign.deadline > now:
        return campaign.deadline
    return now + timedelta(days=getattr(settings, "LINLI_H5_LINK_DAYS", DEFAULT_LINK_DAYS))


def token_for(target: CampaignTarget, *, now: datetime | None = None) -> str:
    """Returns the signed token of the target's link (see link_expiry)."""
    now = now or timezone.now()
    return _token(target.pk, expires=link_expiry(target.campaign, now=now), now=now)


def _token(target_id: int, *, expires: datetime, now: datetime) -> str:
    return make_token(purpose=PURPOSE, subject=str(target_id), max_age=expires - now, now=now)


def link_for(target: CampaignTarget, *, now: datetime | None = None) -> str:
    """Returns the target's link: absolute under settings.LINLI_PUBLIC_URL, or relative to
    the site when that setting is empty."""
    return link_for_token(token_for(target, now=now))


def link_for_token(token: str) -> str:
    """Returns the link of a token (see link_for)."""
    prefix, suffix = _link_parts()
    return f"{prefix}{token}{suffix}"


def _link_parts() -> tuple[str, str]:
    """Returns what goes before and after the token in a link. Resolved once per call
    rather than per token: reverse() costs more than signing the token."""
    marker = "0"
    path = reverse("screening:h5", args=[marker])
    at = path.rindex(marker)
    base = getattr(settings, "LINLI_PUBLIC_URL", "").rstrip("/")
    return base + path[:at], path[at + len(marker) :]


def target_id_from_token(token: str, *, now: datetime | None = None) -> int:
    """Returns the target id a token was made for, without touching the database.

    Raises InvalidLink (forged, altered, another purpose) or ExpiredLink."""
    subject = read_token(token, purpose=PURPOSE, now=now)
    if not subject.isdigit():
        raise InvalidLink()
    return int(subject)


def target_from_token(token: str, *, now: datetime | None = None) -> CampaignTarget:
    """Returns the target of a link with its campaign, questionnaire version and person.

    Raises InvalidLink (forged, altered, or the target no longer exists) or ExpiredLink."""
    target_id = target_id_from_token(token, now=now)
    target = (
        CampaignTarget.objects.select_related(
            "campaign__questionnaire_version", "campaign__area", "person"
        )
        .filter(pk=target_id)
        .first()
    )
    if target is None:
        raise InvalidLink()
    return target


def community_name(area_path: str) -> str:
    """Returns the name of the community an area path lies in ("" above communities)."""
    names = _community_names([area_path])
    return next(iter(names.values()), "")


def _ancestor_paths(path: str) -> list[str]:
    step = PATH_SEGMENT_WIDTH + 1
    return [path[: step * i] for i in range(1, len(path) // step + 1)]


def _community_names(paths: Iterable[str]) -> dict[str, str]:
    """Returns {community path: name} for the communities above or at the given paths, and
    below them (a street-wide campaign texts in each resident's own community's name)."""
    wanted: set[str] = set()
    below = Q()
    for path in paths:
        wanted.update(_ancestor_paths(path))
        below |= Q(path__startswith=path)
    rows = Area.objects.filter(Q(path__in=wanted) | below, level=AreaLevel.COMMUNITY)
    return dict(rows.values_list("path", "name"))


def _sender_for(area_path: str, communities: dict[str, str]) -> str:
    for path in _ancestor_paths(area_path):
        if path in communities:
            return communities[path]
    return ""


def sms_text(*, sender: str, campaign_name: str, url: str) -> str:
    """Returns the text of a link SMS: who sends it, why, and the link (last, so nothing
    after it is taken for part of it)."""
    sender = (sender or "社区居委会")[:MAX_NAME_IN_SMS]
    name = campaign_name.strip()[:MAX_NAME_IN_SMS]
    return f"{sender}：为做好疫情防控，请您填写“{name}”（家人可代填），约需两分钟：{url}"


# ---------------------------------------------------------------------------------------------
# The resident's page


class Stage:
    INTRO = "intro"  # who asks and why; "are you this person, or answering for them?"
    QUESTION = "question"
    DONE = "done"
    REFUSED = "refused"


@dataclass(frozen=True)
class ResidentScreen:
    """What the resident's page shows for a link: only what the person (or the family member
    answering for them) needs, and nothing else of the file."""

    stage: str
    title: str
    intro: str
    closing: str
    sender: str
    masked_name: str
    by_proxy: bool | None  # None until the person said who answers
    question: dict | None = None
    number: int = 0  # the question's place on the path, from 1
    previous: str | None = None  # the question before it on the path
    value: object = None  # the answer saved already, to pre-fill
    first: str | None = None


def _proxy_of_earlier_saves(target: CampaignTarget) -> bool | None:
    """Returns who answered the last H5 save (a reopened link resumes as them), or None."""
    sources = [
        s
        for s in (target.answer_sources or {}).values()
        if isinstance(s, dict) and s.get("channel") == ChannelCode.H5
    ]
    if not sources:
        return None
    return bool(max(sources, key=lambda s: str(s.get("at", ""))).get("proxy"))


def resident_screen(
    target: CampaignTarget,
    *,
    who: str = "",
    asked: str = "",
    stopped: bool = False,
    today: date | None = None,
) -> ResidentScreen:
    """Returns the screen for a link: the intro until the person says who answers (`who`:
    "self" or "proxy", else remembered from earlier saves), then the next unanswered question
    on the branching path (or `asked`, an earlier one on the path, to change it), then the
    closing. Right after a refusal (`stopped`), or when a refusal is all there is, the
    refusal is acknowledged, with a way to answer after all.
    """
    today = today or timezone.localdate()
    definition = target.campaign.questionnaire_version.definition
    answers = target.answers or {}
    by_proxy = {"self": False, "proxy": True}.get(who, _proxy_of_earlier_saves(target))
    path = route(definition, answers, today=today)
    common = {
        "title": definition.get("title", ""),
        "intro": definition.get("intro", ""),
        "closing": definition.get("closing", ""),
        "sender": community_name(target.area_path),
        "masked_name": mask_name(target.person.name),
        "by_proxy": by_proxy,
        "first": path[0] if path else None,
    }
    if stopped:
        return ResidentScreen(stage=Stage.REFUSED, **common)
    if by_proxy is None:
        refused = target.status == TargetStatus.REFUSED and target.reached_at is None
        return ResidentScreen(stage=Stage.REFUSED if refused else Stage.INTRO, **common)
    key = asked if asked in path else next_question(definition, answers, today=today)
    if key is None:
        return ResidentScreen(stage=Stage.DONE, **common)
    index = path.index(key)
    return ResidentScreen(
        stage=Stage.QUESTION,
        question=question_map(definition)[key],
        number=index + 1,
        previous=path[index - 1] if index else None,
        value=answers.get(key),
        **common,
    )


# ---------------------------------------------------------------------------------------------
# Who may be texted


def h5_reachable() -> Exists:
    """Returns the condition (over CampaignTarget) that the H5 channel can reach the person:
    a phone on file and a smartphone to open the link."""
    reachable = Person.objects.filter(
        channel_registry.H5Channel().reachable(), pk=OuterRef("person_id")
    )
    return Exists(reachable)


def sendable_targets(
    campaign: Campaign, *, now: datetime, resend_after: timedelta = RESEND_AFTER
) -> QuerySet[CampaignTarget]:
    """Returns the campaign's targets a link may go to now: not reached, still pending or
    unanswered, reachable by H5, under MAX_LINKS and not texted within `resend_after`."""
    return CampaignTarget.objects.filter(
        h5_reachable(),
        Q(link_sent_at__isnull=True) | Q(link_sent_at__lte=now - resend_after),
        campaign=campaign,
        reached_at__isnull=True,
        status__in=SENDABLE,
        links_sent__lt=MAX_LINKS,
    )


def check_sendable(campaign: Campaign, by, *, now: datetime | None = None) -> None:
    """Raises PermissionDenied unless `by` manages the campaign's area, and ValidationError
    when the campaign cannot send links now (not running, no H5 channel, deadline passed)."""
    require(by, roles=CAMPAIGN_MANAGERS, paths=[campaign.area_path])
    now = now or timezone.now()
    if ChannelCode.H5 not in campaign.channels:
        raise ValidationError("本次排查未启用H5链接 / this campaign does not use H5 links")
    if campaign.status != CampaignStatus.RUNNING:
        raise ValidationError(
            "排查未在进行中（暂停或结束的排查不发送短信） / "
            "the campaign is not running (a paused or closed campaign sends nothing)"
        )
    if campaign.deadline is not None and campaign.deadline <= now:
        raise ValidationError(
            "截止时间已过，未回复的居民已转入入户排查 / "
            "the deadline has passed; the unreached are on the door-knock lists"
        )


# ---------------------------------------------------------------------------------------------
# Sending


@dataclass(frozen=True)
class LinkRun:
    """What a send run did: links accepted by the SMS backend, and messages refused (by the
    gateway, or a number on file that is not a mobile)."""

    sent: int
    failed: int


@dataclass(frozen=True)
class _Claim:
    target_id: int
    person_id: int
    area_path: str
    previous_sent_at: datetime | None


def _claim(targets: QuerySet[CampaignTarget], *, now: datetime, limit: int) -> list[_Claim]:
    """Marks up to `limit` targets as texted now and returns them. Rows another run holds are
    skipped, so concurrent runs never claim the same person."""
    with transaction.atomic():
        rows = list(
            targets.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "person_id", "area_path", "link_sent_at")[:limit]
        )
        if rows:
            CampaignTarget.objects.filter(pk__in=[row[0] for row in rows]).update(
                link_sent_at=now, links_sent=F("links_sent") + 1, updated_at=now
            )
    return [_Claim(*row) for row in rows]


@dataclass(frozen=True)
class _Delivery:
    claim: _Claim
    accepted: bool
    reference: str  # the provider's message id, or our own reference when refused
    error: str = ""


def _deliver(
    campaign: Campaign,
    claims: list[_Claim],
    backend: sms.BaseSmsBackend,
    communities: dict[str, str],
    now: datetime,
) -> list[_Delivery]:
    """Texts each claimed target its link; gives back the claims of refused messages and
    records them as failed attempts. Returns one delivery per claim."""
    phones = dict(
        Person.objects.filter(pk__in=[c.person_id for c in claims]).values_list(
            "pk", "phone_encrypted"
        )
    )
    deliveries: list[_Delivery] = []
    messages: list[tuple[_Claim, sms.SmsMessage]] = []
    expires = link_expiry(campaign, now=now)
    prefix, suffix = _link_parts()
    for claim in claims:
        reference = f"h5-target:{claim.target_id}"
        token = _token(claim.target_id, expires=expires, now=now)
        text = sms_text(
            sender=_sender_for(claim.area_path, communities),
            campaign_name=campaign.name,
            url=f"{prefix}{token}{suffix}",
        )
        try:
            phone = identifiers.decrypt(phones[claim.person_id])
            messages.append((claim, sms.SmsMessage(to=phone, text=text, reference=reference)))
        except (InvalidPhone, InvalidTag, KeyError, ValueError) as error:
            code = getattr(error, "code", "no_phone")
            deliveries.append(_Delivery(claim, False, reference, f"invalid phone ({code})"))
    results = backend.send_messages([message for _claim_, message in messages]) if messages else []
    for (claim, message), result in zip(messages, results, strict=True):
        if result.accepted:
            deliveries.append(_Delivery(claim, True, result.provider_id or message.reference))
        else:
            deliveries.append(_Delivery(claim, False, message.reference, result.error[:200]))
    for delivery in deliveries:
        if not delivery.accepted:
            _give_back(campaign, delivery, now)
    return deliveries


def _give_back(campaign: Campaign, delivery: _Delivery, now: datetime) -> None:
    """A refused message did not go out: the claim is returned (a later run tries again)
    and the failure is kept as an attempt, so staff see why the person was not texted."""
    claim = delivery.claim
    CampaignTarget.objects.filter(pk=claim.target_id).update(
        link_sent_at=claim.previous_sent_at, links_sent=F("links_sent") - 1
    )
    logger.warning("H5 link SMS refused for target %s: %s", claim.target_id, delivery.error)
    # A ValidationError here means the campaign was closed while the batch went out: there
    # is nothing more to record.
    with contextlib.suppress(ValidationError):
        channel_registry.get_channel(ChannelCode.H5).collect(
            # collect() needs only the target's key when no worker records the attempt.
            target=CampaignTarget(pk=claim.target_id, area_path=claim.area_path),
            outcome=AttemptOutcome.FAILED,
            idempotency_key=f"h5-sms:{claim.target_id}:{uuid.uuid4().hex}",
            finished_at=now,
            detail={"sms": delivery.reference, "error": delivery.error},
        )


def send_links(
    *,
    campaign: Campaign,
    by,
    now: datetime | None = None,
    resend_after: timedelta = RESEND_AFTER,
) -> LinkRun:
    """Texts every sendable target of the campaign its link, once (see sendable_targets):
    one SMS per person not reached yet with a phone H5 can reach, never twice within
    `resend_after`, at most MAX_LINKS per person. Records one audit event for the run.

    Raises PermissionDenied unless `by` manages the campaign's area; ValidationError when the
    campaign cannot send (check_sendable).
    """
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign.pk)
    check_sendable(campaign, by, now=now)
    targets = sendable_targets(campaign, now=now, resend_after=resend_after)
    communities = _community_names([campaign.area_path])
    sent = failed = 0
    after = 0
    running = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING)
    with sms.get_backend() as backend:
        # A pause or close while a long run goes out stops it at the next batch.
        while running.exists():
            # Claims go forward by id: a claim given back after a refusal is sendable again,
            # and must wait for the next run rather than be retried in a loop by this one.
            claims = _claim(targets.filter(pk__gt=after), now=now, limit=BATCH)
            if not claims:
                break
            after = claims[-1].target_id
            for delivery in _deliver(campaign, claims, backend, communities, now):
                if delivery.accepted:
                    sent += 1
                else:
                    failed += 1
    record_event(
        action=ScreeningAction.SEND_LINKS,
        actor=by,
        object_type="campaign",
        object_id=campaign.pk,
        object_label=campaign.name,
        area_path=campaign.area_path,
        detail={"channel": ChannelCode.H5.value, "sent": sent, "failed": failed},
    )
    logger.info("H5 links for campaign %s: %s sent, %s refused", campaign.pk, sent, failed)
    return LinkRun(sent=sent, failed=failed)


def send_link(
    target: CampaignTarget, *, now: datetime | None = None
) -> channel_registry.Dispatch | None:
    """Texts one target its link if it is sendable now (the H5 channel's send()); returns
    the Dispatch, or None when there is nothing to send (reached, refused, capped, texted
    recently, no phone or smartphone, a campaign not running) or the gateway refused."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=target.campaign_id)
    if campaign.status != CampaignStatus.RUNNING or ChannelCode.H5 not in campaign.channels:
        return None
    if campaign.deadline is not None and campaign.deadline <= now:
        return None
    claims = _claim(sendable_targets(campaign, now=now).filter(pk=target.pk), now=now, limit=1)
    if not claims:
        return None
    with sms.get_backend() as backend:
        [delivery] = _deliver(
            campaign, claims, backend, _community_names([claims[0].area_path]), now
        )
    record_event(
        action=ScreeningAction.SEND_LINKS,
        actor_username="system",
        object_type="screening_target",
        object_id=target.pk,
        area_path=claims[0].area_path,
        detail={
            "campaign": campaign.pk,
            "channel": ChannelCode.H5.value,
            "sent": int(delivery.accepted),
            "failed": int(not delivery.accepted),
        },
    )
    if not delivery.accepted:
        return None
    return channel_registry.Dispatch(
        channel=ChannelCode.H5.value, target_id=target.pk, reference=delivery.reference, at=now
    )


# ---------------------------------------------------------------------------------------------
# Sending in the background, with progress


@task()
def send_links_task(campaign_id: int, by_id: int) -> dict[str, int]:
    """Runs send_links for a campaign on behalf of a user; returns {"sent", "failed"}."""
    run = send_links(
        campaign=Campaign.objects.get(pk=campaign_id), by=get_user_model().objects.get(pk=by_id)
    )
    return {"sent": run.sent, "failed": run.failed}


@dataclass(frozen=True)
class SendJob:
    """A send run handed to the task worker: its result id, when it was queued (what the
    progress counts from) and how many targets were sendable then."""

    result_id: str
    since: datetime
    planned: int


def enqueue_send_links(*, campaign: Campaign, by) -> SendJob:
    """Checks that the campaign can send (check_sendable raises at once, not in the worker)
    and queues send_links_task. Also the hook for sending as soon as a campaign launches
    (call it in transaction.on_commit, once the targets exist)."""
    now = timezone.now()
    check_sendable(campaign, by, now=now)
    planned = sendable_targets(campaign, now=now).count()
    result = send_links_task.enqueue(campaign.pk, by.pk)
    return SendJob(result_id=result.id, since=now, planned=planned)


@dataclass(frozen=True)
class LinkSummary:
    """Where a campaign's links stand, for the sending page."""

    targets: int
    reached: int
    sendable: int
    texted: int  # targets sent at least one link
    not_reachable: int  # no phone, or no smartphone to open a link
    capped: int  # sent MAX_LINKS already and still not reached


def link_summary(
    campaign: Campaign, *, now: datetime | None = None, resend_after: timedelta = RESEND_AFTER
) -> LinkSummary:
    """Counts the campaign's targets by where their links stand, in one query."""
    now = now or timezone.now()
    sendable = Q(
        Q(link_sent_at__isnull=True) | Q(link_sent_at__lte=now - resend_after),
        reachable=True,
        reached_at__isnull=True,
        status__in=SENDABLE,
        links_sent__lt=MAX_LINKS,
    )
    counts = (
        CampaignTarget.objects.filter(campaign=campaign)
        .annotate(reachable=h5_reachable())
        .aggregate(
            targets=Count("pk"),
            reached=Count("pk", filter=Q(reached_at__isnull=False)),
            sendable=Count("pk", filter=sendable),
            texted=Count("pk", filter=Q(links_sent__gt=0)),
            not_reachable=Count("pk", filter=Q(reachable=False)),
            capped=Count("pk", filter=Q(links_sent__gte=MAX_LINKS, reached_at__isnull=True)),
        )
    )
    return LinkSummary(**counts)


@dataclass(frozen=True)
class SendProgress:
    """A send run as the progress bar shows it."""

    planned: int
    sent: int
    failed: int
    finished: bool
    error: bool  # the task stopped on an error

    @property
    def percent(self) -> int:
        if self.finished and not self.error:
            return 100
        if not self.planned:
            return 0
        return min(100, round(100 * (self.sent + self.failed) / self.planned))


def send_progress(
    campaign: Campaign, *, result_id: str, since: datetime, planned: int
) -> SendProgress:
    """Returns how far a queued send run has got.

    The counts come from the targets themselves (texted since the run was queued) and the
    failed H5 attempts since then, so they hold whichever task backend runs the work; the
    task's own state, where the backend keeps it, says when it is over."""
    sent = CampaignTarget.objects.filter(campaign=campaign, link_sent_at__gte=since).count()
    failed = ContactAttempt.objects.filter(
        campaign=campaign,
        channel=ChannelCode.H5,
        outcome=AttemptOutcome.FAILED,
        created_at__gte=since,
    ).count()
    status = _task_status(result_id)
    error = status == TaskResultStatus.FAILED
    if status is None:
        # A backend that keeps no results (the inline one) has finished before the page is
        # shown; otherwise the counts tell.
        finished = not send_links_task.get_backend().supports_get_result or (
            sent + failed >= planned
        )
    else:
        finished = status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
    return SendProgress(planned=planned, sent=sent, failed=failed, finished=finished, error=error)


def _task_status(result_id: str) -> str | None:
    if not result_id or not send_links_task.get_backend().supports_get_result:
        return None
    try:
        return send_links_task.get_result(result_id).status
    except Exception:  # an unknown id (pruned results): fall back on the counts
        return None


__all__ = [
    "MAX_LINKS",
    "PURPOSE",
    "RESEND_AFTER",
    "ExpiredLink",
    "InvalidLink",
    "LinkRun",
    "LinkSummary",
    "ResidentScreen",
    "SendJob",
    "SendProgress",
    "Stage",
    "check_sendable",
    "community_name",
    "enqueue_send_links",
    "link_for",
    "link_for_token",
    "link_summary",
    "resident_screen",
    "send_link",
    "send_links",
    "send_links_task",
    "send_progress",
    "sms_text",
    "target_from_token",
    "target_id_from_token",
    "token_for",
]
