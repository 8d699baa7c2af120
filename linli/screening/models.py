"""Screening (排查): questionnaires, campaigns over a target set, and every contact attempt.

A campaign runs one frozen questionnaire version over the people of an area subtree. Each
person gets a CampaignTarget (their current screening status, answers and risk, with the
provenance of every answer); every call, door knock or H5 submission is a ContactAttempt.
Answers are health data: class `sensitive`.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from linli.areas.models import PATH_SEGMENT_WIDTH, Area
from linli.core.jurisdiction import JurisdictionQuerySet, paths_of
from linli.core.sensitivity import Sensitivity
from linli.registry.models import Household, Person
from linli.screening.questionnaires.schema import FollowUp, RiskLevel

P, S, PUB = Sensitivity.PERSONAL, Sensitivity.SENSITIVE, Sensitivity.PUBLIC


class ScreeningAction(models.TextChoices):
    """What screening writes to the audit log (registered in ScreeningConfig.ready)."""

    SCREENING_ANSWER = "screening_answer", _("Recorded screening answers")
    SEND_LINKS = "send_links", _("Sent screening links by SMS")
    QUESTIONNAIRE_CREATE = "questionnaire_create", _("Created a questionnaire")
    QUESTIONNAIRE_EDIT = "questionnaire_edit", _("Edited a questionnaire")
    CAMPAIGN_CREATE = "campaign_create", _("Created a screening campaign")
    CAMPAIGN_EDIT = "campaign_edit", _("Changed a screening campaign")
    CAMPAIGN_LAUNCH = "campaign_launch", _("Launched a screening campaign")
    CAMPAIGN_PAUSE = "campaign_pause", _("Paused a screening campaign")
    CAMPAIGN_RESUME = "campaign_resume", _("Resumed a screening campaign")
    CAMPAIGN_CLOSE = "campaign_close", _("Closed a screening campaign")
    CAMPAIGN_ESCALATE = "campaign_escalate", _("Moved residents to the door-knock lists")
    FOLLOW_UP_RAISE = "follow_up_raise", _("Raised follow-up tasks")
    FOLLOW_UP_CLOSE = "follow_up_close", _("Closed a follow-up task")
    VISIT_REQUEST = "visit_request", _("Requested a door visit")


class ChannelCode(models.TextChoices):
    H5 = "h5", _("H5 link (SMS)")
    DOOR_KNOCK = "door_knock", _("Door knock")
    PHONE = "phone", _("Phone robot")


class CampaignStatus(models.TextChoices):
    # Context: "Running" is also an import batch's status, which reads differently in Chinese.
    DRAFT = "draft", pgettext_lazy("campaign status", "Draft")
    RUNNING = "running", pgettext_lazy("campaign status", "Running")
    PAUSED = "paused", pgettext_lazy("campaign status", "Paused")
    CLOSED = "closed", pgettext_lazy("campaign status", "Closed")


class TargetUnit(models.TextChoices):
    PERSON = "person", _("Every resident")
    HOUSEHOLD = "household", _("One per household")


class TargetStatus(models.TextChoices):
    PENDING = "pending", _("Not contacted yet")
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    REFUSED = "refused", _("Refused")
    UNREACHABLE = "unreachable", _("Unreachable (wrong number)")
    NEEDS_DOOR_KNOCK = "needs_door_knock", _("Needs a door knock")


class AttemptOutcome(models.TextChoices):
    ANSWERED = "answered", _("Answered")
    NO_ANSWER = "no_answer", _("No answer")
    REFUSED = "refused", _("Refused")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    NOT_AT_HOME = "not_at_home", _("Not at home")
    BUSY = "busy", _("Busy")
    FAILED = "failed", _("Failed")
    HUNG_UP = "hung_up", _("Hung up")
    # Cut by our side (a dialer that crashed or was stopped), not by the person: never counted
    # against their retries.
    INTERRUPTED = "interrupted", _("Interrupted")


class DoorKnockReason(models.TextChoices):
    """Why a target is on a door-knock list (shown to the grid worker)."""

    DOOR_KNOCK_ONLY = "door_knock_only", _("Campaign is door-knock only")
    NO_PHONE = "no_phone", _("No phone or smartphone for the remote channels")
    UNREACHABLE = "unreachable", _("Wrong number")
    DEADLINE = "deadline", _("Not reached by the deadline")
    NEED_HELP = "need_help", _("Said they need help")
    NOT_AT_HOME = "not_at_home", _("Not at home at an earlier visit")


class AreaWideQuerySet(JurisdictionQuerySet):
    """Rows that belong to an area and concern everyone working in it or above it.

    A community's campaign is visible to its grid workers (who work below it) as well as to
    the street officer above it: visible_to also admits rows whose area is an ancestor of one
    of the user's areas. The rows hold no personal data; what a user sees *inside* them
    (targets, answers) is scoped by the targets' own paths.
    """

    def visible_to(self, user):
        field = self.model.jurisdiction_path
        step = PATH_SEGMENT_WIDTH + 1
        condition = Q()
        ancestors: set[str] = set()
        for prefix in paths_of(user):
            condition |= Q(**{f"{field}__startswith": prefix})
            ancestors.update(prefix[: step * i] for i in range(1, len(prefix) // step))
        if ancestors:
            condition |= Q(**{f"{field}__in": sorted(ancestors)})
        return self.filter(condition) if condition else self.none()


class Questionnaire(models.Model):
    """A questionnaire a community (or a level above) owns; its content lives in versions."""

    jurisdiction_path = "area_path"
    audit_type = "screening_questionnaire"

    field_sensitivity = {
        "id": PUB,
        "name": PUB,
        "area": PUB,
        "area_path": PUB,
        "template": PUB,
        "created_by": PUB,
        "created_at": PUB,
        "updated_at": PUB,
    }

    name = models.CharField(_("name"), max_length=100)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    template = models.CharField(_("template"), max_length=32, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AreaWideQuerySet.as_manager()

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class QuestionnaireVersion(models.Model):
    """One version of a questionnaire's definition (linli.screening.questionnaires).

    Frozen (`frozen_at`) when a campaign is launched with it: from then on it never changes,
    and editing the questionnaire makes the next version.
    """

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "questionnaire": PUB,
        "number": PUB,
        "definition": PUB,
        "area_path": PUB,
        "created_by": PUB,
        "created_at": PUB,
        "updated_at": PUB,
        "frozen_at": PUB,
    }

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"))
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    frozen_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AreaWideQuerySet.as_manager()

    class Meta:
        verbose_name = _("questionnaire version")
        verbose_name_plural = _("questionnaire versions")
        ordering = ["questionnaire", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "number"], name="questionnaireversion_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire_id} v{self.number}"

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None


class Campaign(models.Model):
    """A screening campaign: one questionnaire version over the people of an area subtree who
    match the target filters, through some channels, until a deadline."""

    jurisdiction_path = "area_path"
    audit_type = "screening_campaign"

    field_sensitivity = {
        "id": PUB,
        "name": PUB,
        "questionnaire_version": PUB,
        "area": PUB,
        "area_path": PUB,
        "target_filters": PUB,
        "channels": PUB,
        "deadline": PUB,
        "status": PUB,
        "emergency": PUB,
        "target_count": PUB,
        "household_count": PUB,
        "created_by": PUB,
        "created_at": PUB,
        "updated_at": PUB,
        "launched_at": PUB,
        "paused_at": PUB,
        "closed_at": PUB,
        "last_escalated_at": PUB,
    }

    name = models.CharField(_("name"), max_length=100)
    questionnaire_version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.PROTECT, related_name="campaigns"
    )
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    # linli.screening.targeting.TargetFilters as JSON.
    target_filters = models.JSONField(_("target filters"), default=dict, blank=True)
    channels = models.JSONField(_("channels"), default=list)  # ChannelCode values
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # The emergency the data is collected under (PIPL): everything the campaign gathered can
    # be found, and purged, by it when the emergency ends.
    emergency = models.CharField(_("emergency"), max_length=64, blank=True, db_index=True)
    target_count = models.PositiveIntegerField(default=0)
    household_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_escalated_at = models.DateTimeField(null=True, blank=True)

    objects = AreaWideQuerySet.as_manager()

    class Meta:
        verbose_name = _("screening campaign")
        verbose_name_plural = _("screening campaigns")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "deadline"], name="campaign_status_deadline")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @property
    def accepts_answers(self) -> bool:
        # A paused campaign sends nothing new but still takes answers to links already out.
        return self.status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED)


class CampaignTarget(models.Model):
    """One person a campaign must reach: their current screening status in it.

    `answers` holds the current answer to each question (merged answer by answer),
    `answer_sources` where each came from ({key: {attempt, channel, at, by, proxy}}), and risk
    is re-evaluated on every change. `reached_at` is set by the first attempt that reached the
    person, whatever the status says later (a person who needs help is reached *and* on the
    door-knock list).
    """

    jurisdiction_path = "area_path"
    audit_type = "screening_target"
    field_sensitivity = {
        "id": PUB,
        "campaign": PUB,
        "person": P,
        "household": P,
        "area_path": P,
        "status": P,
        "risk_level": S,
        "follow_ups": S,
        "risk_reasons": S,
        "needs_help": S,
        "answers": S,
        "answer_sources": P,
        "complete": P,
        "answered_via": P,
        "answered_by_proxy": P,
        "attempt_count": P,
        "last_attempt_at": P,
        "reached_at": P,
        "door_knock_reason": P,
        "escalated_at": P,
        "door_knocked_at": P,
        "link_sent_at": P,
        "links_sent": P,
        "created_at": PUB,
        "updated_at": PUB,
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    area_path = models.CharField(max_length=64)  # the person's, at launch
    status = models.CharField(
        _("status"), max_length=20, choices=TargetStatus.choices, default=TargetStatus.PENDING
    )
    risk_level = models.CharField(
        _("risk"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.NONE
    )
    follow_ups = models.JSONField(default=list, blank=True)  # FollowUp values
    risk_reasons = models.JSONField(default=list, blank=True)
    needs_help = models.BooleanField(default=False)
    answers = models.JSONField(default=dict, blank=True)
    answer_sources = models.JSONField(default=dict, blank=True)
    complete = models.BooleanField(default=False)
    answered_via = models.CharField(max_length=16, choices=ChannelCode.choices, blank=True)
    answered_by_proxy = models.BooleanField(default=False)
    attempt_count = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    reached_at = models.DateTimeField(null=True, blank=True)
    door_knock_reason = models.CharField(max_length=20, choices=DoorKnockReason.choices, blank=True)
    # Set when the target was first put on a door-knock list: escalation happens once, so a
    # refusal at the door is not sent back to the door.
    escalated_at = models.DateTimeField(null=True, blank=True)
    door_knocked_at = models.DateTimeField(null=True, blank=True)  # a visit reached them
    # The H5 link by SMS: when the last one went out and how many (a resend is capped).
    link_sent_at = models.DateTimeField(null=True, blank=True)
    links_sent = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("screening target")
        verbose_name_plural = _("screening targets")
        ordering = ["area_path", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "person"], name="target_campaign_person")
        ]
        indexes = [
            models.Index(fields=["campaign", "area_path"], name="target_campaign_path"),
            models.Index(fields=["campaign", "status", "area_path"], name="target_campaign_status"),
            models.Index(fields=["person", "-created_at"], name="target_person_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.person_id}"


class ContactAttempt(models.Model):
    """One contact with a target as its channel reports it: a call, a door knock, or one H5
    submission (a page saving answer by answer reports one attempt per save).

    `answers` holds the validated answers given in this attempt only; the target holds the
    merged current ones. `idempotency_key` is chosen by the client (or the dialer's call id):
    a retried submission finds its attempt instead of counting twice.
    """

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "target": P,
        "campaign": PUB,
        "area_path": P,
        "channel": P,
        "outcome": P,
        "started_at": P,
        "finished_at": P,
        "answers": S,
        "by": PUB,
        "by_proxy": P,
        "detail": P,
        "idempotency_key": PUB,
        "created_at": PUB,
    }

    target = models.ForeignKey(CampaignTarget, on_delete=models.CASCADE, related_name="attempts")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    area_path = models.CharField(max_length=64)
    channel = models.CharField(_("channel"), max_length=16, choices=ChannelCode.choices)
    outcome = models.CharField(_("outcome"), max_length=16, choices=AttemptOutcome.choices)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    answers = models.JSONField(default=dict, blank=True)
    by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by_proxy = models.BooleanField(default=False)  # a family member answered for the person
    # Channel specifics (SIP cause, SMS id, device id of an offline door-knock form); never a
    # phone number or other identifier in clear.
    detail = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        ordering = ["-finished_at", "-id"]
        indexes = [
            models.Index(fields=["target", "-finished_at"], name="attempt_target_latest"),
            models.Index(fields=["campaign", "finished_at"], name="attempt_campaign_time"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.outcome}"


class TaskStatus(models.TextChoices):
    # Context: bare "Open" / "Done" are also buttons and marks elsewhere.
    OPEN = "open", pgettext_lazy("follow-up status", "Open")
    DONE = "done", pgettext_lazy("follow-up status", "Done")
    DISMISSED = "dismissed", pgettext_lazy("follow-up status", "Dismissed")


class FollowUpTask(models.Model):
    """Work a screening answer created for the person's grid worker: a door visit, a health
    monitoring proposal, or help to arrange. One per target and kind, raised when an answer
    first calls for it; while open it is also the risk flag shown on the person's file.

    Nobody is assigned by name: the task lies at the person's area path, so whoever is in
    charge of that grid (and every level above) sees it, and a change of grid worker hands the
    open tasks over with the grid.
    """

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "campaign": PUB,
        "target": P,
        "person": P,
        "area_path": P,
        "kind": S,
        "risk_level": S,
        "reasons": S,
        "status": P,
        "note": S,
        "created_at": P,
        "updated_at": P,
        "done_at": P,
        "done_by": PUB,
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(CampaignTarget, on_delete=models.CASCADE, related_name="tasks")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(_("follow-up"), max_length=32, choices=FollowUp.choices)
    risk_level = models.CharField(_("risk"), max_length=8, choices=RiskLevel.choices)
    reasons = models.JSONField(default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        ordering = ["status", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "kind"], name="followup_target_kind")
        ]
        indexes = [
            models.Index(fields=["status", "area_path"], name="followup_status_path"),
            models.Index(fields=["person", "status"], name="followup_person_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.person_id}"
