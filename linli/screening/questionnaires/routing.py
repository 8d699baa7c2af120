"""Branching: which questions the answers lead through, the next one to ask, completeness."""

from datetime import date

from linli.screening.questionnaires.conditions import ConditionContext, condition_holds
from linli.screening.questionnaires.schema import (
    END,
    Answers,
    Definition,
    Question,
    question_map,
    questions_of,
)

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
    context = ConditionContext.of(defn, today)
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


def _branch_target(question: Question, answers: Answers, context: "ConditionContext") -> str | None:
    answered = question["key"] in answers
    for branch in question.get("next") or []:
        if "when" not in branch:
            return branch.get("goto")
        if answered and condition_holds(branch["when"], answers, context):
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
