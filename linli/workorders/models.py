"""Work orders (工单): every obligation Linli hands to someone, with a clock on it.

A WorkOrder is one thing someone must do (a need, a door visit, a plan step): a kind (filled
in by the apps above, linli.workorders.kinds), a subject (a person, a household, or just an
area), the area it lies in (its jurisdiction), a priority class whose service levels give the
accept and done deadlines, a state (one transition table in services.transitions), and an
assignee (a user, or the queue of an area). Every transition is a WorkOrderTransition row and
an audit event.

Escalation (services.escalation): while an order waits to be accepted, its ladder notifies
the assignee, then the levels above, step by step, until someone acknowledges. Each notice
is an EscalationNotice row, unique per (order, cycle, step, repeat), so a sweep that crashes
or runs twice never sends a step twice nor skips one; what each notice sends goes out through
the notification channels (linli.workorders.notify): the bell (Notification), SMS, webhooks.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from linli.areas.models import Area
from linli.core.jurisdiction import JurisdictionQuerySet
from linli.core.sensitivity import Sensitivity
from linli.registry.models import Household, Person

P, S, PUB, ID = (
    Sensitivity.PERSONAL,
    Sensitivity.SENSITIVE,
    Sensitivity.PUBLIC,
    Sensitivity.IDENTIFIER,
)


class WorkOrderAction(models.TextChoices):
    """What the work-order engine writes to the audit log (registered in WorkordersConfig)."""

    RAISE = "work_order_raise", _("Raised a work order")
    DISPATCH = "work_order_dispatch", _("Dispatched a work order")
    ACCEPT = "work_order_accept", _("Accepted a work order")
    START = "work_order_start", _("Started a work order")
    DONE = "work_order_done", _("Finished a work order")
    CONFIRM = "work_order_confirm", _("Recorded the resident's confirmation of a work order")
    REOPEN = "work_order_reopen", _("Reopened a work order")
    CANCEL = "work_order_cancel", _("Cancelled a work order")
    MERGE = "work_order_merge", _("Merged a duplicate work order")
    ACKNOWLEDGE = "work_order_acknowledge", _("Acknowledged a work order's escalation")
    ESCALATE = "work_order_escalate", _("Escalated overdue work orders")
    SERVICE_LEVEL = "work_order_service_level", _("Changed a work-order service level")


class WorkOrderState(models.TextChoices):
    # Context: the 12345 hotline's words (派单 → 接单 → 办结 → 回访).
    NEW = "new", pgettext_lazy("work order state", "Awaiting dispatch")
    DISPATCHED = "dispatched", pgettext_lazy("work order state", "Dispatched")
    ACCEPTED = "accepted", pgettext_lazy("work order state", "Accepted")
    IN_PROGRESS = "in_progress", pgettext_lazy("work order state", "In progress")
    DONE = "done", pgettext_lazy("work order state", "Done")
    CONFIRMED = "confirmed", pgettext_lazy("work order state", "Confirmed by the resident")
    CANCELLED = "cancelled", pgettext_lazy("work order state", "Cancelled")
    MERGED = "merged", pgettext_lazy("work order state", "Merged as a duplicate")


# Someone still has to act on these.
OPEN_STATES = (
    WorkOrderState.NEW,
    WorkOrderState.DISPATCHED,
    WorkOrderState.ACCEPTED,
    WorkOrderState.IN_PROGRESS,
)
# Waiting for someone to take it: the escalation ladder runs in these.
AWAITING_ACCEPT = (WorkOrderState.NEW, WorkOrderState.DISPATCHED)


class Priority(models.TextChoices):
    P0 = "p0", _("P0 urgent")
    P1 = "p1", _("P1 prompt")
    P2 = "p2", _("P2 routine")


class RaisedVia(models.TextChoices):
    """Through what a work order was raised or changed (who, when, through what)."""

    WEB = "web", _("Staff page")
    H5 = "h5", _("Resident's H5 page")
    PHONE = "phone", _("Phone robot")
    HOTLINE = "hotline", _("Hotline")
    SMS = "sms", _("SMS")
    API = "api", _("API")
    SYSTEM = "system", _("System")


class LadderRung(models.TextChoices):
    """Who a step of an escalation ladder notifies."""

    ASSIGNEE = "assignee", _("The assignee")
    COMMUNITY_LEAD = "community_lead", _("The community lead")
    STREET_OFFICER = "street_officer", _("The street duty officer")
    DISTRICT_OFFICER = "district_officer", _("The district officer")
    CITY_OFFICER = "city_officer", _("The city officer")


class WorkOrderQuerySet(JurisdictionQuerySet):
    def open(self) -> "WorkOrderQuerySet":
        return self.filter(state__in=OPEN_STATES)


class WorkOrder(models.Model):
    """One obligation: see the module docstring."""

    jurisdiction_path = "area_path"
    audit_type = "work_order"
    field_sensitivity = {
        "id": PUB,
        "kind": P,
        "category": S,
        "person": P,
        "household": P,
        "area": P,
        "area_path": P,
        "raised_by": PUB,
        "raised_via": P,
        "contact_name": P,
        "text": S,
        "external_source": PUB,
        "external_reference": PUB,
        "priority": P,
        "priority_reason": S,
        "state": P,
        "accept_by": P,
        "done_by": P,
        "assignee": PUB,
        "queue_area": P,
        "merged_into": P,
        "cycle": PUB,
        "escalation_plan": PUB,
        "escalation_started_at": P,
        "next_escalation_at": P,
        "acknowledged_at": P,
        "acknowledged_by": PUB,
        "done_note": S,
        "cancel_reason": P,
        "satisfied": P,
        "rating": P,
        "created_at": P,
        "updated_at": P,
        "dispatched_at": P,
        "accepted_at": P,
        "started_at": P,
        "done_at": P,
        "closed_at": P,
    }

    kind = models.CharField(_("kind"), max_length=40)
    # The higher app's sub-class of the kind (a need's category): with the household, what
    # makes a second open order a duplicate.
    category = models.CharField(_("category"), max_length=40, blank=True)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64, editable=False)
    raised_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    raised_via = models.CharField(_("raised through"), max_length=16, choices=RaisedVia.choices)
    contact_name = models.CharField(_("contact"), max_length=60, blank=True)
    text = models.TextField(_("description"), max_length=2000, blank=True)
    external_source = models.CharField(max_length=40, blank=True)
    external_reference = models.CharField(max_length=100, blank=True)
    priority = models.CharField(_("priority"), max_length=4, choices=Priority.choices)
    priority_reason = models.CharField(_("why this priority"), max_length=200, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=WorkOrderState.choices, default=WorkOrderState.NEW
    )
    accept_by = models.DateTimeField(_("accept by"))
    done_by = models.DateTimeField(_("done by"))
    assignee = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Dispatched to everyone in charge of an area rather than to one person.
    queue_area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )
    # Escalation: a cycle starts at each dispatch or reopening; its ladder (a snapshot of the
    # area's service level at that moment) runs from escalation_started_at until someone
    # acknowledges or the order is accepted. next_escalation_at is when the sweep next has
    # something to send for it (None: nothing), so a sweep reads only the orders that are due.
    cycle = models.PositiveIntegerField(default=0)
    escalation_plan = models.JSONField(default=dict, blank=True)
    escalation_started_at = models.DateTimeField(null=True, blank=True)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_note = models.CharField(_("note"), max_length=500, blank=True)
    cancel_reason = models.CharField(_("reason"), max_length=200, blank=True)
    satisfied = models.BooleanField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = WorkOrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["accept_by", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_source", "external_reference"],
                condition=~Q(external_reference=""),
                name="workorder_external_reference",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="workorder_rating_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "area_path"], name="workorder_state_path"),
            models.Index(fields=["assignee", "state", "done_by"], name="workorder_assignee"),
            models.Index(fields=["household", "kind", "state"], name="workorder_household"),
            models.Index(
                fields=["next_escalation_at"],
                condition=Q(next_escalation_at__isnull=False),
                name="workorder_escalation_due",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @classmethod
    def audit_url(cls, object_id: int) -> str:
        from django.urls import reverse

        return reverse("workorders:detail", args=[object_id])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class WorkOrderTransition(models.Model):
    """One change of a work order's state or assignee: who, when, through what, from → to."""

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "order": PUB,
        "area_path": P,
        "action": PUB,
        "from_state": PUB,
        "to_state": PUB,
        "by": PUB,
        "via": P,
        "at": P,
        "note": S,
        "assignee": PUB,
        "queue_area": P,
    }

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="transitions")
    area_path = models.CharField(max_length=64)
    action = models.CharField(max_length=40)  # a WorkOrderAction
    from_state = models.CharField(max_length=16, choices=WorkOrderState.choices, blank=True)
    to_state = models.CharField(max_length=16, choices=WorkOrderState.choices)
    by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    via = models.CharField(max_length=16, choices=RaisedVia.choices)
    at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    # After a dispatch: to whom (reassignment keeps every earlier row).
    assignee = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    queue_area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("work order transition")
        verbose_name_plural = _("work order transitions")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"], name="wotransition_order_at")]

    def __str__(self) -> str:
        return f"{self.order_id}:{self.from_state}→{self.to_state}"


