"""The phone robot's state: lines (trunks), the robot of each campaign, the do-not-call list,
and one call job per target.

Everything the dialer knows lives here, so a dialer killed mid-campaign and started again
picks up where the database says: a job being dialled carries the dialer's lease and the
call id of its attempt (the attempt's idempotency key), and an expired lease means that
attempt is closed, never dialled again.
"""

import os
from datetime import time

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from linli.core.jurisdiction import JurisdictionQuerySet
from linli.core.sensitivity import Sensitivity
from linli.registry.models import Person
from linli.screening.models import AreaWideQuerySet, Campaign, CampaignTarget

P, S, ID, PUB = (
    Sensitivity.PERSONAL,
    Sensitivity.SENSITIVE,
    Sensitivity.IDENTIFIER,
    Sensitivity.PUBLIC,
)


class VoiceAction(models.TextChoices):
    """What the phone robot writes to the audit log (registered in VoiceConfig.ready). The
    dialer's own steps on a call are not audited: the attempt they record is the audit."""

    ROBOT_START = "robot_start", _("Started the phone robot")
    ROBOT_RESUME = "robot_resume", _("Resumed the phone robot")
    ROBOT_PAUSE = "robot_pause", _("Paused the phone robot")
    ROBOT_SETTINGS = "robot_settings", _("Changed the phone robot's settings")
    DO_NOT_CALL_ADD = "do_not_call_add", _("Added a number to the do-not-call list")
    DO_NOT_CALL_REMOVE = "do_not_call_remove", _("Removed a number from the do-not-call list")
    LINE_OUTAGE = "line_outage", _("A line stopped dialling: the carrier is failing")
    LINE_RESUMED = "line_resumed", _("A line resumed dialling")


# The line `manage.py dialer --simulated` makes when none exists (shown translated).
SIMULATED_LINE_NAME = "simulated"


class CarrierKind(models.TextChoices):
    SIP = "sip", _("Direct SIP")
    FREESWITCH = "freeswitch", _("FreeSWITCH")
    SIMULATED = "simulated", _("Simulated (demo, load tests)")


# Keys a line's settings may never hold in clear: the secret lives in the environment and the
# settings name the variable (`password_env`).
SECRET_KEYS = frozenset({"password", "secret", "token", "pass", "passwd", "api_key"})


class OutageReason(models.TextChoices):
    """Which carrier-side failures made a line stop dialling (shown on the robot page)."""

    SERVER_ERROR = "server_error", _("the carrier answers calls with a server error")
    TIMEOUT = "timeout", _("the carrier does not answer calls")
    NO_ROUTE = "no_route", _("the carrier cannot be reached")


