"""The definition's shape: question kinds, risk levels, follow-ups, and validate_definition,
which locates every problem at its question and field."""

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

SCHEMA_VERSION = 1
END = "end"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_QUESTIONS = 100
MAX_TEXT = 500
MAX_SHORT_TEXT = 200
MAX_CONDITION_DEPTH = 5
MAX_CONDITION_LEAVES = 50


class QuestionKind(models.TextChoices):
    YES_NO = "yes_no", gettext_lazy("Yes or no")
    SINGLE_CHOICE = "single_choice", gettext_lazy("Single choice")
    MULTIPLE_CHOICE = "multiple_choice", gettext_lazy("Multiple choice")
    NUMBER = "number", gettext_lazy("Number")
    DATE = "date", gettext_lazy("Date")
    SHORT_TEXT = "short_text", gettext_lazy("Short text")


CHOICE_KINDS = {QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE}


class RiskLevel(models.TextChoices):
    NONE = "none", gettext_lazy("No risk")
    LOW = "low", gettext_lazy("Low risk")
    MEDIUM = "medium", gettext_lazy("Medium risk")
    HIGH = "high", gettext_lazy("High risk")


RISK_ORDER = [level.value for level in RiskLevel]


class FollowUp(models.TextChoices):
    DOOR_VISIT = "door_visit", gettext_lazy("Door visit")
    HEALTH_MONITORING_PROPOSAL = (
        "health_monitoring_proposal",
        gettext_lazy("Propose health monitoring"),
    )
    NEED_HELP = "need_help", gettext_lazy("Needs help")


FOLLOW_UP_ORDER = [f.value for f in FollowUp]

_ORDERED = ("eq", "ne", "gt", "gte", "lt", "lte")
OPERATORS_BY_KIND: dict[str, set[str]] = {
    QuestionKind.YES_NO: {"eq", "ne", "answered"},
    QuestionKind.SINGLE_CHOICE: {"eq", "ne", "in", "answered"},
    QuestionKind.MULTIPLE_CHOICE: {"contains", "answered"},
    QuestionKind.NUMBER: {*_ORDERED, "in", "answered"},
    QuestionKind.DATE: {*_ORDERED, "within_days", "answered"},
    QuestionKind.SHORT_TEXT: {"eq", "ne", "in", "contains", "answered"},
}
OPERATORS = set().union(*OPERATORS_BY_KIND.values())

