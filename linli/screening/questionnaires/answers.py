"""Raw answers to canonical values: one question (validate_answer), a save of several
(validate_answers), and a one-screen form holding every question (door_knock_answers)."""

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from linli.core.clock import local_today
from linli.screening.questionnaires.routing import route
from linli.screening.questionnaires.schema import (
    MAX_SHORT_TEXT,
    AnswerError,
    Answers,
    Definition,
    Question,
    QuestionKind,
    is_number,
    option_codes,
    parse_iso_date,
    question_map,
)

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_NUMBER = re.compile(r"([+-]?\d+(?:\.\d+)?)(?:℃|°C|°|度)?")
_YES = {"yes", "y", "true", "1", "是", "有", "对"}
_NO = {"no", "n", "false", "2", "0", "否", "无", "没有", "不是"}


def _answer_error(question: Question, code: str, message: str) -> AnswerError:
    return AnswerError(key=str(question.get("key", "")), code=code, message=message)


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
            return _answer_error(question, "required", _("This question is required"))
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
        return _date(question, raw, today or local_today())
    if kind == QuestionKind.SHORT_TEXT:
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            return _answer_error(question, "text", _("Please write a text"))
        text = str(raw).strip()
        limit = question.get("max_length", MAX_SHORT_TEXT)
        if len(text) > limit:
            return _answer_error(
                question, "too_long", _("At most %(limit)s characters") % {"limit": limit}
            )
        return text
    return _answer_error(question, "kind", _("Unknown question kind"))


def _yes_no(question: Question, raw: object) -> bool | AnswerError:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return _answer_error(question, "yes_no", _("Please answer yes or no"))


def _option_code(question: Question, raw: object) -> str | None:
    text = str(raw).strip()
    for option in question.get("options") or []:
        if text in (option["code"], option["label"]):
            return option["code"]
    return None


def _choice(question: Question, raw: object) -> str | AnswerError:
    code = _option_code(question, raw)
    if code is None:
        return _answer_error(question, "option", _("Please pick one of the options"))
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
                question,
                "option",
                _("%(item)s is not an option") % {"item": item},
            )
        picked.add(code)
    if not picked:
        if question.get("required"):
            return _answer_error(question, "required", _("This question is required"))
        return []
    exclusive = {o["code"] for o in question["options"] if o.get("exclusive")}
    if picked & exclusive and len(picked) > 1:
        return _answer_error(
            question,
            "exclusive",
            _("A 'none of these' option cannot be combined with others"),
        )
    # Stored in the options' order so equal answers are equal JSON.
    return [code for code in option_codes(question) if code in picked]


def _number(question: Question, raw: object) -> int | float | AnswerError:
    if isinstance(raw, bool):
        return _answer_error(question, "number", _("Please enter a number"))
    if is_number(raw):
        value: int | float = raw  # type: ignore[assignment]
    else:
        match = _NUMBER.fullmatch(str(raw).replace(" ", ""))
        if not match:
            return _answer_error(question, "number", _("Please enter a number"))
        text = match.group(1)
        value = float(text) if "." in text else int(text)
    low, high = question.get("min"), question.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        return _answer_error(
            question,
            "range",
            _("Please enter a number from %(bound_low)s to %(bound_high)s")
            % {"bound_low": _bound(low), "bound_high": _bound(high)},
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
        return _answer_error(question, "date", _("Please enter a date like 2022-01-05"))
    low, high = (_date_bound(question.get(name), today) for name in ("min", "max"))
    if (low and parsed < low) or (high and parsed > high):
        return _answer_error(
            question,
            "range",
            _("The date must fall from %(low_or)s to %(high_or)s")
            % {"low_or": low or "…", "high_or": high or "…"},
        )
    return parsed.isoformat()


def _date_bound(bound: object, today: date) -> date | None:
    if bound == "today":
        return today
    return parse_iso_date(bound)


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
                key=key, code="unknown_question", message=_("No such question")
            )
            continue
        result = validate_answer(question, raw, today=today)
        if isinstance(result, AnswerError):
            errors[key] = result
        else:
            values[key] = result
    return values, errors


class InvalidAnswers(ValidationError):
    """Answers that do not fit their questions, by question key (nothing was stored)."""

    def __init__(self, errors: dict[str, AnswerError]):
        super().__init__({key: str(error) for key, error in errors.items()})
        self.answer_errors = errors


def _blank(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple):
        return all(_blank(item) for item in raw)
    return False


def door_knock_answers(
    definition: dict, raw_answers: dict[str, object], *, today: date
) -> tuple[dict[str, object], dict[str, AnswerError]]:
    """Returns (canonical answers, errors by key) for a one-screen form holding every question.

    Only the questions on the path the answers take count: a question the branching skips is
    ignored whatever it holds (the phone hides it, a form without script shows it). On the
    path, a required question left blank is an error; a blank optional one stays unanswered
    rather than "skipped", so it never overwrites an answer given earlier through a link.
    """
    questions = question_map(definition)
    values: dict[str, object] = {}
    errors: dict[str, AnswerError] = {}
    for key, raw in raw_answers.items():
        question = questions.get(key)
        if question is None:
            errors[key] = AnswerError(
                key=key, code="unknown_question", message=_("No such question")
            )
        elif not _blank(raw):
            result = validate_answer(question, raw, today=today)
            if isinstance(result, AnswerError):
                errors[key] = result
            elif result is not None and result != []:
                values[key] = result
    path = route(definition, values, today=today)
    errors = {key: error for key, error in errors.items() if key in path or key not in questions}
    for key in path:
        if questions[key].get("required") and key not in values and key not in errors:
            errors[key] = AnswerError(
                key=key, code="required", message=_("This question is required")
            )
    return {key: value for key, value in values.items() if key in path}, errors
