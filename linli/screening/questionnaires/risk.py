"""Risk rules: the level, follow-ups and reasons the answers on the path reach."""

from dataclasses import dataclass
from datetime import date

from linli.screening.questionnaires.conditions import ConditionContext, condition_holds
from linli.screening.questionnaires.routing import active_answers
from linli.screening.questionnaires.schema import (
    FOLLOW_UP_ORDER,
    RISK_ORDER,
    Answers,
    Definition,
    RiskLevel,
)


@dataclass(frozen=True)
class RiskResult:
    """The risk level the answers reach, the follow-ups they call for (in FollowUp order) and
    the reasons (each matched rule's `reason`, in rule order)."""

    level: str
    follow_ups: tuple[str, ...]
    reasons: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Risk


def evaluate_risk(defn: Definition, answers: Answers, *, today: date | None = None) -> RiskResult:
    """Returns the highest level among the risk rules the answers meet, with the follow-ups
    and reasons of every rule met. Only answers on the current path count; partial answers are
    evaluated as they stand (a fever reported before the connection dropped already counts).
    `today` anchors within_days (the day the answers were given)."""
    context = ConditionContext.of(defn, today)
    current = active_answers(defn, answers, today=context.today)
    level = RiskLevel.NONE.value
    follow_ups: set[str] = set()
    reasons: list[str] = []
    for rule in defn.get("risk_rules") or []:
        if not condition_holds(rule["when"], current, context):
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
