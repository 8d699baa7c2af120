"""The questionnaire list and builder, for community leads and the officials above them.

The builder edits the definition JSON in the browser (static/screening/builder.js) and posts
it whole; the server validates it (questionnaire_services.save_questionnaire_version)
and answers problems at the question and field. Without JavaScript the page shows the
definition as an outline and its JSON, which can still be edited and saved.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from linli.areas import selectors as area_selectors
from linli.core.actors import AuditContext
from linli.core.clock import local_today
from linli.core.errors import add_errors_to_form
from linli.core.jurisdiction import path_within
from linli.screening.forms import BLANK, DefinitionForm, QuestionnaireCreateForm
from linli.screening.questionnaires.answers import validate_answer
from linli.screening.questionnaires.display import (
    describe_value,
    error_json,
    error_row,
    outline,
    pretty,
    vocabulary,
)
from linli.screening.questionnaires.risk import evaluate_risk
from linli.screening.questionnaires.routing import next_question
from linli.screening.questionnaires.schema import AnswerError as _AnswerError
from linli.screening.questionnaires.schema import (
    DefinitionError,
    FollowUp,
    InvalidDefinition,
    QuestionKind,
    RiskLevel,
    question_map,
    validate_definition,
)
from linli.screening.questionnaires.templates import blank_definition
from linli.screening.roles import CAMPAIGN_MANAGERS
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import questionnaires as questionnaire_services


def _may_edit(user, questionnaire) -> bool:
    """Managers edit the questionnaires of their own areas; those of the areas above them
    (a street's) they may use and read, not change."""
    if getattr(user, "is_superuser", False):
        return True
    return getattr(user, "role", "") in CAMPAIGN_MANAGERS and path_within(
        questionnaire.area_path, user
    )


def _is_manager(user) -> bool:
    return getattr(user, "is_superuser", False) or (getattr(user, "role", "") in CAMPAIGN_MANAGERS)


# ---------------------------------------------------------------------------------------------
# The list


@login_required
def questionnaire_list(request: HttpRequest) -> HttpResponse:
    summaries = questionnaire_selectors.questionnaire_summaries(request.user)
    form = None
    status = 200
    if _is_manager(request.user):
        areas = area_selectors.visible_areas(request.user).filter(
            path__in=[a.path for a in area_selectors.root_areas(request.user)]
        )
        form = QuestionnaireCreateForm(request.POST or None, areas=areas)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("Your role may not do this"))
        if form.is_valid():
            data = form.cleaned_data
            template = None if data["start"] == BLANK else data["start"]
            try:
                questionnaire = questionnaire_services.create_questionnaire(
                    name=data["name"],
                    area=data["area"],
                    by=request.user,
                    context=AuditContext.from_request(request),
                    from_template=template,
                    definition=(
                        None if template else blank_definition(name=data["name"], area=data["area"])
                    ),
                )
            except ValidationError as error:
                add_errors_to_form(form, error)
            else:
                messages.success(request, _("Questionnaire created. Edit it and save."))
                return redirect("screening:questionnaire", questionnaire_id=questionnaire.pk)
        status = 400
    context = {"summaries": summaries, "form": form}
    return render(request, "screening/questionnaires.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# The builder


@login_required
def questionnaire_edit(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    questionnaire = questionnaire_selectors.questionnaire_for(request.user, questionnaire_id)
    versions = list(
        questionnaire_selectors.versions_of(request.user, questionnaire)
        .order_by("-number")
        .defer("definition")
    )
    latest = versions[0] if versions else None
    may_edit = _may_edit(request.user, questionnaire)
    if request.method == "POST" and "preview" in request.POST:
        return _preview(request)
    shown = latest
    if request.GET.get("version"):
        number = request.GET["version"]
        shown = next((v for v in versions if str(v.number) == number), None)
        if shown is None:
            raise Http404("version not found")
    shown = (
        questionnaire_selectors.versions_of(request.user, questionnaire).get(pk=shown.pk)
        if shown
        else None
    )
    definition = shown.definition if shown else {}
    errors: list[DefinitionError] = []
    status = 200
    form = DefinitionForm(
        request.POST or None,
        initial={"name": questionnaire.name, "definition": pretty(definition)},
    )
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied(_("Your role may not do this"))
        if form.is_valid():
            definition = form.cleaned_data["definition"]
            saved = _save(request, questionnaire, form, definition)
            if saved is not None:
                return saved
            errors = validate_definition(definition)
        else:
            # Keep what was posted on the page, even when it is not JSON.
            definition = _loads_or_none(request.POST.get("definition", ""))
        status = 400
    editing = may_edit and shown is not None and latest is not None and shown.pk == latest.pk
    context = {
        "questionnaire": questionnaire,
        "version": shown,
        "latest": latest,
        "versions": versions,
        "campaigns": list(
            questionnaire_selectors.campaigns_using(request.user, questionnaire)[:50]
        ),
        "may_edit": may_edit,
        "editing": editing,
        "may_start_campaign": _is_manager(request.user),
        "form": form,
        "outline": outline(definition if isinstance(definition, dict) else {}),
        "errors": [error_row(error, definition) for error in errors],
        "builder_definition": definition if isinstance(definition, dict) else None,
        "builder_errors": [error_json(error) for error in errors],
        "vocab": vocabulary(),
    }
    return render(request, "screening/questionnaire.html", context, status=status)


def _save(request, questionnaire, form, definition: dict) -> HttpResponse | None:
    """Saves the definition and the name; returns the redirect, or None with the form
    carrying the problems (nothing saved)."""
    before = questionnaire_selectors.latest_version(questionnaire)
    try:
        version = questionnaire_services.save_questionnaire_version(
            questionnaire=questionnaire,
            definition=definition,
            by=request.user,
            context=AuditContext.from_request(request),
        )
        if form.cleaned_data["name"].strip() != questionnaire.name:
            questionnaire_services.rename_questionnaire(
                questionnaire=questionnaire,
                name=form.cleaned_data["name"],
                by=request.user,
                context=AuditContext.from_request(request),
            )
    except InvalidDefinition:
        form.add_error(None, _("Nothing was saved: correct the problems marked below."))
        return None
    except ValidationError as error:
        add_errors_to_form(form, error)
        return None
    if before is not None and version.number != before.number:
        messages.success(
            request,
            _(
                "Saved as version %(new)s. Version %(old)s stays as it was for the campaigns "
                "launched with it."
            )
            % {"new": version.number, "old": before.number},
        )
    else:
        messages.success(request, _("Saved (version %(n)s).") % {"n": version.number})
    return redirect("screening:questionnaire", questionnaire_id=questionnaire.pk)


def _loads_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Preview: how the questionnaire reads for a resident, with its real branching


def _preview(request: HttpRequest) -> HttpResponse:
    """Answers one question of a preview and returns the next (htmx partial). Nothing is
    stored: the definition and the answers so far travel with the request."""
    definition = _loads_or_none(request.POST.get("definition", ""))
    answers = _loads_or_none(request.POST.get("answers", "")) or {}
    if not isinstance(definition, dict) or not isinstance(answers, dict):
        return render(
            request,
            "screening/partials/questionnaire_preview.html",
            {"broken": True},
            status=400,
        )
    problems = validate_definition(definition)
    context: dict = {"definition": definition, "problems": len(problems)}
    if problems:
        return render(request, "screening/partials/questionnaire_preview.html", context)
    today = local_today()
    questions = question_map(definition)
    error = None
    key = request.POST.get("key", "")
    if request.POST.get("restart"):
        answers = {}
    elif key in questions:
        raw: object = request.POST.getlist("answer")
        if questions[key].get("kind") != QuestionKind.MULTIPLE_CHOICE:
            raw = raw[0] if raw else ""
        value = validate_answer(questions[key], raw, today=today)
        if isinstance(value, _AnswerError):
            error = str(value)
        else:
            answers[key] = value
    current = next_question(definition, answers, today=today)
    risk = evaluate_risk(definition, answers, today=today)
    context.update(
        {
            "started": bool(request.POST.get("started")),
            "answers_json": json.dumps(answers, ensure_ascii=False),
            "question": questions.get(current) if current else None,
            "number": list(questions).index(current) + 1 if current else None,
            "error": error,
            "risk": risk,
            "risk_level": dict(RiskLevel.choices).get(risk.level),
            "follow_ups": [dict(FollowUp.choices)[f] for f in risk.follow_ups],
            "answered": [
                (questions[k].get("text", k), describe_value(v, questions[k]))
                for k, v in answers.items()
                if k in questions
            ],
        }
    )
    return render(request, "screening/partials/questionnaire_preview.html", context)
