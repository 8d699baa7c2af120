"""The definition's shape: question kinds, risk levels, follow-ups, and validate_definition,
which locates every problem at its question and field."""

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

SCHEMA_VERSION = 1
END = "end"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_QUESTIONS = 100
MAX_TEXT = 500
MAX_SHORT_TEXT = 200
MAX_CONDITION_DEPTH = 5
MAX_CONDITION_LEAVES = 50


class QuestionKind(models.TextChoices):
    YES_NO = "yes_no", _("Yes or no")
    SINGLE_CHOICE = "single_choice", _("Single choice")
    MULTIPLE_CHOICE = "multiple_choice", _("Multiple choice")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    SHORT_TEXT = "short_text", _("Short text")


CHOICE_KINDS = {QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE}


class RiskLevel(models.TextChoices):
    NONE = "none", _("No risk")
    LOW = "low", _("Low risk")
    MEDIUM = "medium", _("Medium risk")
    HIGH = "high", _("High risk")


RISK_ORDER = [level.value for level in RiskLevel]


class FollowUp(models.TextChoices):
    DOOR_VISIT = "door_visit", _("Door visit")
    HEALTH_MONITORING_PROPOSAL = "health_monitoring_proposal", _("Propose health monitoring")
    NEED_HELP = "need_help", _("Needs help")


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
    zh: str
    en: str

    def __str__(self) -> str:
        where = ".".join(part for part in (self.key, self.field) if part)
        return f"{where}: {self.zh} / {self.en}" if where else f"{self.zh} / {self.en}"


