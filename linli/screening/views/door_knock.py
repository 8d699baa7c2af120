"""The door-knock page (敲门行动): a grid worker's phone walks the unreached households of their
grid, building by building and floor by floor, and records each visit on a one-screen form.

The page works without script (each member's form is its own page, posted as a plain form).
With script (static/screening/door_knock.js) the forms open in place and every submission is
kept on the phone first and sent as JSON when the network allows, so a visit recorded in a
stairwell without signal is not lost; the key generated on the phone makes a resend count once.
"""

from datetime import date
from urllib.parse import urlencode
from uuid import uuid4

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from linli.areas.models import Area
from linli.core.actors import AuditContext
from linli.core.clock import local_today
from linli.core.errors import errors_by_field
from linli.core.permissions import require
from linli.core.roles import policy_for
from linli.registry.selectors import present_person
from linli.screening.forms import DoorKnockForm
from linli.screening.models import (
    AttemptOutcome,
    Campaign,
    CampaignTarget,
    DoorKnockReason,
    TargetStatus,
)
from linli.screening.questionnaires.schema import QuestionKind, RiskLevel, questions_of
from linli.screening.roles import SCREENERS, may_record_for
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import door_knocks as door_knock_selectors
from linli.screening.services import door_knocks as door_knock_services

ANSWER_PREFIX = "q_"
TODO = TargetStatus.NEEDS_DOOR_KNOCK


# ---------------------------------------------------------------------------------------------
# Reading the request


def _area_choice(request: HttpRequest, areas: list[Area]) -> Area:
    raw = request.GET.get("area", "")
    if not raw:
        return areas[0]
    area = next((a for a in areas if str(a.pk) == raw), None)
    if area is None:
        raise Http404("area not found")
    return area


def _target(user, campaign: Campaign, raw: object) -> CampaignTarget:
    """Returns the campaign's target inside the user's areas. Raises Http404 (also for a
    target of another grid: its existence is not the worker's business) or ValueError."""
    target_id = int(str(raw))  # ValueError for anything but an id
    target = campaign_selectors.target_for(user, target_id)
    if target.campaign_id != campaign.pk:
        raise Http404("target not found")
    return target


def _list_url(campaign: Campaign, area: str = "", show_all: bool = False, anchor: str = "") -> str:
    params = {"area": area} if str(area).isdigit() else {}
    if show_all:
        params["all"] = "1"
    url = reverse("screening:door_knock", args=[campaign.pk])
    return url + (f"?{urlencode(params)}" if params else "") + (f"#{anchor}" if anchor else "")


# ---------------------------------------------------------------------------------------------
# Presenting


def _outcome_choices() -> list[tuple[str, str]]:
    return [(code, AttemptOutcome(code).label) for code in door_knock_services.DOOR_KNOCK_OUTCOMES]


def _date_bound(bound: object, today: date) -> str:
    return today.isoformat() if bound == "today" else str(bound or "")


def _form_questions(
    definition: dict, values: dict[str, object], errors: dict[str, str], today: date
) -> list[dict]:
    """Returns the questions as the form renders them, with the values and errors of a
    submission being corrected."""
    questions = []
    for question in questions_of(definition):
        key, kind = question["key"], question.get("kind")
        value = values.get(key)
        if kind == QuestionKind.YES_NO and isinstance(value, bool):
            value = "yes" if value else "no"
        picked = value if isinstance(value, list) else [value]
        options = [
            {
                "code": option.get("code"),
                "label": option.get("label"),
                "exclusive": bool(option.get("exclusive")),
                "checked": option.get("code") in picked,
            }
            for option in question.get("options") or []
        ]
        if kind == QuestionKind.YES_NO:
            options = [
                {"code": "yes", "label": _("Yes"), "exclusive": False, "checked": value == "yes"},
                {"code": "no", "label": _("No"), "exclusive": False, "checked": value == "no"},
            ]
        low, high = question.get("min"), question.get("max")
        if kind == QuestionKind.DATE:
            low, high = _date_bound(low, today), _date_bound(high, today)
        questions.append(
            {
                "key": key,
                "name": ANSWER_PREFIX + key,
                "text": question.get("text", ""),
                "kind": kind,
                "required": bool(question.get("required")),
                "options": options,
                "value": "" if value is None or isinstance(value, list) else str(value),
                "min": "" if low is None else low,
                "max": "" if high is None else high,
                "max_length": question.get("max_length", 200),
                "error": errors.get(key, ""),
            }
        )
    return questions