class ServiceLevel(models.Model):
    """An area's own service level for a priority class; below it, the nearest ancestor's
    setting wins (services.service_levels), and the defaults where no area has one."""

    jurisdiction_path = "area_path"
    audit_type = "work_order_service_level"

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="+")
    area_path = models.CharField(max_length=64, editable=False)
    priority = models.CharField(_("priority"), max_length=4, choices=Priority.choices)
    accept_minutes = models.PositiveIntegerField(_("accept within (minutes)"))
    done_minutes = models.PositiveIntegerField(_("done within (minutes)"))
    # [[minutes after the start, LadderRung], ...] in order; repeat_minutes: how often a step
    # not acknowledged is sent again.
    ladder = models.JSONField(default=list)
    repeat_minutes = models.PositiveIntegerField(default=10)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("work-order service level")
        verbose_name_plural = _("work-order service levels")
        constraints = [
            models.UniqueConstraint(fields=["area", "priority"], name="servicelevel_area_priority")
        ]

    def __str__(self) -> str:
        return f"{self.area_path}:{self.priority}"

    @property
    def audit_label(self) -> str:
        return f"{self.area_path}:{self.priority}"


class EscalationNotice(models.Model):
    """One step of an order's ladder, sent once: (order, cycle, step, repeat) is unique, so
    however often the sweep runs, or however it crashed, a step goes out exactly once."""

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "order": PUB,
        "area_path": P,
        "cycle": PUB,
        "step": PUB,
        "repeat": PUB,
        "rung": PUB,
        "due_at": P,
        "sent_at": P,
        "sweep": PUB,
        "recipients": PUB,
    }

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="notices")
    area_path = models.CharField(max_length=64)
    cycle = models.PositiveIntegerField()
    step = models.PositiveSmallIntegerField()
    repeat = models.PositiveSmallIntegerField()
    rung = models.CharField(max_length=20, choices=LadderRung.choices)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField()
    # The sweep that wrote it: a sweep finds the notices it added among those it tried to add.
    sweep = models.CharField(max_length=32)
    recipients = models.JSONField(default=list)  # user ids

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("escalation notice")
        verbose_name_plural = _("escalation notices")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "cycle", "step", "repeat"], name="notice_once_per_step"
            )
        ]
        indexes = [models.Index(fields=["sweep"], name="notice_sweep")]

    def __str__(self) -> str:
        return f"{self.order_id}:{self.cycle}.{self.step}.{self.repeat}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class NoticeDelivery(models.Model):
    """A notice going out through one channel other than the bell (SMS, webhook, robot
    call): written with the notice, sent after the sweep commits, marked when sent."""

    notice = models.ForeignKey(
        EscalationNotice, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=20)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("notice delivery")
        verbose_name_plural = _("notice deliveries")
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(status="pending"),
                name="delivery_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.notice_id}:{self.channel}"


class Notification(models.Model):
    """The bell: one message to one staff member, unread until they open it."""

    field_sensitivity = {
        "id": PUB,
        "user": PUB,
        "order": PUB,
        "notice": PUB,
        "created_at": PUB,
        "read_at": PUB,
    }

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(
        WorkOrder, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    notice = models.ForeignKey(
        EscalationNotice, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Rendered from the order and the notice in the reader's language, so nothing is stored
    # as text here.
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.order_id}"