@dataclass(frozen=True)
class AnswerError:
    """A raw answer that does not fit its question, said in Chinese and English."""

    key: str
    code: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


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

    def add(self, key: str, field: str, code: str, zh: str, en: str) -> None:
        self.errors.append(DefinitionError(key=key, field=field, code=code, zh=zh, en=en))


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
        out.add("", "", "not_object", "问卷定义必须是对象", "the definition must be an object")
        return out.errors
    if defn.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        out.add("", "schema", "schema", "不支持的问卷格式版本", "unsupported definition schema")
    for name, zh in (("title", "标题"), ("intro", "开场说明"), ("closing", "结束语")):
        if not _is_text(defn.get(name), 2000):
            out.add("", name, "required", f"{zh}不能为空", f"the {name} text is required")
    lists = defn.get("lists", {})
    if not isinstance(lists, dict):
        out.add("", "lists", "lists", "名单必须是对象", "lists must be an object")
        lists = {}
    for name, items in lists.items():
        if not isinstance(name, str) or not KEY_PATTERN.match(name):
            out.add("", f"lists.{name}", "key", "名单名称格式不正确", "bad list name")
        if not isinstance(items, list) or not all(_is_text(i, 100) for i in items):
            out.add(
                "", f"lists.{name}", "list_items", "名单须为文字列表", "a list holds texts only"
            )
    raw_questions = defn.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        out.add("", "questions", "required", "至少需要一道题", "at least one question is needed")
        return out.errors
    if len(raw_questions) > MAX_QUESTIONS:
        out.add(
            "",
            "questions",
            "too_many",
            f"题目不能超过{MAX_QUESTIONS}道",
            f"at most {MAX_QUESTIONS} questions",
        )
    position: dict[str, int] = {}
    for index, question in enumerate(raw_questions):
        if not isinstance(question, dict):
            out.add("", f"questions[{index}]", "not_object", "题目格式错误", "bad question")
            continue
        key = question.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            out.add(
                str(key or f"questions[{index}]"),
                "key",
                "key",
                "题目编号须以小写字母开头，只含小写字母、数字和下划线",
                "a question key starts with a lowercase letter and holds only a-z, 0-9 and _",
            )
            continue
        if key == END:
            out.add(key, "key", "reserved", "“end”是保留字", "'end' is reserved")
            continue
        if key in position:
            out.add(key, "key", "duplicate", "题目编号重复", "duplicate question key")
            continue
        position[key] = index
    questions = question_map(defn)
    for index in position.values():
        _check_question(out, raw_questions[index], questions, position, lists)
    _check_reachable(out, raw_questions, position)
    rules = defn.get("risk_rules", [])
    if not isinstance(rules, list):
        out.add("", "risk_rules", "not_list", "风险规则必须是列表", "risk rules must be a list")
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
        out.add(key, "text", "required", "题目文字不能为空", "the question text is required")
    kind = question.get("kind")
    if kind not in QuestionKind.values:
        out.add(key, "kind", "kind", "未知的题型", f"unknown question kind {kind!r}")
        return
    if not isinstance(question.get("required", False), bool):
        out.add(key, "required", "bool", "“必答”须为是或否", "required must be true or false")
    options = question.get("options")
    if kind in CHOICE_KINDS:
        _check_options(out, key, options)
    elif options:
        out.add(
            key,
            "options",
            "options_unused",
            "只有选择题才有选项",
            "only choice questions have options",
        )
    if kind == QuestionKind.NUMBER:
        low, high = question.get("min"), question.get("max")
        for name, bound in (("min", low), ("max", high)):
            if bound is not None and not is_number(bound):
                out.add(key, name, "number", "上下限须为数字", f"{name} must be a number")
        if is_number(low) and is_number(high) and low > high:
            out.add(key, "min", "bounds", "下限大于上限", "min is greater than max")
    if kind == QuestionKind.DATE:
        for name in ("min", "max"):
            bound = question.get(name)
            if bound is not None and bound != "today" and parse_iso_date(bound) is None:
                out.add(
                    key,
                    name,
                    "date",
                    "日期上下限须为YYYY-MM-DD或today",
                    f"{name} must be YYYY-MM-DD or 'today'",
                )
    branches = question.get("next", [])
    if not isinstance(branches, list):
        out.add(key, "next", "not_list", "跳转规则必须是列表", "branch rules must be a list")
        return
    # A branch may look at this question and earlier ones: later ones are not asked yet.
    asked = {k for k, i in position.items() if i <= position[key]}
    for number, branch in enumerate(branches):
        field = f"next[{number}]"
        if not isinstance(branch, dict):
            out.add(key, field, "not_object", "跳转规则格式错误", "bad branch rule")
            continue
        goto = branch.get("goto")
        if goto == END:
            pass
        elif goto not in position:
            out.add(
                key,
                f"{field}.goto",
                "unknown_target",
                f"跳转目标“{goto}”不存在",
                f"branch target {goto!r} does not exist",
            )
        elif position[goto] <= position[key]:
            out.add(
                key,
                f"{field}.goto",
                "cycle",
                "跳转指向本题或之前的题目，会形成循环",
                "the branch points back to this or an earlier question, which makes a loop",
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
            "选择题至少需要两个选项",
            "a choice needs two options",
        )
        return
    seen: set[str] = set()
    for number, option in enumerate(options):
        field = f"options[{number}]"
        if not isinstance(option, dict):
            out.add(key, field, "not_object", "选项格式错误", "bad option")
            continue
        code = option.get("code")
        if not isinstance(code, str) or not KEY_PATTERN.match(code):
            out.add(
                key,
                f"{field}.code",
                "key",
                "选项编码须以小写字母开头，只含小写字母、数字和下划线",
                "an option code starts with a lowercase letter and holds only a-z, 0-9 and _",
            )
        elif code in seen:
            out.add(key, f"{field}.code", "duplicate", "选项编码重复", "duplicate option code")
        else:
            seen.add(code)
        if not _is_text(option.get("label"), 100):
            out.add(key, f"{field}.label", "required", "选项文字不能为空", "option label required")


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
                "没有任何作答路径会到达这道题",
                "no path through the questionnaire reaches this question",
            )


