"""Questionnaire definitions: a versioned JSON document, read and checked by pure functions.

A definition is plain JSON so that it can be stored on a QuestionnaireVersion, edited in the
browser, spoken by the phone robot and filled in on a door-knock form without any of them
knowing more than this module. Nothing here touches the database.

Shape (schema 1)::

    {
      "schema": 1,
      "title": "来返人员排查",
      "intro": "…who asks, why, on which legal basis (PIPL art. 13(1)(4))…",
      "closing": "…thanks, what happens next…",
      "lists": {"risk_areas": ["武汉市", "…"]},          # named lists the rules refer to
      "questions": [
        {"key": "temperature", "text": "…", "kind": "number", "required": true,
         "min": 34, "max": 43,
         "next": [{"when": {"q": "temperature", "op": "lt", "value": 37.3}, "goto": "end"}]},
        {"key": "symptoms", "text": "…", "kind": "multiple_choice", "required": true,
         "options": [{"code": "fever", "label": "发热"},
                     {"code": "none", "label": "以上都没有", "exclusive": true}]},
        …
      ],
      "risk_rules": [
        {"when": {"any": [{"q": "temperature", "op": "gte", "value": 37.3},
                          {"q": "symptoms", "op": "contains", "value": "fever"}]},
         "level": "high", "follow_ups": ["door_visit"], "reason": "发热"}
      ]
    }

Branching: after a question is answered its `next` rules are tried in order; the first whose
`when` holds (a rule without `when` always holds) jumps to its `goto` (a later question's key,
or "end"); when none holds the following question comes next. A jump may only go forward, so a
questionnaire can never loop.

Conditions form a small rule language with no code in it: a leaf `{"q": key, "op": op,
"value": v}` or `{"all": [...]}`, `{"any": [...]}`, `{"not": condition}`. Operators:
eq, ne, gt, gte, lt, lte, in, contains, answered, within_days (see OPERATORS_BY_KIND for which
apply to which kind of question). A list value may be written inline or as `{"list": name}`
naming one of the definition's `lists`, so a community updates the listed risk areas in one
place. A leaf about an unanswered question is false (an unknown is not evidence), except
`answered`.

Answers are JSON values: yes_no → bool, single_choice → option code, multiple_choice → list of
codes, number → int or float, date → ISO "YYYY-MM-DD", short_text → str; an optional question
skipped on purpose is stored as None.
"""

import copy
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

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


@dataclass(frozen=True)
class RiskResult:
    """The risk level the answers reach, the follow-ups they call for (in FollowUp order) and
    the reasons (each matched rule's `reason`, in rule order)."""

    level: str
    follow_ups: tuple[str, ...]
    reasons: tuple[str, ...]


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


def _is_number(value: object) -> bool:
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
            if bound is not None and not _is_number(bound):
                out.add(key, name, "number", "上下限须为数字", f"{name} must be a number")
        if _is_number(low) and _is_number(high) and low > high:
            out.add(key, "min", "bounds", "下限大于上限", "min is greater than max")
    if kind == QuestionKind.DATE:
        for name in ("min", "max"):
            bound = question.get(name)
            if bound is not None and bound != "today" and _parse_iso_date(bound) is None:
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
    if kind == QuestionKind.NUMBER and not _is_number(value):
        return ("须为数字", "must be a number")
    if kind == QuestionKind.DATE and _parse_iso_date(value) is None:
        return ("须为YYYY-MM-DD日期", "must be a YYYY-MM-DD date")
    if kind == QuestionKind.SHORT_TEXT and not _is_text(value, 100):
        return ("须为文字", "must be a text")
    return None


# ---------------------------------------------------------------------------------------------
# Answers


def _parse_iso_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_NUMBER = re.compile(r"([+-]?\d+(?:\.\d+)?)(?:℃|°C|°|度)?")
_YES = {"yes", "y", "true", "1", "是", "有", "对"}
_NO = {"no", "n", "false", "2", "0", "否", "无", "没有", "不是"}


def _answer_error(question: Question, code: str, zh: str, en: str) -> AnswerError:
    return AnswerError(key=str(question.get("key", "")), code=code, zh=zh, en=en)