def _form(
    campaign: Campaign,
    *,
    today: date,
    target_id: int | str = "",
    area: str = "",
    show_all: bool = False,
    data: dict | None = None,
    errors: dict[str, str] | None = None,
) -> dict:
    """Returns what the form partial renders: blank (the page's template the script clones)
    or one member's, possibly holding a submission to correct."""
    data, errors = data or {}, errors or {}
    definition = campaign.questionnaire_version.definition
    field_errors = {"outcome", *(q["key"] for q in questions_of(definition))}
    return {
        "submit_url": reverse("screening:door_knock_submit", args=[campaign.pk]),
        "target_id": target_id,
        # A form sent without script also carries a key: a double tap or a resend after
        # "back" stores the visit once.
        "key": data.get("idempotency_key") or uuid4().hex,
        "started_at": data.get("started_at") or timezone.now().isoformat(),
        "area": area,
        "show_all": show_all,
        "intro": definition.get("intro", ""),
        "outcome": data.get("outcome", ""),
        "outcomes": _outcome_choices(),
        "by_proxy": bool(data.get("by_proxy")),
        "questions": _form_questions(definition, data.get("answers") or {}, errors, today),
        "errors": errors,
        "general_errors": [m for f, m in errors.items() if f not in field_errors],
    }


def _member_rows(
    user, campaign: Campaign, households: list, *, area: str, show_all: bool
) -> list[dict]:
    """Adds to each household what the list shows beside the selector's data: whether it is
    done, each member's latest visit and the address of their form without script."""
    target_ids = [m.target_id for h in households for m in h.members]
    visits = door_knock_selectors.last_door_knocks(user, target_ids)
    base = reverse("screening:door_knock", args=[campaign.pk])

    def record_url(target_id: int) -> str:
        if not campaign.accepts_answers:
            return ""
        params = {"target": target_id, "area": area, **({"all": "1"} if show_all else {})}
        return f"{base}?{urlencode(params)}"

    rows = []
    for household in households:
        members = [
            {"m": m, "visit": visits.get(m.target_id), "record_url": record_url(m.target_id)}
            for m in household.members
        ]
        rows.append(
            {
                "h": household,
                "id": household.household_id or f"p{household.members[0].target_id}",
                "done": all(m.status != TODO for m in household.members),
                "members": members,
            }
        )
    return rows


def _labels() -> dict:
    return {
        "statuses": {s.value: s.label for s in TargetStatus},
        "reasons": {r.value: r.label for r in DoorKnockReason},
        "outcomes": {o.value: o.label for o in AttemptOutcome},
        "risks": {r.value: r.label for r in RiskLevel},
    }


def _script_config(request: HttpRequest, campaign: Campaign, list_url: str) -> dict:
    """What door_knock.js needs: where to send, the definition's branching (the phone hides
    skipped questions as the server ignores them), and its texts in the page's language."""
    definition = campaign.questionnaire_version.definition
    labels = _labels()
    return {
        "campaign": campaign.pk,
        "user": request.user.pk,
        "submitUrl": reverse("api:screening_door_knock", args=[campaign.pk]),
        "listUrl": list_url,
        "loginUrl": resolve_url(settings.LOGIN_URL),
        "csrfCookie": settings.CSRF_COOKIE_NAME,
        "definition": {
            "lists": definition.get("lists") or {},
            "questions": [
                {
                    "key": q["key"],
                    "kind": q.get("kind"),
                    "required": bool(q.get("required")),
                    "min": q.get("min"),
                    "max": q.get("max"),
                    "next": q.get("next") or [],
                }
                for q in questions_of(definition)
            ],
        },
        "statuses": labels["statuses"],
        "outcomes": labels["outcomes"],
        "text": {
            "allSent": _("All records sent"),
            "waiting": _("Records waiting to be sent:"),
            "sending": _("Sending…"),
            "offline": _("No network: records stay on this phone and are sent when it returns."),
            "login": _("Your session ended: log in again to send the waiting records."),
            "reload": _("Reload this page to send the waiting records."),
            "fix": _("Some records were refused: fix or discard them."),
            "fixOne": _("Fix"),
            "discard": _("Discard"),
            "confirmDiscard": _("Discard this record? What was entered will be lost."),
            "queued": _("Saved on this phone, waiting to be sent"),
            "sent": _("Sent"),
            "needsFixing": _("Needs fixing"),
            "noStorage": _(
                "This browser cannot keep records offline: stay in signal until they are sent."
            ),
            "error": _("The record was refused"),
            # Checked on the phone before queueing (the server checks again): a worker must
            # learn at the door, not hours later, that a question was missed.
            "required": _("This question is required"),
            "outcome": _("Choose what happened at the door"),
            "number": _("Please enter a number"),
            "range": _("Please enter a number from {min} to {max}"),
        },
    }


# ---------------------------------------------------------------------------------------------
# Pages