class Line(models.Model):
    """A line (trunk) the robot calls through: which carrier adapter, its settings, and how
    much it takes (concurrent calls, new calls per second).

    `outage_*` say a dialer stopped dialling on the line after a run of carrier-side failures
    (5xx, no response, no route) and when it tries again; written by the dialer, read by the
    robot page. Empty while the line dials."""

    audit_type = "line"

    field_sensitivity = {
        "id": PUB,
        "name": PUB,
        "carrier": PUB,
        "settings": PUB,
        "max_concurrent": PUB,
        "calls_per_second": PUB,
        "enabled": PUB,
        "outage_reason": PUB,
        "outage_since": PUB,
        "outage_until": PUB,
        "outage_failures": PUB,
        "created_at": PUB,
        "updated_at": PUB,
    }

    name = models.CharField(_("name"), max_length=60, unique=True)
    carrier = models.CharField(_("carrier"), max_length=16, choices=CarrierKind.choices)
    # host, port, transport, username, password_env, caller_id, realm…; never a secret.
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    max_concurrent = models.PositiveIntegerField(_("concurrent calls"), default=30)
    calls_per_second = models.FloatField(_("calls per second"), default=5.0)
    enabled = models.BooleanField(_("enabled"), default=True)
    outage_reason = models.CharField(max_length=16, blank=True, choices=OutageReason.choices)
    outage_since = models.DateTimeField(null=True, blank=True)
    outage_until = models.DateTimeField(null=True, blank=True)  # when dialling is tried again
    outage_failures = models.PositiveIntegerField(default=0)  # carrier failures in the run
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("line")
        verbose_name_plural = _("lines")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        settings = self.settings if isinstance(self.settings, dict) else None
        if settings is None:
            raise ValidationError({"settings": gettext("The settings must be an object.")})
        leaked = sorted(k for k in settings if str(k).lower() in SECRET_KEYS)
        if leaked:
            raise ValidationError(
                {
                    "settings": gettext(
                        "No secrets in clear (%(keys)s): name an environment variable in "
                        "password_env."
                    )
                    % {"keys": ", ".join(leaked)}
                }
            )
        if self.max_concurrent < 1:
            raise ValidationError({"max_concurrent": gettext("At least 1.")})
        if not self.calls_per_second or self.calls_per_second <= 0:
            raise ValidationError({"calls_per_second": gettext("Must be above 0.")})

    @property
    def audit_label(self) -> str:
        return self.name

    def password(self) -> str:
        """Returns the line's password from the environment variable its settings name."""
        name = (self.settings or {}).get("password_env", "")
        return os.environ.get(name, "") if name else ""


class RobotStatus(models.TextChoices):
    RUNNING = "running", pgettext_lazy("robot status", "Calling")
    PAUSED = "paused", pgettext_lazy("robot status", "Paused")


def default_retry_rules() -> dict:
    """By outcome: how many attempts with that outcome before giving up (`max`) and how long
    to wait before the next one (`after_minutes`)."""
    return {
        "no_answer": {"max": 3, "after_minutes": 30},
        "busy": {"max": 3, "after_minutes": 10},
        "failed": {"max": 2, "after_minutes": 15},
        "hung_up": {"max": 2, "after_minutes": 60},
    }


RETRYABLE_OUTCOMES = ("no_answer", "busy", "failed", "hung_up")