def _is_empty(raw: object) -> bool:
    return raw is None or (isinstance(raw, str | list | tuple) and not raw) or raw == ""


def validate_answer(question: Question, raw: object, *, today: date | None = None) -> Any:
    """Returns the canonical JSON value of a raw answer, or an AnswerError.

    Raw answers come from forms (strings), JSON clients and the phone robot's keypad, so each
    kind accepts the usual spellings: yes_no takes booleans, yes/no, 是/否 and the keys 1/2;
    choices take option codes (or an exact label); multiple_choice takes a list or a
    comma-separated string and refuses an exclusive option ("none of these") combined with
    others; number takes full-width digits and a trailing ℃/度; date takes ISO, 2022/1/5,
    20220105 and 2022年1月5日 within the question's min/max ("today" = `today`). An empty answer
    to an optional question is None; to a required one it is an error.
    """
    if isinstance(raw, str):
        raw = unicodedata.normalize("NFKC", raw).strip()
    if _is_empty(raw):
        if question.get("required"):
            return _answer_error(question, "required", "此题必答", "this question is required")
        return None
    kind = question.get("kind")
    if kind == QuestionKind.YES_NO:
        return _yes_no(question, raw)
    if kind == QuestionKind.SINGLE_CHOICE:
        return _choice(question, raw)
    if kind == QuestionKind.MULTIPLE_CHOICE:
        return _choices(question, raw)
    if kind == QuestionKind.NUMBER:
        return _number(question, raw)
    if kind == QuestionKind.DATE:
        return _date(question, raw, today or date.today())
    if kind == QuestionKind.SHORT_TEXT:
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            return _answer_error(question, "text", "请填写文字", "please write a text")
        text = str(raw).strip()
        limit = question.get("max_length", MAX_SHORT_TEXT)
        if len(text) > limit:
            return _answer_error(
                question, "too_long", f"不能超过{limit}个字", f"at most {limit} characters"
            )
        return text
    return _answer_error(question, "kind", "未知的题型", "unknown question kind")


def _yes_no(question: Question, raw: object) -> bool | AnswerError:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return _answer_error(question, "yes_no", "请回答“是”或“否”", "please answer yes or no")


def _option_code(question: Question, raw: object) -> str | None:
    text = str(raw).strip()
    for option in question.get("options") or []:
        if text in (option["code"], option["label"]):
            return option["code"]
    return None


def _choice(question: Question, raw: object) -> str | AnswerError:
    code = _option_code(question, raw)
    if code is None:
        return _answer_error(question, "option", "请从选项中选择", "please pick one of the options")
    return code


def _choices(question: Question, raw: object) -> list[str] | AnswerError:
    items = raw if isinstance(raw, list | tuple) else re.split(r"[,，、\s]+", str(raw))
    picked: set[str] = set()
    for item in items:
        if _is_empty(item):
            continue
        code = _option_code(question, item)
        if code is None:
            return _answer_error(
                question, "option", f"“{item}”不是本题的选项", f"{item!r} is not an option"
            )
        picked.add(code)
    if not picked:
        if question.get("required"):
            return _answer_error(question, "required", "此题必答", "this question is required")
        return []
    exclusive = {o["code"] for o in question["options"] if o.get("exclusive")}
    if picked & exclusive and len(picked) > 1:
        return _answer_error(
            question,
            "exclusive",
            "“以上都没有”类选项不能与其他选项同选",
            "a 'none of these' option cannot be combined with others",
        )
    # Stored in the options' order so equal answers are equal JSON.
    return [code for code in option_codes(question) if code in picked]


def _number(question: Question, raw: object) -> int | float | AnswerError:
    if isinstance(raw, bool):
        return _answer_error(question, "number", "请填写数字", "please enter a number")
    if _is_number(raw):
        value: int | float = raw  # type: ignore[assignment]
    else:
        match = _NUMBER.fullmatch(str(raw).replace(" ", ""))
        if not match:
            return _answer_error(question, "number", "请填写数字", "please enter a number")
        text = match.group(1)
        value = float(text) if "." in text else int(text)
    low, high = question.get("min"), question.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        return _answer_error(
            question,
            "range",
            f"请填写{_bound(low)}到{_bound(high)}之间的数",
            f"please enter a number from {_bound(low)} to {_bound(high)}",
        )
    return value


