"""The door-knock page (敲门行动): a grid worker's phone walks the unreached households of their
grid, building by building and floor by floor, and records each visit on a one-screen form.

The page works without script (each member's form is its own page, posted as a plain form).
With script (static/screening/door_knock.js) the forms open in place and every submission is
kept on the phone first and sent as JSON when the network allows, so a visit recorded in a
stairwell without signal is not lost; the key generated on the phone makes a resend count once.
"""

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import urlencode
from uuid import uuid4

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from linli.areas.models import Area, AreaLevel
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
# Households per page: twenty households of a building (about fifty people) keep a page well
# under 100 KB on a phone in a stairwell.
PAGE_SIZE = 20
# An area with at most this many households left shows them at once; a larger one (a whole
# community, a big grid) opens on its buildings, so nobody downloads thousands of households.
DIRECT_LIST_MAX = 30
# ?building=none: the households of the area outside any building (a bungalow, an unparsed
# address), so nobody on the list is out of reach.
NO_BUILDING = "none"
# The service worker controls the door-knock pages of every campaign from this prefix.
OFFLINE_SCOPE = "/screening/campaigns/"


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


@dataclass(frozen=True)
class ListScope:
    """Which part of the list a page shows, as its query string says: ?area= (one of the
    user's door-knock areas), &building= (a building's id, or "none"), &unit=, &floor=, &page=
    and &all=1 (households already visited too). The member's form and the plain form's
    submission carry it, so "back to the list" returns to the same building, floor and page."""

    area: str = ""
    building: str = ""
    unit: str = ""
    floor: str = ""
    page: str = ""
    show_all: bool = False

    @classmethod
    def read(cls, data) -> "ListScope":
        """Returns the scope in a GET or POST; a value of the wrong shape is dropped (the
        area, building and unit are checked against the user's areas by the page)."""

        def digits(name: str, pattern: str = r"\d{1,12}") -> str:
            value = str(data.get(name, "")).strip()
            return value if re.fullmatch(pattern, value) else ""

        building = str(data.get("building", "")).strip()
        return cls(
            area=digits("area"),
            building=building if building == NO_BUILDING else digits("building"),
            unit=digits("unit"),
            floor=digits("floor", r"-?\d{1,3}"),
            page=digits("page", r"\d{1,5}"),
            show_all=data.get("all") == "1",
        )

    def params(self) -> dict[str, str]:
        params = {
            "area": self.area,
            "building": self.building,
            "unit": self.unit,
            "floor": self.floor,
            "page": "" if self.page in ("", "1") else self.page,
            "all": "1" if self.show_all else "",
        }
        return {k: v for k, v in params.items() if v}

    def url(self, campaign: Campaign, anchor: str = "", **changes) -> str:
        scope = replace(self, **changes) if changes else self
        params = scope.params()
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
    scope: ListScope,
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
        # Hidden fields: the plain form's submission returns to the same part of the list.
        "scope": sorted(scope.params().items()),
        "intro": definition.get("intro", ""),
        "outcome": data.get("outcome", ""),
        "outcomes": _outcome_choices(),
        "by_proxy": bool(data.get("by_proxy")),
        "questions": _form_questions(definition, data.get("answers") or {}, errors, today),
        "errors": errors,
        "general_errors": [m for f, m in errors.items() if f not in field_errors],
    }


def _member_rows(user, campaign: Campaign, households: list, *, scope: ListScope) -> list[dict]:
    """Adds to each household what the list shows beside the selector's data: whether it is
    done (nobody in it needs a door knock any more), each member's latest visit, the label of
    their button and the address of their form without script."""
    target_ids = [m.target_id for h in households for m in h.members]
    visits = door_knock_selectors.last_door_knocks(user, target_ids)
    base = reverse("screening:door_knock", args=[campaign.pk])

    def record_url(target_id: int) -> str:
        if not campaign.accepts_answers:
            return ""
        return f"{base}?{urlencode({'target': target_id, **scope.params()})}"

    rows = []
    for household in households:
        members = []
        for m in household.members:
            visit = visits.get(m.target_id)
            members.append(
                {
                    "m": m,
                    "visit": visit,
                    "record_url": record_url(m.target_id),
                    "action": _action(visit.outcome if visit else ""),
                }
            )
        rows.append(
            {
                "h": household,
                "id": household.household_id or f"p{household.members[0].target_id}",
                "done": all(m.status != TODO for m in household.members),
                "members": members,
            }
        )
    return rows


