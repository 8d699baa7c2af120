"""How a definition reads in the builder (no database, no request): the outline shown without
JavaScript, where each problem lies in words, conditions and values as sentences, and the
vocabulary (kinds, operators, labels) the builder's script is given."""

import json
import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from linli.screening.questionnaires.schema import (
    END,
    FOLLOW_UP_ORDER,
    OPERATORS_BY_KIND,
    RISK_ORDER,
    DefinitionError,
    FollowUp,
    QuestionKind,
    RiskLevel,
    question_map,
    questions_of,
)

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


def pretty(definition: object) -> str:
    return json.dumps(definition, ensure_ascii=False, indent=2)


# ---------------------------------------------------------------------------------------------
# Where a problem is, in words


_STEP = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")


def error_json(error: DefinitionError) -> dict:
    return {"key": error.key, "field": error.field, "message": error.message}


def error_row(error: DefinitionError, definition: object) -> dict:
    return {"where": _where(error, definition), "message": error.message}


def _where(error: DefinitionError, definition: object) -> str:
    """Says where a problem is: "Question 3 › option 2 › code" (keys are never shown: a lead
    knows a question by its number)."""
    parts: list[str] = []
    questions = questions_of(definition) if isinstance(definition, dict) else []
    if error.key.startswith("questions["):  # a question whose key itself is unusable
        parts.append(_("Question %(n)s") % {"n": _index_in(error.key) or "?"})
    elif error.key and not error.field.startswith("risk_rules"):
        # A risk rule's problem is told at the rule, even when it is about one question.
        number = next((i for i, q in enumerate(questions, 1) if q.get("key") == error.key), "?")
        parts.append(_("Question %(n)s") % {"n": number})
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
    "list_labels": gettext_lazy("Lists"),
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