@login_required
@require_GET
def door_knock_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The list of one area (?area=, the user's own by default; ?all=1 also shows the households
    already visited); ?target=<id> is one member's form (the page without script)."""
    require(request.user, roles=SCREENERS)
    campaign = campaign_selectors.campaign_for(request.user, campaign_id)
    areas = door_knock_selectors.door_knock_areas(request.user, campaign)
    if not areas:
        raise Http404("no area of yours in this campaign")
    area = _area_choice(request, areas)
    show_all = request.GET.get("all") == "1"
    if request.GET.get("target"):
        try:
            target = _target(request.user, campaign, request.GET["target"])
        except ValueError:
            raise Http404("target not found") from None
        return _member_page(request, campaign, target, area=str(area.pk), show_all=show_all)
    households = door_knock_selectors.door_knock_list(
        request.user, campaign, area, ever_listed=show_all
    )
    rows = _member_rows(request.user, campaign, households, area=str(area.pk), show_all=show_all)
    list_url = _list_url(campaign, str(area.pk), show_all)
    today = local_today()
    context = {
        "campaign": campaign,
        "areas": areas,
        "area": area,
        "show_all": show_all,
        "rows": rows,
        "todo_households": sum(1 for r in rows if not r["done"]),
        "todo_people": sum(1 for h in households for m in h.members if m.status == TODO),
        "labels": _labels(),
        "form": _form(campaign, today=today, area=str(area.pk), show_all=show_all),
        "toggle_url": _list_url(campaign, str(area.pk), not show_all),
        "config": _script_config(request, campaign, list_url),
    }
    return render(request, "screening/door_knock.html", context)


def _member_page(
    request: HttpRequest,
    campaign: Campaign,
    target: CampaignTarget,
    *,
    area: str,
    show_all: bool,
    data: dict | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    if not may_record_for(request.user, target):
        raise PermissionDenied(_("Outside your jurisdiction"))
    household = door_knock_selectors.door_knock_household(request.user, campaign, target)
    member = next(m for m in household.members if m.target_id == target.pk)
    visit = door_knock_selectors.last_door_knocks(request.user, [target.pk]).get(target.pk)
    list_url = _list_url(campaign, area, show_all, anchor=f"member-{target.pk}")
    context = {
        "campaign": campaign,
        "household": household,
        "member": member,
        "visit": visit,
        "labels": _labels(),
        "list_url": list_url,
        "form": _form(
            campaign,
            today=local_today(),
            target_id=target.pk,
            area=area,
            show_all=show_all,
            data=data,
            errors=errors,
        ),
        "config": _script_config(request, campaign, list_url),
    }
    return render(request, "screening/door_knock_member.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# Submissions


def _form_data(request: HttpRequest, campaign: Campaign) -> dict:
    """Returns the plain form's submission in the shape DoorKnockForm reads (the answers
    gathered from the q_<key> fields)."""
    post = request.POST
    answers: dict[str, object] = {}
    for question in questions_of(campaign.questionnaire_version.definition):
        name = ANSWER_PREFIX + question["key"]
        if question.get("kind") == QuestionKind.MULTIPLE_CHOICE:
            if name in post:
                answers[question["key"]] = post.getlist(name)
        elif name in post:
            answers[question["key"]] = post[name]
    return {
        "target": post.get("target", ""),
        "outcome": post.get("outcome", ""),
        "answers": answers,
        "by_proxy": post.get("by_proxy") in ("1", "on", "true"),
        "idempotency_key": post.get("idempotency_key", ""),
        "recorded_at": post.get("recorded_at", ""),
        "started_at": post.get("started_at", ""),
    }


@login_required
@require_POST
def door_knock_submit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Records one visit sent as the page's plain form (without script): redirects back to the
    list with a message, or shows the form again with its errors. The phone's script sends
    JSON to the API instead (linli.screening.api.record_door_knock)."""
    user = request.user
    require(user, roles=SCREENERS)
    campaign = campaign_selectors.campaign_for(user, campaign_id)
    payload = _form_data(request, campaign)
    area, show_all = request.POST.get("area", ""), request.POST.get("all") == "1"
    form = DoorKnockForm(payload)
    target = None
    errors: dict[str, str] = {}
    if form.is_valid():
        data = form.cleaned_data
        target = _target(user, campaign, data["target"])
        try:
            result = door_knock_services.record_door_knock(
                target=target,
                by=user,
                outcome=data["outcome"],
                answers=data["answers"],
                by_proxy=data["by_proxy"],
                idempotency_key=data["idempotency_key"],
                recorded_at=data["recorded_at"],
                started_at=data["started_at"],
                context=AuditContext.from_request(request),
            )
        except ValidationError as error:
            errors = errors_by_field(error)
    else:
        errors = {field: " ".join(texts) for field, texts in form.errors.items()}
        if "target" not in errors:
            target = _target(user, campaign, form.cleaned_data["target"])
    if errors:
        if target is None:
            messages.error(request, " ".join(errors.values()))
            return redirect(_list_url(campaign, area, show_all))
        return _member_page(
            request,
            campaign,
            target,
            area=area,
            show_all=show_all,
            data=payload,
            errors=errors,
            status=400,
        )
    person = present_person(result.target.person, policy_for(user))
    messages.success(
        request,
        _("Saved: %(name)s — %(outcome)s")
        % {"name": person.name, "outcome": AttemptOutcome(result.attempt.outcome).label},
    )
    return redirect(_list_url(campaign, area, show_all, anchor=f"member-{result.target.pk}"))
