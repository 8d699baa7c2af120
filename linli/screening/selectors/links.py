"""Who may be texted a link now, and what was sent (the campaign page's link summary)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from linli.registry.models import Person
from linli.screening.contact import reachable_by
from linli.screening.h5 import MAX_LINKS, RESEND_AFTER, SENDABLE
from linli.screening.models import (
    Campaign,
    CampaignTarget,
    ChannelCode,
)

# ---------------------------------------------------------------------------------------------
# Who may be texted


def h5_reachable() -> Exists:
    """Returns the condition (over CampaignTarget) that the H5 channel can reach the person:
    a phone on file and a smartphone to open the link."""
    reachable = Person.objects.filter(reachable_by(ChannelCode.H5), pk=OuterRef("person_id"))
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