def outline(definition: dict) -> dict:
    """Returns the definition in words, tolerant of a malformed one (it may be what a user
    just posted)."""
    questions = questions_of(definition)
    by_key = question_map(definition)
    kinds = dict(QuestionKind.choices)
    list_labels = list_labels_of(definition)
    rows = []
    for number, question in enumerate(questions, 1):
        kind = question.get("kind")
        options = [
            {
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
                condition = describe_condition(branch["when"], by_key, labels=list_labels)
                branches.append(
                    _("if %(condition)s, go to %(target)s")
                    % {"condition": condition, "target": target}
                )
            else:
                branches.append(_("then go to %(target)s") % {"target": target})
        rows.append(
            {
                "number": number,
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
                "condition": condition_tree(rule.get("when"), by_key, labels=list_labels),
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
            {"label": list_labels[name], "items": items if isinstance(items, list) else []}
            for name, items in lists.items()
            if name in list_labels
        ],
        "questions": rows,
        "risk_rules": rules,
    }


def list_labels_of(definition: dict) -> dict[str, str]:
    """Returns {list name: what people call it}: its label, or "List 2" for one without."""
    lists = definition.get("lists") if isinstance(definition.get("lists"), dict) else {}
    given = definition.get("list_labels")
    given = given if isinstance(given, dict) else {}
    return {
        name: (
            given[name].strip()
            if isinstance(given.get(name), str) and given[name].strip()
            else _("List %(n)s") % {"n": number}
        )
        for number, name in enumerate(lists, 1)
    }


def _short(text: object) -> str:
    text = text.strip() if isinstance(text, str) else ""
    return f"{text[:24]}…" if len(text) > 24 else text


def _question_name(by_key: dict, key: object) -> str:
    """Names a question by its number and the start of its text, never by its key."""
    question = by_key.get(key) if isinstance(key, str) else None
    if question is None:
        return _("a question no longer in the questionnaire")
    position = list(by_key).index(key) + 1
    return _("question %(n)s “%(text)s”") % {"n": position, "text": _short(question.get("text"))}


def _bounds(question: dict) -> str:
    low, high = question.get("min"), question.get("max")
    if low is None and high is None:
        return ""
    today = _("today")
    show = [today if v == "today" else ("…" if v is None else str(v)) for v in (low, high)]
    return f"{show[0]} – {show[1]}"


def describe_condition(
    condition: object, by_key: dict, *, labels: dict[str, str] | None = None
) -> str:
    """Returns a condition in words, naming questions by number and text: "(question 7
    “请测量…” ≥ 37.3 or question 6 “您目前有…” includes 发热)"."""
    if not isinstance(condition, dict):
        return "?"
    for group, joiner in (("all", f" {_('and')} "), ("any", f" {_('or')} ")):
        if group in condition:
            parts = condition[group] if isinstance(condition[group], list) else []
            inner = joiner.join(describe_condition(p, by_key, labels=labels) for p in parts)
            return f"({inner})" if len(parts) > 1 else inner
    if "not" in condition:
        inner = describe_condition(condition["not"], by_key, labels=labels)
        return _("not %(condition)s") % {"condition": inner}
    key, op, value = condition.get("q"), condition.get("op"), condition.get("value")
    question = by_key.get(key) if isinstance(key, str) else None
    name = _question_name(by_key, key)
    if op == "answered":
        return (_("%(q)s is answered") if value else _("%(q)s is not answered")) % {"q": name}
    if op == "within_days":
        return _("%(q)s within the last %(days)s days") % {"q": name, "days": value}
    shown = describe_value(value, question, labels=labels)
    return f"{name} {OPERATOR_LABELS.get(op, '?')} {shown}"


def condition_tree(
    condition: object, by_key: dict, *, labels: dict[str, str] | None = None
) -> dict:
    """Returns a condition shaped as the builder's editor shows it, for the page without
    script: a group is {"mode": "all of these hold", "rows": [...]}, one condition on one
    question is {"text": "question 7 “…” ≥ 37.3"}."""
    if isinstance(condition, dict):
        parts: object = None
        mode = ""
        if isinstance(condition.get("all"), list):
            parts, mode = condition["all"], _("all of these hold")
        elif isinstance(condition.get("any"), list):
            parts, mode = condition["any"], _("any of these holds")
        elif "not" in condition:
            inner = condition["not"]
            single = not (isinstance(inner, dict) and isinstance(inner.get("any"), list))
            parts, mode = ([inner] if single else inner["any"]), _("none of these holds")
        if isinstance(parts, list) and len(parts) > 0 and (len(parts) > 1 or "not" in condition):
            rows = [condition_tree(part, by_key, labels=labels) for part in parts]
            return {"mode": mode, "rows": rows}
        if isinstance(parts, list) and len(parts) == 1:
            return condition_tree(parts[0], by_key, labels=labels)
    return {"text": describe_condition(condition, by_key, labels=labels)}


def describe_value(
    value: object, question: dict | None, *, labels: dict[str, str] | None = None
) -> str:
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
        label = (labels or {}).get(value["list"]) or _("a list no longer in the questionnaire")
        return _("the list “%(name)s”") % {"name": label}
    if isinstance(value, list):
        return "、".join(str(labels.get(v, v)) for v in value)
    return str(labels.get(value, value))


# ---------------------------------------------------------------------------------------------
# What the builder's JavaScript needs to know


def vocabulary() -> dict:
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
            "text": _("Question text"),
            "kind": _("Kind"),
            "required": _("Required"),
            "options": _("Options"),
            "option": _("Option"),
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
            "none": _("none of these holds"),
            "condition_group": _("How the conditions combine"),
            "add_condition": _("Add a condition"),
            "add_group": _("Add a group of conditions"),
            "remove_group": _("Remove this group"),
            "missing": _("(a question no longer here)"),
            "untitled": _("(no text yet)"),
            # Context: the registry's "yes" (has a smartphone) reads differently in Chinese.
            "yes": pgettext("answer", "yes"),
            "no": pgettext("answer", "no"),
            "list_prefix": _("list:"),
            "list": _("List"),
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
            "list_name": _("What the list is called"),
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
