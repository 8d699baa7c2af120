"""The robot page of a campaign: start, pause and resume the phone robot, set its calling
hours, retry rules and line, and watch it work (lines in use, calls per minute, jobs by
state), refreshed by htmx every few seconds.

For campaign managers (linli.screening.services.CAMPAIGN_MANAGERS): 404 for a campaign the
user cannot see, 403 for a role that does not run campaigns; changing the robot of a
campaign over an area above the user's own is refused by the call_services.
"""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from linli.core.actors import AuditContext
from linli.core.errors import add_errors_to_form
from linli.core.jurisdiction import path_within
from linli.core.permissions import require
from linli.screening.models import AttemptOutcome, Campaign, ChannelCode
from linli.screening.roles import CAMPAIGN_MANAGERS
from linli.voice import selectors
from linli.voice.models import RETRYABLE_OUTCOMES, Robot, RobotStatus
from linli.voice.services import robots as robot_services

LIVE_SECONDS = 5


class RobotSettingsForm(forms.Form):
    calling_start = forms.TimeField(
        label=gettext_lazy("Calls from"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    calling_end = forms.TimeField(
        label=gettext_lazy("Calls until"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    line = forms.ModelChoiceField(
        label=gettext_lazy("Line"),
        queryset=selectors.enabled_lines(),
        required=False,
        empty_label=gettext_lazy("Any enabled line"),
    )

    def __init__(self, *args, robot: Robot, **kwargs):
        rules = robot.retry_rules or {}
        initial = {
            "calling_start": robot.calling_start,
            "calling_end": robot.calling_end,
            "line": robot.line_id,
        }
        for outcome in RETRYABLE_OUTCOMES:
            rule = rules.get(outcome, {})
            initial[f"{outcome}_max"] = rule.get("max", 0)
            initial[f"{outcome}_after"] = rule.get("after_minutes", 30)
        super().__init__(*args, initial=initial, **kwargs)
        labels = dict(AttemptOutcome.choices)
        for outcome in RETRYABLE_OUTCOMES:
            self.fields[f"{outcome}_max"] = forms.IntegerField(
                label=_("%(outcome)s: attempts") % {"outcome": labels[outcome]},
                min_value=0,
                max_value=robot_services.MAX_RETRIES_PER_OUTCOME,
            )
            self.fields[f"{outcome}_after"] = forms.IntegerField(
                label=_("%(outcome)s: retry after (minutes)") % {"outcome": labels[outcome]},
                min_value=1,
                max_value=robot_services.MAX_RETRY_MINUTES,
            )

    def clean(self):
        data = super().clean()
        start, end = data.get("calling_start"), data.get("calling_end")
        if start and end and start >= end:
            self.add_error("calling_end", _("The end must be after the start (no night calls)."))
        return data

    def rules(self) -> dict:
        data = self.cleaned_data
        return {
            outcome: {"max": data[f"{outcome}_max"], "after_minutes": data[f"{outcome}_after"]}
            for outcome in RETRYABLE_OUTCOMES
        }

    def rule_rows(self):
        labels = dict(AttemptOutcome.choices)
        return [(labels[o], self[f"{o}_max"], self[f"{o}_after"]) for o in RETRYABLE_OUTCOMES]


def _campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    campaign = selectors.campaign_for(request.user, campaign_id)
    require(request.user, roles=CAMPAIGN_MANAGERS)
    return campaign


def _may_manage(user, campaign: Campaign) -> bool:
    return getattr(user, "is_superuser", False) or path_within(campaign.area_path, user)


def _context(request: HttpRequest, campaign: Campaign, form=None) -> dict:
    view = selectors.robot_view(campaign)
    return {
        "campaign": campaign,
        "view": view,
        "robot": view.robot,
        "uses_phone": ChannelCode.PHONE in campaign.channels,
        "may_manage": _may_manage(request.user, campaign),
        "form": form or RobotSettingsForm(robot=view.robot),
        "live_seconds": LIVE_SECONDS,
        "running": view.robot.status == RobotStatus.RUNNING,
    }


@login_required
@require_GET
def robot_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    return render(request, "voice/robot.html", _context(request, campaign))


@login_required
@require_GET
def robot_live(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The figures alone (htmx swaps them every LIVE_SECONDS)."""
    campaign = _campaign(request, campaign_id)
    return render(request, "voice/partials/robot_live.html", _context(request, campaign))


def _report(
    request: HttpRequest, action, done: str | Callable[[Campaign], str], campaign: Campaign
) -> None:
    try:
        action(campaign=campaign, by=request.user, context=AuditContext.from_request(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done if isinstance(done, str) else done(campaign))


@login_required
@require_POST
def robot_start(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Starts or resumes the robot (queues the calls not queued yet)."""
    campaign = _campaign(request, campaign_id)
    _report(request, robot_services.start_robot, _started_message, campaign)
    return redirect("voice:campaign", campaign_id=campaign.pk)


def _started_message(campaign: Campaign) -> str:
    """What the lead is told once the robot started: calling, or when it will."""
    robot = Robot.objects.get(campaign=campaign)
    state, _label, reason = selectors.robot_state(robot, timezone.now())
    if state == selectors.RobotState.WAITING:
        return _("The robot is started. %(reason)s") % {"reason": reason}
    return _("The robot is calling.")


@login_required
@require_POST
def robot_pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    _report(
        request,
        robot_services.pause_robot,
        _("Paused: no new call is placed; calls in progress finish."),
        campaign,
    )
    return redirect("voice:campaign", campaign_id=campaign.pk)


@login_required
@require_POST
def robot_settings(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    robot = selectors.robot_view(campaign).robot
    form = RobotSettingsForm(request.POST, robot=robot)
    if form.is_valid():
        try:
            robot_services.configure_robot(
                campaign=campaign,
                by=request.user,
                calling_start=form.cleaned_data["calling_start"],
                calling_end=form.cleaned_data["calling_end"],
                retry_rules=form.rules(),
                line=form.cleaned_data["line"],
                context=AuditContext.from_request(request),
            )
        except ValidationError as error:
            add_errors_to_form(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Robot settings saved."))
            return redirect("voice:campaign", campaign_id=campaign.pk)
    return render(request, "voice/robot.html", _context(request, campaign, form), status=400)
