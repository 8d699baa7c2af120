"""The call queue: one call job per target the robot can call, the vulnerable first, queued
when the robot starts (enqueue_calls) or when the robot's PhoneChannel sends to one target
(queue_call). Which targets are dialable is decided here; the dialer's claim and sweep
(calls) read the same filter.
"""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from linli.registry.models import PersonTag, VulnerableTag
from linli.screening.models import Campaign, CampaignTarget, TargetStatus
from linli.voice.models import ACTIVE_STATES, DUE_STATES, CallJob, JobState

# Targets the robot still calls: nobody reached them and nothing says not to call, or they
# hung up mid-way (reached, but the questionnaire is not complete).
DIALABLE = (TargetStatus.PENDING, TargetStatus.NO_ANSWER)


def dialable(prefix: str = "") -> Q:
    return Q(**{f"{prefix}status__in": DIALABLE}) | Q(
        **{f"{prefix}status": TargetStatus.REACHED, f"{prefix}complete": False}
    )


# Vulnerable-group tags that put a person first in the queue (no smartphone is not one).
PRIORITY_TAGS = tuple(t for t in VulnerableTag.values if t != VulnerableTag.NO_SMARTPHONE)


def _dialable_targets(campaign: Campaign) -> QuerySet[CampaignTarget]:
    return CampaignTarget.objects.filter(
        campaign=campaign, status__in=DIALABLE, call_job__isnull=True
    ).exclude(person__phone_hash="")


def enqueue_calls(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Queues one call job for every target the robot can call that has none yet, the
    vulnerable first. Returns how many were queued (safe to repeat)."""
    now = now or timezone.now()
    vulnerable = PersonTag.objects.filter(person_id=OuterRef("person_id"), tag__in=PRIORITY_TAGS)
    rows = _dialable_targets(campaign).annotate(vulnerable=Exists(vulnerable))
    queued = 0
    batch: list[CallJob] = []
    for target_id, person_id, path, is_vulnerable in rows.values_list(
        "id", "person_id", "area_path", "vulnerable"
    ).iterator(chunk_size=2000):
        batch.append(
            CallJob(
                campaign_id=campaign.pk,
                target_id=target_id,
                person_id=person_id,
                area_path=path,
                next_at=now,
                priority=0 if is_vulnerable else 1,
            )
        )
        if len(batch) >= 2000:
            queued += len(CallJob.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        queued += len(CallJob.objects.bulk_create(batch, ignore_conflicts=True))
    return queued


def queue_call(*, target: CampaignTarget, now: datetime | None = None) -> CallJob | None:
    """Queues (or brings forward) the robot's call to one target: None when the robot cannot
    call them (no phone, reached, refused, wrong number) or a call is under way."""
    now = now or timezone.now()
    target = CampaignTarget.objects.select_related("person", "campaign").get(pk=target.pk)
    if not target.person.phone_hash or not (
        target.status in DIALABLE or (target.status == TargetStatus.REACHED and not target.complete)
    ):
        return None
    vulnerable = PersonTag.objects.filter(person_id=target.person_id, tag__in=PRIORITY_TAGS)
    job, created = CallJob.objects.get_or_create(
        target=target,
        defaults={
            "campaign_id": target.campaign_id,
            "person_id": target.person_id,
            "area_path": target.area_path,
            "next_at": now,
            "priority": 0 if vulnerable.exists() else 1,
        },
    )
    if not created:
        if job.state in ACTIVE_STATES:
            return None
        CallJob.objects.filter(pk=job.pk, state__in=[*DUE_STATES, JobState.GIVEN_UP]).update(
            state=JobState.QUEUED, next_at=now, updated_at=now
        )
        job.refresh_from_db()
    return job