Definition = dict[str, Any]
Question = dict[str, Any]
Answers = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class DefinitionError:
    """A problem in a definition, at a question (`key`, empty for the whole definition) and a
    field within it (`field`, a JSON path such as "options[2].code" or "risk_rules[0].when")."""

    key: str
    field: str
    code: str
    message: str  # in the language active when the definition was checked

    def __str__(self) -> str:
        where = ".".join(part for part in (self.key, self.field) if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class AnswerError:
    """A raw answer that does not fit its question; `code` says why for programs (the phone
    robot re-asks on any), `message` for people, in the language active when it was checked."""

    key: str
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------------------------------------
# Reading a definition


def questions_of(defn: Definition) -> list[Question]:
    """Returns the questions of a definition in order (an empty list for a malformed one)."""
    questions = defn.get("questions") if isinstance(defn, dict) else None
    return [q for q in questions if isinstance(q, dict)] if isinstance(questions, list) else []


def question_map(defn: Definition) -> dict[str, Question]:
    """Returns {key: question}."""
    return {q["key"]: q for q in questions_of(defn) if isinstance(q.get("key"), str)}


def option_codes(question: Question) -> list[str]:
    return [o.get("code") for o in question.get("options") or [] if isinstance(o, dict)]


# ---------------------------------------------------------------------------------------------
# Validating a definition


class _Collector:
    def __init__(self) -> None:
        self.errors: list[DefinitionError] = []

    def add(self, key: str, field: str, code: str, message: str) -> None:
        self.errors.append(DefinitionError(key=key, field=field, code=code, message=message))


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_text(value: object, limit: int = MAX_TEXT) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= limit


def validate_definition(defn: Definition) -> list[DefinitionError]:
    """Returns every problem in a definition (empty when it is valid), each located at the
    question key and field at fault and worded in Chinese and English.

    Checks the top-level texts, question keys (format, duplicates), kinds, options, number and
    date bounds, branch targets (known, later, reachable: a jump back would loop), conditions
    (known questions, operators that fit the question's kind, values that fit the options),
    named lists, and risk rules (levels, follow-ups, reasons).
    """
    out = _Collector()
    if not isinstance(defn, dict):
        out.add("", "", "not_object", _("The definition must be an object"))
        return out.errors
    if defn.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        out.add("", "schema", "schema", _("Unsupported definition schema"))
    for name, label in (("title", _("Title")), ("intro", _("Intro")), ("closing", _("Closing"))):
        if not _is_text(defn.get(name), 2000):
            out.add("", name, "required", _("%(part)s is required") % {"part": label})
    lists = defn.get("lists", {})
    if not isinstance(lists, dict):
        out.add("", "lists", "lists", _("Lists must be an object"))
        lists = {}
    for name, items in lists.items():
        if not isinstance(name, str) or not KEY_PATTERN.match(name):
            out.add("", f"lists.{name}", "key", _("Bad list name"))
        if not isinstance(items, list) or not all(_is_text(i, 100) for i in items):
            out.add("", f"lists.{name}", "list_items", _("A list holds texts only"))
    labels = defn.get("list_labels", {})
    if not isinstance(labels, dict):
        out.add("", "list_labels", "not_object", _("List names must be an object"))
        labels = {}
    for name, label in labels.items():
        if name not in lists:
            out.add("", f"list_labels.{name}", "unknown_list", _("No such list"))
        elif not (isinstance(label, str) and len(label) <= 40):
            out.add("", f"list_labels.{name}", "text", _("At most 40 characters"))
    counter = defn.get("next_key", 1)
    if not (isinstance(counter, int) and not isinstance(counter, bool) and 0 < counter < 10**6):
        out.add("", "next_key", "number", _("The key counter must be a positive whole number"))
    raw_questions = defn.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        out.add("", "questions", "required", _("At least one question is needed"))
        return out.errors
    if len(raw_questions) > MAX_QUESTIONS:
        out.add(
            "",
            "questions",
            "too_many",
            _("At most %(max_questions)s questions") % {"max_questions": MAX_QUESTIONS},
        )
    position: dict[str, int] = {}
    for index, question in enumerate(raw_questions):
        if not isinstance(question, dict):
            out.add("", f"questions[{index}]", "not_object", _("Bad question"))
            continue
        key = question.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            out.add(
                str(key or f"questions[{index}]"),
                "key",
                "key",
                _("A question key starts with a lowercase letter and holds only a-z, 0-9 and _"),
            )
            continue
        if key == END:
            out.add(key, "key", "reserved", _("'end' is reserved"))
            continue
        if key in position:
            out.add(key, "key", "duplicate", _("Duplicate question key"))
            continue
        position[key] = index
    questions = question_map(defn)
    for index in position.values():
        _check_question(out, raw_questions[index], questions, position, lists)
    _check_reachable(out, raw_questions, position)
    rules = defn.get("risk_rules", [])
    if not isinstance(rules, list):
        out.add("", "risk_rules", "not_list", _("Risk rules must be a list"))
        rules = []
    for number, rule in enumerate(rules):
        _check_risk_rule(out, rule, f"risk_rules[{number}]", questions, lists)
    return out.errors


def _check_question(
    out: _Collector,
    question: Question,
    questions: dict[str, Question],
    position: dict[str, int],
    lists: dict,
) -> None:
    key = question["key"]
    if not _is_text(question.get("text")):
        out.add(key, "text", "required", _("The question text is required"))
    kind = question.get("kind")
    if kind not in QuestionKind.values:
        out.add(key, "kind", "kind", _("Unknown question kind %(kind)r") % {"kind": kind})
        return
    if not isinstance(question.get("required", False), bool):
        out.add(key, "required", "bool", _("Required must be true or false"))
    options = question.get("options")
    if kind in CHOICE_KINDS:
        _check_options(out, key, options)
    elif options:
        out.add(
            key,
            "options",
            "options_unused",
            _("Only choice questions have options"),
        )
    if kind == QuestionKind.NUMBER:
        low, high = question.get("min"), question.get("max")
        for name, bound in (("min", low), ("max", high)):
            if bound is not None and not is_number(bound):
                out.add(key, name, "number", _("%(name)s must be a number") % {"name": name})
        if is_number(low) and is_number(high) and low > high:
            out.add(key, "min", "bounds", _("Min is greater than max"))
    if kind == QuestionKind.DATE:
        for name in ("min", "max"):
            bound = question.get(name)
            if bound is not None and bound != "today" and parse_iso_date(bound) is None:
                out.add(
                    key,
                    name,
                    "date",
                    _("%(name)s must be YYYY-MM-DD or 'today'") % {"name": name},
                )
    branches = question.get("next", [])
    if not isinstance(branches, list):
        out.add(key, "next", "not_list", _("Branch rules must be a list"))
        return
    # A branch may look at this question and earlier ones: later ones are not asked yet.
    asked = {k for k, i in position.items() if i <= position[key]}
    for number, branch in enumerate(branches):
        field = f"next[{number}]"
        if not isinstance(branch, dict):
            out.add(key, field, "not_object", _("Bad branch rule"))
            continue
        goto = branch.get("goto")
        if goto == END:
            pass
        elif goto not in position:
            out.add(
                key,
                f"{field}.goto",
                "unknown_target",
                _("The jump goes to a question that is no longer in the questionnaire"),
            )
        elif position[goto] <= position[key]:
            out.add(
                key,
                f"{field}.goto",
                "cycle",
                _("The branch points back to this or an earlier question, which makes a loop"),
            )
        if "when" in branch:
            _check_condition(
                out, branch["when"], f"{field}.when", questions, lists, allowed=asked, owner=key
            )


def _check_options(out: _Collector, key: str, options: object) -> None:
    if not isinstance(options, list) or len(options) < 2:
        out.add(
            key,
            "options",
            "options_missing",
            _("A choice needs two options"),
        )
        return
    seen: set[str] = set()
    for number, option in enumerate(options):
        field = f"options[{number}]"
        if not isinstance(option, dict):
            out.add(key, field, "not_object", _("Bad option"))
            continue
        code = option.get("code")
        if not isinstance(code, str) or not KEY_PATTERN.match(code):
            out.add(
                key,
                f"{field}.code",
                "key",
                _("An option code starts with a lowercase letter and holds only a-z, 0-9 and _"),
            )
        elif code in seen:
            out.add(key, f"{field}.code", "duplicate", _("Duplicate option code"))
        else:
            seen.add(code)
        if not _is_text(option.get("label"), 100):
            out.add(key, f"{field}.label", "required", _("Option label required"))


def _check_reachable(out: _Collector, raw_questions: list, position: dict[str, int]) -> None:
    """Every question must be on some path from the first one (forward jumps only)."""
    ordered = sorted(position, key=position.get)
    if not ordered:
        return
    reachable = {ordered[0]}
    for index, key in enumerate(ordered):
        if key not in reachable:
            continue
        falls_through = True
        for branch in raw_questions[position[key]].get("next") or []:
            if not isinstance(branch, dict):
                continue
            if branch.get("goto") in position:
                reachable.add(branch["goto"])
            if "when" not in branch:  # an unconditional jump: nothing after it applies
                falls_through = False
                break
        if falls_through and index + 1 < len(ordered):
            reachable.add(ordered[index + 1])
    for key in ordered:
        if key not in reachable:
            out.add(
                key,
                "key",
                "unreachable",
                _("No path through the questionnaire reaches this question"),
            )


def _check_risk_rule(
    out: _Collector, rule: object, field: str, questions: dict[str, Question], lists: dict
) -> None:
    if not isinstance(rule, dict):
        out.add("", field, "not_object", _("Bad risk rule"))
        return
    if "when" not in rule:
        out.add("", f"{field}.when", "required", _("A risk rule needs a condition"))
    else:
        _check_condition(out, rule["when"], f"{field}.when", questions, lists, allowed=None)
    level = rule.get("level", RiskLevel.NONE)
    if level not in RISK_ORDER:
        out.add("", f"{field}.level", "level", _("Unknown risk level %(level)r") % {"level": level})
    follow_ups = rule.get("follow_ups", [])
    if not isinstance(follow_ups, list) or any(f not in FOLLOW_UP_ORDER for f in follow_ups):
        out.add("", f"{field}.follow_ups", "follow_up", _("Unknown follow-up"))
    elif len(set(follow_ups)) != len(follow_ups):
        out.add("", f"{field}.follow_ups", "duplicate", _("Duplicate follow-up"))
    elif level == RiskLevel.NONE and not follow_ups:
        out.add(
            "",
            field,
            "no_effect",
            _("The rule sets neither a risk level nor a follow-up"),
        )
    if not _is_text(rule.get("reason"), 100):
        out.add(
            "",
            f"{field}.reason",
            "required",
            _("A reason (shown to workers, at most 100 characters) is required"),
        )


def _check_condition(
    out: _Collector,
    condition: object,
    field: str,
    questions: dict[str, Question],
    lists: dict,
    *,
    allowed: set[str] | None,
    owner: str = "",
    depth: int = 0,
    leaves: list[int] | None = None,
) -> None:
    """Checks one condition tree; `allowed` limits the questions it may refer to."""
    leaves = leaves if leaves is not None else [0]
    if depth > MAX_CONDITION_DEPTH:
        out.add(owner, field, "too_deep", _("The condition is nested too deeply"))
        return
    if not isinstance(condition, dict):
        out.add(owner, field, "not_object", _("Bad condition"))
        return
    groups = [name for name in ("all", "any", "not") if name in condition]
    if groups:
        name = groups[0]
        if len(condition) != 1:
            out.add(owner, field, "mixed", _("A condition group has one key"))
            return
        parts = [condition["not"]] if name == "not" else condition[name]
        if not isinstance(parts, list) or not parts:
            out.add(owner, f"{field}.{name}", "empty", _("An empty condition group"))
            return
        for number, part in enumerate(parts):
            where = f"{field}.not" if name == "not" else f"{field}.{name}[{number}]"
            _check_condition(
                out,
                part,
                where,
                questions,
                lists,
                allowed=allowed,
                owner=owner,
                depth=depth + 1,
                leaves=leaves,
            )
        return
    leaves[0] += 1
    if leaves[0] > MAX_CONDITION_LEAVES:
        if leaves[0] == MAX_CONDITION_LEAVES + 1:
            out.add(owner, field, "too_many", _("Too many conditions"))
        return
    key, op, value = condition.get("q"), condition.get("op"), condition.get("value")
    at = owner or (key if isinstance(key, str) else "")
    if key not in questions:
        out.add(
            at,
            f"{field}.q",
            "unknown_question",
            _("This condition is about a question that is no longer in the questionnaire"),
        )
        return
    if allowed is not None and key not in allowed:
        out.add(
            at,
            f"{field}.q",
            "later_question",
            _("A jump can only look at this question and earlier ones: question %(n)s comes later")
            % {"n": list(questions).index(key) + 1},
        )
        return
    question = questions[key]
    kind = question.get("kind")
    if op not in OPERATORS:
        out.add(at, f"{field}.op", "operator", _("Unknown operator %(op)s") % {"op": op})
        return
    if op not in OPERATORS_BY_KIND.get(kind, set()):
        out.add(
            at,
            f"{field}.op",
            "operator_kind",
            _("This comparison does not fit the kind of the question; choose another"),
        )
        return
    problem = _value_problem(question, op, value, lists)
    if problem:
        out.add(at, f"{field}.value", "value", problem)


def _value_problem(question: Question, op: str, value: object, lists: dict) -> str | None:
    """Returns the problem when a condition's value does not fit its question and operator."""
    kind = question["kind"]
    codes = set(option_codes(question))
    if op == "answered":
        return None if isinstance(value, bool) else _("Must be true or false")
    if op == "within_days":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3660
        return None if ok else _("Must be a number of days, 0 to 3660")
    if op == "in":
        items = value
        if isinstance(value, dict) and set(value) == {"list"}:
            if value["list"] not in lists:
                return _("The list is no longer in the questionnaire")
            items = lists[value["list"]]
        if not isinstance(items, list):
            return _('Must be a list or {"list": name}')
        return next((p for p in (_scalar_problem(kind, codes, item) for item in items) if p), None)
    if op == "contains":
        if kind == QuestionKind.MULTIPLE_CHOICE:
            items = value if isinstance(value, list) else [value]
            if not items or any(item not in codes for item in items):
                return _("Must be option codes of this question")
            return None
        return None if _is_text(value, 100) else _("Must be a text")
    return _scalar_problem(kind, codes, value)


def _scalar_problem(kind: str, codes: set[str], value: object) -> str | None:
    if kind == QuestionKind.YES_NO and not isinstance(value, bool):
        return _("Must be true or false")
    if kind == QuestionKind.SINGLE_CHOICE and value not in codes:
        return _("Must be an option code of this question")
    if kind == QuestionKind.NUMBER and not is_number(value):
        return _("Must be a number")
    if kind == QuestionKind.DATE and parse_iso_date(value) is None:
        return _("Must be a YYYY-MM-DD date")
    if kind == QuestionKind.SHORT_TEXT and not _is_text(value, 100):
        return _("Must be a text")
    return None


def parse_iso_date(value: object) -> date | None:
    """Returns the date of a strict ISO "YYYY-MM-DD" text, or None."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Refusing a definition


class InvalidDefinition(ValidationError):
    """A questionnaire definition with problems; `errors` keeps them located by key/field."""

    def __init__(self, errors: list[DefinitionError]):
        super().__init__([str(error) for error in errors], code="invalid_definition")
        self.definition_errors = errors


def check_definition(definition: dict) -> None:
    errors = validate_definition(definition)
    if errors:
        raise InvalidDefinition(errors)