class Robot(models.Model):
    """The phone robot of one campaign: whether it calls, when (local calling hours), how it
    retries, and on which line (none: any enabled line). The campaign must be running too."""

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "campaign": PUB,
        "area_path": PUB,
        "status": PUB,
        "calling_start": PUB,
        "calling_end": PUB,
        "retry_rules": PUB,
        "line": PUB,
        "started_at": PUB,
        "paused_at": PUB,
        "updated_by": PUB,
        "created_at": PUB,
        "updated_at": PUB,
    }

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="robot")
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    status = models.CharField(
        _("robot"), max_length=8, choices=RobotStatus.choices, default=RobotStatus.PAUSED
    )
    calling_start = models.TimeField(_("calls from"), default=time(8, 0))
    calling_end = models.TimeField(_("calls until"), default=time(21, 0))
    retry_rules = models.JSONField(_("retry rules"), default=default_retry_rules)
    line = models.ForeignKey(Line, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AreaWideQuerySet.as_manager()

    class Meta:
        verbose_name = _("phone robot")
        verbose_name_plural = _("phone robots")
        constraints = [
            models.CheckConstraint(
                condition=Q(calling_start__lt=models.F("calling_end")),
                name="robot_calling_hours_order",
            )
        ]

    def __str__(self) -> str:
        return f"robot {self.campaign_id}"


class DoNotCall(models.Model):
    """A number the robot never dials, kept as the registry keeps phones: its keyed hash
    (linli.core.identifiers.keyed_hash("phone", number)), never the number."""

    audit_type = "do_not_call"

    field_sensitivity = {
        "id": PUB,
        "phone_hash": ID,
        "reason": P,
        "added_by": PUB,
        "created_at": PUB,
    }

    phone_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    added_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("do-not-call number")
        verbose_name_plural = _("do-not-call list")

    def __str__(self) -> str:
        return f"dnc {self.pk}"


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    DIALLING = "dialling", _("Dialling")
    IN_CALL = "in_call", _("In call")
    DONE = "done", pgettext_lazy("call job", "Done")
    WAITING_RETRY = "waiting_retry", _("Waiting to retry")
    GIVEN_UP = "given_up", _("Given up")


DUE_STATES = (JobState.QUEUED, JobState.WAITING_RETRY)
ACTIVE_STATES = (JobState.DIALLING, JobState.IN_CALL)


class CallJob(models.Model):
    """The robot's work for one target: the current attempt (`attempt`, `call_id`), when the
    next one is due, and who holds it while a call is on.

    `call_id` is the current attempt's idempotency key: its ContactAttempt (outcome and every
    answer) is stored under it, so an attempt closed twice (by a dialer thought dead and by
    the one recovering its job) counts once. `answers` journals the answers of the call in
    progress as they are given, so a crash loses none. A person is never in
    two calls at once: at most one of their jobs (over every campaign) is active.
    """

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "campaign": PUB,
        "target": P,
        "person": P,
        "area_path": P,
        "state": P,
        "attempt": P,
        "next_at": P,
        "priority": S,  # derived from vulnerable-group tags
        "lease_owner": PUB,
        "lease_expires_at": PUB,
        "line": PUB,
        "call_id": PUB,
        "dialled_at": P,
        "sip_dialog": ID,
        "last_outcome": P,
        "outcome_counts": P,
        "answers": S,
        "started_at": P,
        "finished_at": P,
        "created_at": PUB,
        "updated_at": PUB,
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    target = models.OneToOneField(CampaignTarget, on_delete=models.CASCADE, related_name="call_job")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64)
    state = models.CharField(
        _("state"), max_length=16, choices=JobState.choices, default=JobState.QUEUED
    )
    attempt = models.PositiveIntegerField(default=0)  # attempts started so far
    next_at = models.DateTimeField()
    # Lower first: 0 for people with a vulnerable-group tag, 1 for everyone else.
    priority = models.PositiveSmallIntegerField(default=1)
    lease_owner = models.CharField(max_length=80, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    line = models.ForeignKey(Line, null=True, blank=True, on_delete=models.SET_NULL)
    call_id = models.CharField(max_length=60, blank=True)
    # When the current attempt's call was placed (its number rang): a job a dead dialer claimed
    # but never dialled has none, and goes back to the queue untouched.
    dialled_at = models.DateTimeField(null=True, blank=True)
    # The SIP dialog of the answered call in progress (Call-ID, tags, remote target, route set,
    # CSeq), encrypted (the remote target may hold the number): the dialer that recovers the
    # job after a crash sends its BYE. Emptied when the attempt is recorded.
    sip_dialog = models.TextField(blank=True)
    last_outcome = models.CharField(max_length=16, blank=True)
    outcome_counts = models.JSONField(default=dict, blank=True)
    # The journal of the attempt in progress: each answer as the resident gives it, by
    # question key, as the dialogue read it. The attempt's ContactAttempt is recorded once, at
    # the end of the call, with every answer; a dialer that dies mid-call leaves its answers
    # here for the recovery to record. Emptied when the attempt is recorded.
    answers = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("call job")
        verbose_name_plural = _("call jobs")
        ordering = ["priority", "next_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(state__in=["dialling", "in_call"]),
                name="calljob_one_call_per_person",
            )
        ]
        indexes = [
            models.Index(
                fields=["priority", "next_at", "id"],
                condition=Q(state__in=["queued", "waiting_retry"]),
                name="calljob_due",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(state__in=["dialling", "in_call"]),
                name="calljob_leased",
            ),
            models.Index(fields=["campaign", "state"], name="calljob_campaign_state"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk}:{self.state}"