def _bound(value: object) -> str:
    return "…" if value is None else str(value)


def _date(question: Question, raw: object, today: date) -> str | AnswerError:
    if isinstance(raw, datetime):
        raw = raw.date()
    parsed = raw if isinstance(raw, date) else None
    if parsed is None:
        text = str(raw).strip()
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
    if parsed is None:
        return _answer_error(
            question, "date", "请填写日期，如2022-01-05", "please enter a date like 2022-01-05"
        )
    low, high = (_date_bound(question.get(name), today) for name in ("min", "max"))
    if (low and parsed < low) or (high and parsed > high):
        return _answer_error(
            question,
            "range",
            f"日期须在{low or '…'}到{high or '…'}之间",
            f"the date must fall from {low or '…'} to {high or '…'}",
        )
    return parsed.isoformat()


def _date_bound(bound: object, today: date) -> date | None:
    if bound == "today":
        return today
    return _parse_iso_date(bound)


def validate_answers(
    defn: Definition, raw_answers: dict[str, object], *, today: date | None = None
) -> tuple[Answers, dict[str, AnswerError]]:
    """Returns (canonical answers, errors by key) for a batch of raw answers; keys that are not
    questions of the definition are errors."""
    questions = question_map(defn)
    values: Answers = {}
    errors: dict[str, AnswerError] = {}
    for key, raw in raw_answers.items():
        question = questions.get(key)
        if question is None:
            errors[key] = AnswerError(
                key=key, code="unknown_question", zh="问卷中没有这道题", en="no such question"
            )
            continue
        result = validate_answer(question, raw, today=today)
        if isinstance(result, AnswerError):
            errors[key] = result
        else:
            values[key] = result
    return values, errors


# ---------------------------------------------------------------------------------------------
# Branching


def _has_answer(question: Question, answers: Answers) -> bool:
    """Whether the question has been dealt with: answered, or skipped when optional."""
    key = question["key"]
    return key in answers and (answers[key] is not None or not question.get("required"))


def route(defn: Definition, answers: Answers, *, today: date | None = None) -> list[str]:
    """Returns the keys of the questions on the path the answers lead through, in order.

    Branch rules are applied at answered questions; at an unanswered one only unconditional
    jumps apply (its conditions cannot be decided yet) and the walk falls through. So answers
    saved out of order, or an earlier answer changed later, still give one consistent path.
    """
    questions = questions_of(defn)
    index = {q["key"]: i for i, q in enumerate(questions)}
    context = _Context.of(defn, today)
    path: list[str] = []
    i = 0
    # Validated definitions only jump forward; the bound guards a malformed one.
    while 0 <= i < len(questions) and len(path) <= len(questions):
        question = questions[i]
        path.append(question["key"])
        goto = _branch_target(question, answers, context)
        if goto == END:
            break
        i = index[goto] if goto in index and index[goto] > i else i + 1
    return path


def _branch_target(question: Question, answers: Answers, context: "_Context") -> str | None:
    answered = question["key"] in answers
    for branch in question.get("next") or []:
        if "when" not in branch:
            return branch.get("goto")
        if answered and _holds(branch["when"], answers, context):
            return branch.get("goto")
    return None


def active_answers(defn: Definition, answers: Answers, *, today: date | None = None) -> Answers:
    """Returns the answers to questions on the current path (answers left behind by a changed
    branch are kept in storage but no longer count)."""
    on_path = set(route(defn, answers, today=today))
    return {key: value for key, value in answers.items() if key in on_path}


def next_question(defn: Definition, answers: Answers, *, today: date | None = None) -> str | None:
    """Returns the key of the first question on the path not yet answered (or skipped), or
    None when there is nothing left to ask."""
    questions = question_map(defn)
    for key in route(defn, answers, today=today):
        if not _has_answer(questions[key], answers):
            return key
    return None


