"""Texting residents their H5 links: claims the sendable targets in batches, sends through the
SMS adapter, gives back a claim the gateway refused, and records the run in the audit log."""

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.adapters import sms
from linli.audit.services import record_event
from linli.core import identifiers
from linli.core.actors import Actor, AuditContext
from linli.core.permissions import require
from linli.core.phones import InvalidPhone
from linli.registry.models import Person
from linli.screening.auditing import record_campaign_event
from linli.screening.contact import Dispatch
from linli.screening.h5 import (
    RESEND_AFTER,
    _community_names,
    _link_parts,
    _sender_for,
    _token,
    link_expiry,
    sms_text,
)
from linli.screening.models import (
    AttemptOutcome,
    Campaign,
    CampaignStatus,
    CampaignTarget,
    ChannelCode,
    ScreeningAction,
)
from linli.screening.roles import CAMPAIGN_MANAGERS
from linli.screening.selectors import links as link_selectors
from linli.screening.services import attempts as attempt_services

logger = logging.getLogger(__name__)
# Targets claimed and sent per round: one UPDATE, one backend call, one phone query.
BATCH = 500


def check_sendable(campaign: Campaign, by: Actor, *, now: datetime | None = None) -> None:
    """Raises PermissionDenied unless `by` manages the campaign's area, and ValidationError
    when the campaign cannot send links now (not running, no H5 channel, deadline passed)."""
    require(by, roles=CAMPAIGN_MANAGERS, paths=[campaign.area_path])
    now = now or timezone.now()
    if ChannelCode.H5 not in campaign.channels:
        raise ValidationError(_("This campaign does not use H5 links"))
    if campaign.status != CampaignStatus.RUNNING:
        raise ValidationError(
            _("The campaign is not running (a paused or closed campaign sends nothing)")
        )
    if campaign.deadline is not None and campaign.deadline <= now:
        raise ValidationError(
            _("The deadline has passed; the unreached are on the door-knock lists")
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
    public_url: str = "",
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
    prefix, suffix = _link_parts(public_url)
    if not prefix.startswith(("http://", "https://")):
        # Neither LINLI_PUBLIC_URL nor the address of a request: the phone gets a bare path.
        logger.warning("H5 links of campaign %s have no public address", campaign.pk)
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
        attempt_services.record_attempt(
            channel=ChannelCode.H5,
            # record_attempt() needs only the target's key when no worker records the attempt.
            target=CampaignTarget(pk=claim.target_id, area_path=claim.area_path),
            outcome=AttemptOutcome.FAILED,
            idempotency_key=f"h5-sms:{claim.target_id}:{uuid.uuid4().hex}",
            finished_at=now,
            detail={"sms": delivery.reference, "error": delivery.error},
        )


def send_links(
    *,
    campaign: Campaign,
    by: Actor,
    now: datetime | None = None,
    resend_after: timedelta = RESEND_AFTER,
    public_url: str = "",
    context: AuditContext | None = None,
) -> LinkRun:
    """Texts every sendable target of the campaign its link, once (see
    link_selectors.sendable_targets): one SMS per person not reached yet with a phone H5 can
    reach, never twice within `resend_after`, at most MAX_LINKS per person. Links go to
    settings.LINLI_PUBLIC_URL, or to `public_url` (the address the send was started on) when
    that setting is empty. Records one audit event for the run.

    Raises PermissionDenied unless `by` manages the campaign's area; ValidationError when the
    campaign cannot send (check_sendable).
    """
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign.pk)
    check_sendable(campaign, by, now=now)
    targets = link_selectors.sendable_targets(campaign, now=now, resend_after=resend_after)
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
            for delivery in _deliver(campaign, claims, backend, communities, now, public_url):
                if delivery.accepted:
                    sent += 1
                else:
                    failed += 1
    record_campaign_event(
        ScreeningAction.SEND_LINKS,
        campaign=campaign,
        by=by,
        context=context,
        detail={"channel": ChannelCode.H5.value, "sent": sent, "failed": failed},
    )
    logger.info("H5 links for campaign %s: %s sent, %s refused", campaign.pk, sent, failed)
    return LinkRun(sent=sent, failed=failed)


def send_link(
    target: CampaignTarget, *, now: datetime | None = None, public_url: str = ""
) -> Dispatch | None:
    """Texts one target its link if it is sendable now (the H5 channel's send()); returns
    the Dispatch, or None when there is nothing to send (reached, refused, capped, texted
    recently, no phone or smartphone, a campaign not running) or the gateway refused.
    The link is under settings.LINLI_PUBLIC_URL, else `public_url` (see send_links)."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=target.campaign_id)
    if campaign.status != CampaignStatus.RUNNING or ChannelCode.H5 not in campaign.channels:
        return None
    if campaign.deadline is not None and campaign.deadline <= now:
        return None
    claims = _claim(
        link_selectors.sendable_targets(campaign, now=now).filter(pk=target.pk), now=now, limit=1
    )
    if not claims:
        return None
    with sms.get_backend() as backend:
        [delivery] = _deliver(
            campaign, claims, backend, _community_names([claims[0].area_path]), now, public_url
        )
    record_event(
        action=ScreeningAction.SEND_LINKS,
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
    return Dispatch(
        channel=ChannelCode.H5.value, target_id=target.pk, reference=delivery.reference, at=now
    )