def _action(last_outcome: str) -> str:
    """Returns the button of a member whose last door knock had this outcome ("" for none):
    nobody visited yet is recorded, somebody not at home is visited again, and a visit that
    reached them (or was refused) can be recorded again. door_knock.js moves it the same way."""
    if not last_outcome:
        return _("Record visit")
    if last_outcome == AttemptOutcome.NOT_AT_HOME:
        return _("Visit again")
    return _("Record again")


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
        "offline": {
            "worker": reverse("screening:door_knock_worker"),
            "scope": OFFLINE_SCOPE,
        },
        "text": {
            "left": _("Left to visit: {households} households · {people} people"),
            "recordVisit": _("Record visit"),
            "visitAgain": _("Visit again"),
            "recordAgain": _("Record again"),
            "offlineReady": _("This page is kept on this phone: it opens without a network."),
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


def _left(households: list) -> tuple[int, int]:
    """Returns (households, people) of a list still needing a door knock."""
    people = [sum(1 for m in h.members if m.status == TODO) for h in households]
    return sum(1 for n in people if n), sum(people)


def _floors(households: list) -> list[dict]:
    """Returns the floors of a building's list with the households left on each, bottom up
    (the floor filter's choices)."""
    counts: dict[int, int] = {}
    for h in households:
        if h.floor is not None:
            left = any(m.status == TODO for m in h.members)
            counts[h.floor] = counts.get(h.floor, 0) + (1 if left else 0)
    return [{"floor": floor, "left": counts[floor]} for floor in sorted(counts)]


def _picker(campaign: Campaign, scope: ListScope, places) -> list[dict]:
    """Returns the buildings (and their units) with households left, as the landing page
    links them."""
    picker = []
    for place in places.buildings:
        pk = str(place.area.pk) if place.area else NO_BUILDING
        picker.append(
            {
                "id": pk,
                "name": place.area.name if place.area else _("Not in a building"),
                "compound": place.compound,
                "left": place.households_left,
                "url": scope.url(campaign, building=pk, unit="", floor="", page=""),
                "units": [
                    {
                        "id": unit.area.pk,
                        "name": unit.area.name,
                        "left": unit.households_left,
                        "url": scope.url(
                            campaign, building=pk, unit=str(unit.area.pk), floor="", page=""
                        ),
                    }
                    for unit in place.units
                ],
            }
        )
    return picker


@login_required
@require_GET
def door_knock_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The door-knock list (ListScope: ?area=, &building=, &unit=, &floor=, &page=, &all=1);
    ?target=<id> is one member's form (the page without script).

    An area with few households left shows them at once; a larger one opens on its buildings
    and units with the households left in each, and a building's list is paged."""
    user = request.user
    require(user, roles=SCREENERS)
    campaign = campaign_selectors.campaign_for(user, campaign_id)
    areas = door_knock_selectors.door_knock_areas(user, campaign)
    if not areas:
        raise Http404("no area of yours in this campaign")
    area = _area_choice(request, areas)
    scope = replace(ListScope.read(request.GET), area=str(area.pk))
    if request.GET.get("target"):
        try:
            target = _target(user, campaign, request.GET["target"])
        except ValueError:
            raise Http404("target not found") from None
        return _member_page(request, campaign, target, scope=scope)
    places = door_knock_selectors.door_knock_places(user, campaign, area)
    building = unit = None
    floors: list[dict] = []
    if scope.building == NO_BUILDING:
        households = [
            h
            for h in door_knock_selectors.door_knock_list(
                user, campaign, area, ever_listed=scope.show_all
            )
            if not h.building_path
        ]
    elif scope.building:
        building = door_knock_selectors.door_knock_place(
            user, area, int(scope.building), AreaLevel.BUILDING
        )
        households = door_knock_selectors.door_knock_list(
            user, campaign, building, ever_listed=scope.show_all
        )
        if scope.unit:
            unit = door_knock_selectors.door_knock_place(
                user, building, int(scope.unit), AreaLevel.UNIT
            )
            households = [h for h in households if h.dwelling_path.startswith(unit.path)]
        floors = _floors(households)
        if scope.floor:
            households = [h for h in households if str(h.floor) == scope.floor]
    elif places.households_left <= DIRECT_LIST_MAX:
        households = door_knock_selectors.door_knock_list(
            user, campaign, area, ever_listed=scope.show_all
        )
    else:
        households = []  # the buildings first
    listed = bool(scope.building) or places.households_left <= DIRECT_LIST_MAX
    picker = _picker(campaign, scope, places)
    units = next((b["units"] for b in picker if building and b["id"] == str(building.pk)), [])
    page = Paginator(households, PAGE_SIZE).get_page(scope.page or 1)
    rows = _member_rows(user, campaign, list(page.object_list), scope=scope)
    todo_households, todo_people = (
        _left(households) if listed else (places.households_left, places.people_left)
    )
    list_url = scope.url(campaign)
    context = {
        "campaign": campaign,
        "areas": areas,
        "area": area,
        "scope": scope,
        "show_all": scope.show_all,
        "picker": picker,
        "building": building,
        "unit": unit,
        "units": units,
        "floors": floors,
        "listed": listed,
        "page": page,
        "page_urls": {
            "previous": scope.url(campaign, page=str(page.previous_page_number()))
            if page.has_previous()
            else "",
            "next": scope.url(campaign, page=str(page.next_page_number()))
            if page.has_next()
            else "",
        },
        "area_url": scope.url(campaign, building="", unit="", floor="", page=""),
        "building_url": scope.url(campaign, unit="", floor="", page=""),
        "rows": rows,
        "todo_households": todo_households,
        "todo_people": todo_people,
        "left_text": _("Left to visit: {households} households · {people} people").format(
            households=todo_households, people=todo_people
        ),
        "labels": _labels(),
        "form": _form(campaign, today=local_today(), scope=scope),
        "toggle_url": scope.url(campaign, show_all=not scope.show_all, page=""),
        "config": _script_config(request, campaign, list_url),
    }
    return render(request, "screening/door_knock.html", context)


def _member_page(
    request: HttpRequest,
    campaign: Campaign,
    target: CampaignTarget,
    *,
    scope: ListScope,
    data: dict | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    if not may_record_for(request.user, target):
        raise PermissionDenied(_("Outside your jurisdiction"))
    household = door_knock_selectors.door_knock_household(request.user, campaign, target)
    member = next(m for m in household.members if m.target_id == target.pk)
    visit = door_knock_selectors.last_door_knocks(request.user, [target.pk]).get(target.pk)
    list_url = scope.url(campaign, anchor=f"member-{target.pk}")
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
            scope=scope,
            data=data,
            errors=errors,
        ),
        "config": _script_config(request, campaign, list_url),
    }
    return render(request, "screening/door_knock_member.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# Offline


# What every door-knock page needs besides itself (base.html's and its own); the page also
# hands the worker the files it really loaded, so a change to base.html cannot break offline.
OFFLINE_ASSETS = (
    "linli/app.css",
    "linli/favicon.svg",
    "screening/door_knock.css",
    "screening/door_knock.js",
)


@require_GET
def door_knock_worker(request: HttpRequest) -> HttpResponse:
    """The service worker that opens the door-knock pages without a network
    (templates/screening/door_knock_sw.js): served from the app (no CDN) with
    Service-Worker-Allowed, so the script may control every campaign's door-knock pages
    under OFFLINE_SCOPE. It holds no personal data (file names and texts), so it needs no
    log-in: the browser fetches it again to look for a new version, logged in or not."""
    config = {
        "assets": [static(path) for path in OFFLINE_ASSETS],
        "staticPrefix": static(""),
        "pagePattern": r"^" + re.escape(OFFLINE_SCOPE) + r"\d+/door-knock/$",
        "offlineTitle": _("No network"),
        "offlineText": _(
            "This page was not opened on this phone before, so it cannot be shown without a "
            "network. Go back to a list you opened, or wait for the signal."
        ),
        "lang": request.LANGUAGE_CODE,
    }
    body = render_to_string(
        "screening/door_knock_sw.js",
        {"config": json.dumps(config, cls=DjangoJSONEncoder, ensure_ascii=False)},
    )
    # A new asset name or a new script is a new version: the browser installs it and the old
    # caches go.
    version = hashlib.sha256(body.encode()).hexdigest()[:12]
    response = HttpResponse(
        body.replace("__VERSION__", version), content_type="text/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = OFFLINE_SCOPE
    response["Cache-Control"] = "no-cache"
    return response


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
    scope = ListScope.read(request.POST)
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
            return redirect(scope.url(campaign))
        return _member_page(
            request,
            campaign,
            target,
            scope=scope,
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
    return redirect(scope.url(campaign, anchor=f"member-{result.target.pk}"))