def is_complete(defn: Definition, answers: Answers, *, today: date | None = None) -> bool:
    """Returns whether every required question on the path has an answer (optional ones may
    still be open)."""
    questions = question_map(defn)
    return all(
        answers.get(key) is not None
        for key in route(defn, answers, today=today)
        if questions[key].get("required")
    )


# ---------------------------------------------------------------------------------------------
# Risk


def evaluate_risk(defn: Definition, answers: Answers, *, today: date | None = None) -> RiskResult:
    """Returns the highest level among the risk rules the answers meet, with the follow-ups
    and reasons of every rule met. Only answers on the current path count; partial answers are
    evaluated as they stand (a fever reported before the connection dropped already counts).
    `today` anchors within_days (the day the answers were given)."""
    context = _Context.of(defn, today)
    current = active_answers(defn, answers, today=context.today)
    level = RiskLevel.NONE.value
    follow_ups: set[str] = set()
    reasons: list[str] = []
    for rule in defn.get("risk_rules") or []:
        if not _holds(rule["when"], current, context):
            continue
        rule_level = rule.get("level", RiskLevel.NONE)
        if RISK_ORDER.index(rule_level) > RISK_ORDER.index(level):
            level = rule_level
        follow_ups.update(rule.get("follow_ups") or [])
        if rule.get("reason") and rule["reason"] not in reasons:
            reasons.append(rule["reason"])
    return RiskResult(
        level=level,
        follow_ups=tuple(f for f in FOLLOW_UP_ORDER if f in follow_ups),
        reasons=tuple(reasons),
    )


@dataclass(frozen=True)
class _Context:
    lists: dict[str, list]
    kinds: dict[str, str]
    today: date

    @classmethod
    def of(cls, defn: Definition, today: date | None) -> "_Context":
        return cls(
            lists=defn.get("lists") or {},
            kinds={key: q.get("kind", "") for key, q in question_map(defn).items()},
            today=today or date.today(),
        )


def _holds(condition: dict, answers: Answers, context: _Context) -> bool:
    """Returns whether a (validated) condition holds for the answers."""
    if "all" in condition:
        return all(_holds(c, answers, context) for c in condition["all"])
    if "any" in condition:
        return any(_holds(c, answers, context) for c in condition["any"])
    if "not" in condition:
        return not _holds(condition["not"], answers, context)
    key, op, value = condition["q"], condition["op"], condition.get("value")
    answer = answers.get(key)
    if op == "answered":
        return (answer is not None) == bool(value)
    if answer is None:
        return False
    kind = context.kinds.get(key)
    if op == "eq":
        return answer == value
    if op == "ne":
        return answer != value
    if op in ("gt", "gte", "lt", "lte"):
        if kind == QuestionKind.DATE:
            left, right = _parse_iso_date(answer), _parse_iso_date(value)
        else:
            left, right = answer, value
        if not (_is_number(left) and _is_number(right)) and not (
            isinstance(left, date) and isinstance(right, date)
        ):
            return False
        return {
            "gt": left > right,
            "gte": left >= right,
            "lt": left < right,
            "lte": left <= right,
        }[op]
    if op == "within_days":
        day = _parse_iso_date(answer)
        return day is not None and 0 <= (context.today - day).days <= value
    if op == "in":
        items = context.lists.get(value["list"], []) if isinstance(value, dict) else value
        if kind == QuestionKind.SHORT_TEXT and isinstance(answer, str):
            # Residents write 陕西省西安市雁塔区 for a listed 西安市: a listed name inside the
            # text counts.
            return any(isinstance(item, str) and item and item in answer for item in items)
        return answer in items
    if op == "contains":
        if isinstance(answer, list):
            wanted = value if isinstance(value, list) else [value]
            return any(item in answer for item in wanted)
        return isinstance(answer, str) and isinstance(value, str) and value in answer
    return False


# ---------------------------------------------------------------------------------------------
# Ready templates, taken from the scripts communities used in 2020–2022