def _check_risk_rule(
    out: _Collector, rule: object, field: str, questions: dict[str, Question], lists: dict
) -> None:
    if not isinstance(rule, dict):
        out.add("", field, "not_object", "风险规则格式错误", "bad risk rule")
        return
    if "when" not in rule:
        out.add(
            "", f"{field}.when", "required", "风险规则需要条件", "a risk rule needs a condition"
        )
    else:
        _check_condition(out, rule["when"], f"{field}.when", questions, lists, allowed=None)
    level = rule.get("level", RiskLevel.NONE)
    if level not in RISK_ORDER:
        out.add("", f"{field}.level", "level", "未知的风险等级", f"unknown risk level {level!r}")
    follow_ups = rule.get("follow_ups", [])
    if not isinstance(follow_ups, list) or any(f not in FOLLOW_UP_ORDER for f in follow_ups):
        out.add("", f"{field}.follow_ups", "follow_up", "未知的后续措施", "unknown follow-up")
    elif len(set(follow_ups)) != len(follow_ups):
        out.add("", f"{field}.follow_ups", "duplicate", "后续措施重复", "duplicate follow-up")
    elif level == RiskLevel.NONE and not follow_ups:
        out.add(
            "",
            field,
            "no_effect",
            "规则既不定风险也无后续措施",
            "the rule sets neither a risk level nor a follow-up",
        )
    if not _is_text(rule.get("reason"), 100):
        out.add(
            "",
            f"{field}.reason",
            "required",
            "请写明原因（显示给工作人员，不超过100字）",
            "a reason (shown to workers, at most 100 characters) is required",
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
        out.add(owner, field, "too_deep", "条件嵌套过深", "the condition is nested too deeply")
        return
    if not isinstance(condition, dict):
        out.add(owner, field, "not_object", "条件格式错误", "bad condition")
        return
    groups = [name for name in ("all", "any", "not") if name in condition]
    if groups:
        name = groups[0]
        if len(condition) != 1:
            out.add(owner, field, "mixed", "条件组只能有一个键", "a condition group has one key")
            return
        parts = [condition["not"]] if name == "not" else condition[name]
        if not isinstance(parts, list) or not parts:
            out.add(owner, f"{field}.{name}", "empty", "条件组不能为空", "an empty condition group")
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
            out.add(owner, field, "too_many", "条件过多", "too many conditions")
        return
    key, op, value = condition.get("q"), condition.get("op"), condition.get("value")
    at = owner or (key if isinstance(key, str) else "")
    if key not in questions:
        out.add(
            at, f"{field}.q", "unknown_question", f"条件引用的题目“{key}”不存在", "unknown question"
        )
        return
    if allowed is not None and key not in allowed:
        out.add(
            at,
            f"{field}.q",
            "later_question",
            f"跳转条件不能引用后面的题目“{key}”",
            f"a branch cannot look at the later question {key!r}",
        )
        return
    question = questions[key]
    kind = question.get("kind")
    if op not in OPERATORS:
        out.add(at, f"{field}.op", "operator", f"未知的比较方式“{op}”", f"unknown operator {op!r}")
        return
    if op not in OPERATORS_BY_KIND.get(kind, set()):
        out.add(
            at,
            f"{field}.op",
            "operator_kind",
            f"比较方式“{op}”不适用于该题型",
            f"operator {op!r} does not apply to a {kind} question",
        )
        return
    problem = _value_problem(question, op, value, lists)
    if problem:
        zh, en = problem
        out.add(at, f"{field}.value", "value", zh, en)


def _value_problem(
    question: Question, op: str, value: object, lists: dict
) -> tuple[str, str] | None:
    """Returns (zh, en) when a condition's value does not fit its question and operator."""
    kind = question["kind"]
    codes = set(option_codes(question))
    if op == "answered":
        return None if isinstance(value, bool) else ("须为是或否", "must be true or false")
    if op == "within_days":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3660
        return None if ok else ("须为0到3660之间的天数", "must be a number of days, 0 to 3660")
    if op == "in":
        items = value
        if isinstance(value, dict) and set(value) == {"list"}:
            if value["list"] not in lists:
                return (f"名单“{value['list']}”不存在", f"unknown list {value['list']!r}")
            items = lists[value["list"]]
        if not isinstance(items, list):
            return ('须为列表或{"list": 名单}', 'must be a list or {"list": name}')
        return next((p for p in (_scalar_problem(kind, codes, item) for item in items) if p), None)
    if op == "contains":
        if kind == QuestionKind.MULTIPLE_CHOICE:
            items = value if isinstance(value, list) else [value]
            if not items or any(item not in codes for item in items):
                return ("须为本题的选项编码", "must be option codes of this question")
            return None
        return None if _is_text(value, 100) else ("须为文字", "must be a text")
    return _scalar_problem(kind, codes, value)


def _scalar_problem(kind: str, codes: set[str], value: object) -> tuple[str, str] | None:
    if kind == QuestionKind.YES_NO and not isinstance(value, bool):
        return ("须为是或否", "must be true or false")
    if kind == QuestionKind.SINGLE_CHOICE and value not in codes:
        return ("须为本题的选项编码", "must be an option code of this question")
    if kind == QuestionKind.NUMBER and not is_number(value):
        return ("须为数字", "must be a number")
    if kind == QuestionKind.DATE and parse_iso_date(value) is None:
        return ("须为YYYY-MM-DD日期", "must be a YYYY-MM-DD date")
    if kind == QuestionKind.SHORT_TEXT and not _is_text(value, 100):
        return ("须为文字", "must be a text")
    return None


# ---------------------------------------------------------------------------------------------
# Answers


def parse_iso_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


class InvalidDefinition(ValidationError):
    """A questionnaire definition with problems; `errors` keeps them located by key/field."""

    def __init__(self, errors: list[DefinitionError]):
        super().__init__([str(error) for error in errors], code="invalid_definition")
        self.definition_errors = errors


def check_definition(definition: dict) -> None:
    errors = validate_definition(definition)
    if errors:
        raise InvalidDefinition(errors)
