"""The condition language shared by branching and risk rules (all/any/not and leaves over
answers; see the package docstring)."""

from dataclasses import dataclass
from datetime import date

from linli.core.clock import local_today
from linli.screening.questionnaires.schema import (
    Answers,
    Definition,
    QuestionKind,
    is_number,
    parse_iso_date,
    question_map,
)


@dataclass(frozen=True)
class ConditionContext:
    lists: dict[str, list]
    kinds: dict[str, str]
    today: date

    @classmethod
    def of(cls, defn: Definition, today: date | None) -> "ConditionContext":
        return cls(
            lists=defn.get("lists") or {},
            kinds={key: q.get("kind", "") for key, q in question_map(defn).items()},
            today=today or local_today(),
        )


def condition_holds(condition: dict, answers: Answers, context: ConditionContext) -> bool:
    """Returns whether a (validated) condition holds for the answers."""
    if "all" in condition:
        return all(condition_holds(c, answers, context) for c in condition["all"])
    if "any" in condition:
        return any(condition_holds(c, answers, context) for c in condition["any"])
    if "not" in condition:
        return not condition_holds(condition["not"], answers, context)
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
            left, right = parse_iso_date(answer), parse_iso_date(value)
        else:
            left, right = answer, value
        if not (is_number(left) and is_number(right)) and not (
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
        day = parse_iso_date(answer)
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