PIPL_BASIS = (
    "依据《中华人民共和国传染病防治法》《突发事件应对法》和《个人信息保护法》第十三条第一款第四项"
    "（为应对突发公共卫生事件所必需），"
)


def _yes_no_question(key: str, text: str, **extra: Any) -> Question:
    return {"key": key, "text": text, "kind": QuestionKind.YES_NO.value, "required": True, **extra}


SYMPTOM_OPTIONS = [
    {"code": "fever", "label": "发热"},
    {"code": "cough", "label": "干咳"},
    {"code": "fatigue", "label": "乏力"},
    {"code": "sore_throat", "label": "咽痛"},
    {"code": "smell_taste_loss", "label": "嗅觉或味觉减退"},
    {"code": "diarrhoea", "label": "腹泻"},
    {"code": "none", "label": "以上症状都没有", "exclusive": True},
]
OTHER_SYMPTOMS = ["cough", "fatigue", "sore_throat", "smell_taste_loss", "diarrhoea"]
FEVER = {
    "any": [
        {"q": "temperature", "op": "gte", "value": 37.3},
        {"q": "symptoms", "op": "contains", "value": "fever"},
    ]
}
HELP_QUESTIONS = [
    _yes_no_question(
        "needs_help",
        "您或家人目前在买药、就医、生活物资等方面有没有困难，需要社区帮忙？",
        next=[{"when": {"q": "needs_help", "op": "eq", "value": False}, "goto": END}],
    ),
    {
        "key": "help_detail",
        "text": "请简单说说需要什么帮助（如：需要买降压药、需要送菜上门）。",
        "kind": QuestionKind.SHORT_TEXT.value,
        "required": False,
    },
]
HELP_RULE = {
    "when": {"q": "needs_help", "op": "eq", "value": True},
    "level": RiskLevel.NONE.value,
    "follow_ups": [FollowUp.NEED_HELP.value],
    "reason": "需要社区帮助",
}


