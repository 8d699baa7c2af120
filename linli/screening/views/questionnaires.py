"""The questionnaire list and builder, for community leads and the officials above them.

The builder edits the definition JSON in the browser (static/screening/builder.js) and posts
it whole; the server validates it (questionnaire_services.save_questionnaire_version)
and answers problems at the question and field. Without JavaScript the page shows the
definition as an outline and its JSON, which can still be edited and saved.
"""

import json
import re
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from linli.areas import selectors as area_selectors
from linli.core.errors import add_errors_to_form
from linli.core.jurisdiction import path_within
from linli.screening.forms import BLANK, DefinitionForm, QuestionnaireCreateForm
from linli.screening.questionnaires.answers import validate_answer
from linli.screening.questionnaires.risk import evaluate_risk
from linli.screening.questionnaires.routing import next_question
from linli.screening.questionnaires.schema import (
    END,
    FOLLOW_UP_ORDER,
    OPERATORS_BY_KIND,
    RISK_ORDER,
    DefinitionError,
    FollowUp,
    InvalidDefinition,
    QuestionKind,
    RiskLevel,
    question_map,
    questions_of,
    validate_definition,
)
from linli.screening.questionnaires.schema import AnswerError as _AnswerError
from linli.screening.questionnaires.templates import blank_definition
from linli.screening.roles import CAMPAIGN_MANAGERS
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import questionnaires as questionnaire_services

OPERATOR_LABELS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": gettext_lazy("is one of"),
    "contains": gettext_lazy("includes"),
    "answered": gettext_lazy("answered"),
    "within_days": gettext_lazy("within the last"),
}
# Operators in the order the builder offers them.
OPERATOR_ORDER = list(OPERATOR_LABELS)


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
            raise PermissionDenied("your role may not do this / 您的角色无此权限")
        if form.is_valid():
            data = form.cleaned_data
            template = None if data["start"] == BLANK else data["start"]
            try:
                questionnaire = questionnaire_services.create_questionnaire(
                    name=data["name"],
                    area=data["area"],
                    by=request.user,
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
        initial={"name": questionnaire.name, "definition": _pretty(definition)},
    )
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("your role may not do this / 您的角色无此权限")
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
        "outline": _outline(definition if isinstance(definition, dict) else {}),
        "errors": [_error_row(error, definition) for error in errors],
        "builder_definition": definition if isinstance(definition, dict) else None,
        "builder_errors": [_error_json(error) for error in errors],
        "vocab": _vocabulary(),
    }
    return render(request, "screening/questionnaire.html", context, status=status)


def _save(request, questionnaire, form, definition: dict) -> HttpResponse | None:
    """Saves the definition and the name; returns the redirect, or None with the form
    carrying the problems (nothing saved)."""
    before = questionnaire_selectors.latest_version(questionnaire)
    try:
        version = questionnaire_services.save_questionnaire_version(
            questionnaire=questionnaire, definition=definition, by=request.user
        )
        if form.cleaned_data["name"].strip() != questionnaire.name:
            questionnaire_services.rename_questionnaire(
                questionnaire=questionnaire, name=form.cleaned_data["name"], by=request.user
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


def _pretty(definition: object) -> str:
    return json.dumps(definition, ensure_ascii=False, indent=2)


def _loads_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Where a problem is, in words


_STEP = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")


def _error_json(error: DefinitionError) -> dict:
    return {"key": error.key, "field": error.field, "message": f"{error.zh} / {error.en}"}


def _error_row(error: DefinitionError, definition: object) -> dict:
    return {"where": _where(error, definition), "message": f"{error.zh} / {error.en}"}


def _where(error: DefinitionError, definition: object) -> str:
    """Says where a problem is: "Question 3 (temperature) › option 2 › code"."""
    parts: list[str] = []
    questions = questions_of(definition) if isinstance(definition, dict) else []
    if error.key.startswith("questions["):  # a question whose key itself is unusable
        parts.append(_("Question %(n)s") % {"n": _index_in(error.key) or "?"})
    elif error.key:
        number = next((i for i, q in enumerate(questions, 1) if q.get("key") == error.key), "?")
        parts.append(_("Question %(n)s (%(key)s)") % {"n": number, "key": error.key})
    for step in error.field.split("."):
        match = _STEP.fullmatch(step)
        if match is None:
            parts.append(step)
            continue
        name, index = match.group(1), match.group(2)
        label = FIELD_NAMES.get(name, name)
        parts.append(f"{label} {int(index) + 1}" if index is not None else str(label))
    return " › ".join(p for p in parts if p)


def _index_in(text: str) -> int | None:
    match = re.search(r"\[(\d+)\]", text)
    return int(match.group(1)) + 1 if match else None


FIELD_NAMES = {
    "title": gettext_lazy("Title"),
    "intro": gettext_lazy("Intro"),
    "closing": gettext_lazy("Closing text"),
    "lists": gettext_lazy("Lists"),
    "questions": gettext_lazy("Question"),
    "key": gettext_lazy("key"),
    "text": gettext_lazy("text"),
    "kind": gettext_lazy("kind"),
    "required": gettext_lazy("required"),
    "options": gettext_lazy("option"),
    "code": gettext_lazy("code"),
    "label": gettext_lazy("label"),
    "min": gettext_lazy("minimum"),
    "max": gettext_lazy("maximum"),
    "next": gettext_lazy("branch rule"),
    "goto": gettext_lazy("go to"),
    "when": gettext_lazy("condition"),
    "all": gettext_lazy("part"),
    "any": gettext_lazy("part"),
    "not": gettext_lazy("not"),
    "q": gettext_lazy("question"),
    "op": gettext_lazy("comparison"),
    "value": gettext_lazy("value"),
    "risk_rules": gettext_lazy("Risk rule"),
    "level": pgettext_lazy("risk rule", "level"),  # an area's "level" reads differently
    "follow_ups": gettext_lazy("follow-ups"),
    "reason": gettext_lazy("reason"),
    "schema": gettext_lazy("schema"),
}


# ---------------------------------------------------------------------------------------------
# The definition as an outline (read-only, no JavaScript needed)


def _outline(definition: dict) -> dict:
    """Returns the definition in words, tolerant of a malformed one (it may be what a user
    just posted)."""
    questions = questions_of(definition)
    by_key = question_map(definition)
    kinds = dict(QuestionKind.choices)
    rows = []
    for number, question in enumerate(questions, 1):
        kind = question.get("kind")
        options = [
            {
                "code": o.get("code", ""),
                "label": o.get("label", ""),
                "exclusive": bool(o.get("exclusive")),
            }
            for o in question.get("options") or []
            if isinstance(o, dict)
        ]
        branches = []
        for branch in question.get("next") or []:
            if not isinstance(branch, dict):
                continue
            goto = branch.get("goto")
            target = _("the end") if goto == END else _question_name(by_key, goto)
            if "when" in branch:
                branches.append(
                    _("if %(condition)s, go to %(target)s")
                    % {"condition": describe_condition(branch["when"], by_key), "target": target}
                )
            else:
                branches.append(_("then go to %(target)s") % {"target": target})
        rows.append(
            {
                "number": number,
                "key": question.get("key", ""),
                "text": question.get("text", ""),
                "kind": kinds.get(kind, kind),
                "required": bool(question.get("required")),
                "options": options,
                "bounds": _bounds(question),
                "branches": branches,
            }
        )
    levels = dict(RiskLevel.choices)
    follow_ups = dict(FollowUp.choices)
    rules = []
    for rule in definition.get("risk_rules") or []:
        if not isinstance(rule, dict):
            continue
        rules.append(
            {
                "condition": describe_condition(rule.get("when"), by_key),
                "level": levels.get(rule.get("level"), rule.get("level")),
                "level_code": rule.get("level", ""),
                "follow_ups": [follow_ups.get(f, f) for f in rule.get("follow_ups") or []],
                "reason": rule.get("reason", ""),
            }
        )
    lists = definition.get("lists") if isinstance(definition.get("lists"), dict) else {}
    return {
        "title": definition.get("title", ""),
        "intro": definition.get("intro", ""),
        "closing": definition.get("closing", ""),
        "lists": [
            {"name": name, "items": items if isinstance(items, list) else []}
            for name, items in lists.items()
        ],
        "questions": rows,
        "risk_rules": rules,
    }


def _question_name(by_key: dict, key: object) -> str:
    question = by_key.get(key) if isinstance(key, str) else None
    if question is None:
        return f"“{key}”"
    position = list(by_key).index(key) + 1
    return _("question %(n)s (%(key)s)") % {"n": position, "key": key}


def _bounds(question: dict) -> str:
    low, high = question.get("min"), question.get("max")
    if low is None and high is None:
        return ""
    today = _("today")
    show = [today if v == "today" else ("…" if v is None else str(v)) for v in (low, high)]
    return f"{show[0]} – {show[1]}"


def describe_condition(condition: object, by_key: dict) -> str:
    """Returns a condition in words: "temperature ≥ 37.3 or symptoms includes 发热"."""
    if not isinstance(condition, dict):
        return "?"
    for group, joiner in (("all", f" {_('and')} "), ("any", f" {_('or')} ")):
        if group in condition:
            parts = condition[group] if isinstance(condition[group], list) else []
            inner = joiner.join(describe_condition(p, by_key) for p in parts)
            return f"({inner})" if len(parts) > 1 else inner
    if "not" in condition:
        return _("not %(condition)s") % {"condition": describe_condition(condition["not"], by_key)}
    key, op, value = condition.get("q"), condition.get("op"), condition.get("value")
    question = by_key.get(key) if isinstance(key, str) else None
    name = str(key)
    if op == "answered":
        return (_("%(q)s is answered") if value else _("%(q)s is not answered")) % {"q": name}
    if op == "within_days":
        return _("%(q)s within the last %(days)s days") % {"q": name, "days": value}
    return f"{name} {OPERATOR_LABELS.get(op, op)} {_describe_value(value, question)}"


def _describe_value(value: object, question: dict | None) -> str:
    labels = {}
    if question is not None:
        labels = {
            o.get("code"): o.get("label")
            for o in question.get("options") or []
            if isinstance(o, dict)
        }
    if isinstance(value, bool):
        return pgettext("answer", "yes") if value else pgettext("answer", "no")
    if isinstance(value, dict) and "list" in value:
        return _("the list “%(name)s”") % {"name": value["list"]}
    if isinstance(value, list):
        return "、".join(str(labels.get(v, v)) for v in value)
    return str(labels.get(value, value))


# ---------------------------------------------------------------------------------------------
# What the builder's JavaScript needs to know


def _vocabulary() -> dict:
    """The builder's choices and words, translated here (the JavaScript has no catalogue)."""
    return {
        "end": END,
        "kinds": [{"code": code, "label": str(label)} for code, label in QuestionKind.choices],
        "operators": {
            str(kind): [op for op in OPERATOR_ORDER if op in ops]
            for kind, ops in OPERATORS_BY_KIND.items()
        },
        "operator_labels": {op: str(label) for op, label in OPERATOR_LABELS.items()},
        "levels": [
            {"code": code, "label": str(dict(RiskLevel.choices)[code])} for code in RISK_ORDER
        ],
        "follow_ups": [
            {"code": code, "label": str(dict(FollowUp.choices)[code])} for code in FOLLOW_UP_ORDER
        ],
        "words": {
            "question": _("Question"),
            "key": _("Key"),
            "key_help": _("Lowercase letters, digits and _; used in rules and exports."),
            "text": _("Question text"),
            "kind": _("Kind"),
            "required": _("Required"),
            "options": _("Options"),
            "code": _("Code"),
            "label": _("Label"),
            "exclusive": _("Excludes the others (e.g. “none of these”)"),
            "add_option": _("Add option"),
            "min": _("Minimum"),
            "max": _("Maximum"),
            "today": _("today"),
            "branches": _("Branching"),
            "add_branch": _("Add a jump"),
            "branch_if": _("If"),
            "go_to": _("go to"),
            "always": _("always"),
            "end": _("the end"),
            "all": _("all of these hold"),
            "any": _("any of these holds"),
            "add_condition": _("Add a condition"),
            "complex": _(
                "This condition is more complex than the builder shows; it is kept as it is. "
                "Edit it in the JSON below."
            ),
            # Context: the registry's "yes" (has a smartphone) reads differently in Chinese.
            "yes": pgettext("answer", "yes"),
            "no": pgettext("answer", "no"),
            "list_prefix": _("list:"),
            "typed_values": _("values typed here"),
            "comma_help": _("separate with commas"),
            "days": _("days"),
            "and": _("and"),
            "or": _("or"),
            "not": _("not"),
            "remove": _("Remove"),
            "move_up": _("Move up"),
            "move_down": _("Move down"),
            "add_question": _("Add a question"),
            "risk_rules": _("Risk rules"),
            "add_rule": _("Add a risk rule"),
            "rule": _("Rule"),
            "when": _("When"),
            "level": _("Risk level"),
            "follow_ups": _("Follow-ups"),
            "reason": _("Reason (shown to workers)"),
            "lists": _("Named lists"),
            "list_name": _("List name"),
            "list_items": _("One item per line"),
            "add_list": _("Add a list"),
            "title": _("Title"),
            "intro": _("Intro: who asks and why (legal basis)"),
            "closing": _("Closing text"),
            "invalid_json": _("Not valid JSON yet: the builder keeps the last valid version."),
            "no_questions": _("No question yet."),
            "question_count": _("questions"),
        },
    }


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
    today = date.today()
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
                (questions[k].get("text", k), _describe_value(v, questions[k]))
                for k, v in answers.items()
                if k in questions
            ],
        }
    )
    return render(request, "screening/partials/questionnaire_preview.html", context)