def arrivals_template() -> Definition:
    """Returns the arrivals/travel screening (来返人员排查) definition, a fresh copy."""
    return copy.deepcopy(
        {
            "schema": SCHEMA_VERSION,
            "title": "来（返）人员健康排查",
            "intro": (
                "您好！这里是社区居民委员会。"
                + PIPL_BASIS
                + "我们正在对近期来（返）本辖区的人员进行健康排查。您提供的信息只用于本次疫情防控，"
                "不会公开，也不会用于其他用途，防控工作结束后依法删除。大约需要两分钟，谢谢配合！"
            ),
            "closing": (
                "感谢您的配合！如出现发热、干咳等症状，请及时告知社区并到发热门诊就诊，"
                "就医途中请全程佩戴口罩，不乘坐公共交通。"
            ),
            # The community fills this in from the day's official list of medium/high-risk
            # areas; empty until then so a stale list never flags anyone.
            "lists": {"risk_areas": []},
            "questions": [
                _yes_no_question(
                    "arrived_recently",
                    "您本人近14天内是否从外地来（返）本地？",
                    next=[
                        {
                            "when": {"q": "arrived_recently", "op": "eq", "value": False},
                            "goto": "symptoms",
                        }
                    ],
                ),
                {
                    "key": "came_from",
                    "text": "您是从哪个省、市、区（县）来（返）的？",
                    "kind": QuestionKind.SHORT_TEXT.value,
                    "required": True,
                },
                {
                    "key": "arrival_date",
                    "text": "您是哪一天到达本地的？",
                    "kind": QuestionKind.DATE.value,
                    "required": True,
                    "max": "today",
                },
                {
                    "key": "transport",
                    "text": "您乘坐什么交通工具来（返）？",
                    "kind": QuestionKind.SINGLE_CHOICE.value,
                    "required": False,
                    "options": [
                        {"code": "plane", "label": "飞机"},
                        {"code": "train", "label": "火车"},
                        {"code": "coach", "label": "长途汽车"},
                        {"code": "car", "label": "自驾"},
                        {"code": "other", "label": "其他"},
                    ],
                },
                _yes_no_question(
                    "risk_area_visit",
                    "近14天内，您是否到过或途经中、高风险地区所在的县（市、区）？",
                ),
                {
                    "key": "symptoms",
                    "text": "您目前有没有以下症状？（可多选）",
                    "kind": QuestionKind.MULTIPLE_CHOICE.value,
                    "required": True,
                    "options": copy.deepcopy(SYMPTOM_OPTIONS),
                },
                {
                    "key": "temperature",
                    "text": "请测量并告诉我们您现在的体温（℃）。家里没有体温计可以跳过。",
                    "kind": QuestionKind.NUMBER.value,
                    "required": False,
                    "min": 34,
                    "max": 43,
                },
                {
                    "key": "health_code",
                    "text": "您的健康码现在是什么颜色？",
                    "kind": QuestionKind.SINGLE_CHOICE.value,
                    "required": True,
                    "options": [
                        {"code": "green", "label": "绿码"},
                        {"code": "yellow", "label": "黄码"},
                        {"code": "red", "label": "红码"},
                        {"code": "unknown", "label": "不清楚或没有健康码"},
                    ],
                },
                {
                    "key": "vaccination",
                    "text": "您接种新冠疫苗的情况是？",
                    "kind": QuestionKind.SINGLE_CHOICE.value,
                    "required": False,
                    "options": [
                        {"code": "none", "label": "未接种"},
                        {"code": "partial", "label": "未完成全程接种"},
                        {"code": "full", "label": "已完成全程接种"},
                        {"code": "booster", "label": "已接种加强针"},
                    ],
                },
                *copy.deepcopy(HELP_QUESTIONS),
            ],
            "risk_rules": [
                {
                    "when": {
                        "all": [
                            {"q": "arrival_date", "op": "within_days", "value": 14},
                            {
                                "any": [
                                    {"q": "risk_area_visit", "op": "eq", "value": True},
                                    {"q": "came_from", "op": "in", "value": {"list": "risk_areas"}},
                                ]
                            },
                        ]
                    },
                    "level": RiskLevel.HIGH.value,
                    "follow_ups": [
                        FollowUp.DOOR_VISIT.value,
                        FollowUp.HEALTH_MONITORING_PROPOSAL.value,
                    ],
                    "reason": "14天内来自或途经中高风险地区",
                },
                {
                    "when": {"q": "health_code", "op": "eq", "value": "red"},
                    "level": RiskLevel.HIGH.value,
                    "follow_ups": [
                        FollowUp.DOOR_VISIT.value,
                        FollowUp.HEALTH_MONITORING_PROPOSAL.value,
                    ],
                    "reason": "健康码为红码",
                },
                {
                    "when": FEVER,
                    "level": RiskLevel.HIGH.value,
                    "follow_ups": [FollowUp.DOOR_VISIT.value],
                    "reason": "发热（体温≥37.3℃）",
                },
                {
                    "when": {"q": "health_code", "op": "eq", "value": "yellow"},
                    "level": RiskLevel.MEDIUM.value,
                    "follow_ups": [FollowUp.HEALTH_MONITORING_PROPOSAL.value],
                    "reason": "健康码为黄码",
                },
                {
                    "when": {"q": "symptoms", "op": "contains", "value": OTHER_SYMPTOMS},
                    "level": RiskLevel.MEDIUM.value,
                    "follow_ups": [FollowUp.DOOR_VISIT.value],
                    "reason": "有干咳、乏力等症状",
                },
                {
                    "when": {"q": "arrival_date", "op": "within_days", "value": 14},
                    "level": RiskLevel.LOW.value,
                    "follow_ups": [],
                    "reason": "14天内来（返）",
                },
                copy.deepcopy(HELP_RULE),
            ],
        }
    )


def daily_symptoms_template() -> Definition:
    """Returns the daily symptom screening (每日健康监测) definition, a fresh copy."""
    return copy.deepcopy(
        {
            "schema": SCHEMA_VERSION,
            "title": "每日健康监测",
            "intro": (
                "您好！这里是社区居民委员会的每日健康监测。"
                + PIPL_BASIS
                + "我们每天了解居民的健康状况。您的回答只用于疫情防控，不会公开，"
                "防控工作结束后依法删除。大约需要一分钟。"
            ),
            "closing": (
                "感谢您的配合！如身体不适请随时联系社区或网格员；"
                "出现发热请佩戴口罩到发热门诊就诊，途中不乘坐公共交通。"
            ),
            "questions": [
                {
                    "key": "temperature",
                    "text": "请测量并告诉我们您今天的体温（℃）。",
                    "kind": QuestionKind.NUMBER.value,
                    "required": True,
                    "min": 34,
                    "max": 43,
                },
                {
                    "key": "symptoms",
                    "text": "您今天有没有以下症状？（可多选）",
                    "kind": QuestionKind.MULTIPLE_CHOICE.value,
                    "required": True,
                    "options": copy.deepcopy(SYMPTOM_OPTIONS),
                },
                _yes_no_question(
                    "contact_confirmed",
                    "近14天内，您是否接触过确诊病例、无症状感染者或他们的密切接触者？",
                ),
                {
                    "key": "tested_today",
                    "text": "您今天是否已经做了核酸检测？",
                    "kind": QuestionKind.SINGLE_CHOICE.value,
                    "required": False,
                    "options": [
                        {"code": "done", "label": "已经做了"},
                        {"code": "not_yet", "label": "还没有做"},
                        {"code": "not_required", "label": "今天不需要做"},
                    ],
                },
                _yes_no_question(
                    "medication_needs",
                    "您或家人有没有需要长期服用的药（如降压药、降糖药）或透析、化疗等治疗，"
                    "目前买药或就医有困难？",
                    next=[
                        {
                            "when": {"q": "medication_needs", "op": "eq", "value": False},
                            "goto": "needs_help",
                        }
                    ],
                ),
                {
                    "key": "medication_detail",
                    "text": "请说说需要什么药或什么治疗。",
                    "kind": QuestionKind.SHORT_TEXT.value,
                    "required": False,
                },
                *copy.deepcopy(HELP_QUESTIONS),
            ],
            "risk_rules": [
                {
                    "when": FEVER,
                    "level": RiskLevel.HIGH.value,
                    "follow_ups": [
                        FollowUp.DOOR_VISIT.value,
                        FollowUp.HEALTH_MONITORING_PROPOSAL.value,
                    ],
                    "reason": "发热（体温≥37.3℃）",
                },
                {
                    "when": {"q": "contact_confirmed", "op": "eq", "value": True},
                    "level": RiskLevel.HIGH.value,
                    "follow_ups": [
                        FollowUp.DOOR_VISIT.value,
                        FollowUp.HEALTH_MONITORING_PROPOSAL.value,
                    ],
                    "reason": "接触过确诊病例或密接",
                },
                {
                    "when": {"q": "symptoms", "op": "contains", "value": OTHER_SYMPTOMS},
                    "level": RiskLevel.MEDIUM.value,
                    "follow_ups": [FollowUp.DOOR_VISIT.value],
                    "reason": "有干咳、乏力等症状",
                },
                {
                    "when": {"q": "tested_today", "op": "eq", "value": "not_yet"},
                    "level": RiskLevel.LOW.value,
                    "follow_ups": [],
                    "reason": "今日尚未核酸检测",
                },
                {
                    "when": {"q": "medication_needs", "op": "eq", "value": True},
                    "level": RiskLevel.NONE.value,
                    "follow_ups": [FollowUp.NEED_HELP.value],
                    "reason": "买药或就医有困难",
                },
                copy.deepcopy(HELP_RULE),
            ],
        }
    )


# code → (label, factory). The pages offer these when a lead starts a questionnaire.
TEMPLATES = {
    "arrivals": (_("Arrivals screening (来返人员排查)"), arrivals_template),
    "daily_symptoms": (_("Daily symptom screening (每日健康监测)"), daily_symptoms_template),
}


def template_definition(code: str) -> Definition:
    """Returns a fresh copy of a ready template. Raises KeyError for an unknown code."""
    return TEMPLATES[code][1]()
