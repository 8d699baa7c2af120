"""Ready questionnaires, taken from the scripts communities used in 2020–2022, and the blank
definition a questionnaire built from scratch starts with."""

import functools
import json
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.screening.questionnaires.schema import (
    SCHEMA_VERSION,
    Definition,
    QuestionKind,
)

# ---------------------------------------------------------------------------------------------
# Ready templates, taken from the scripts communities used in 2020–2022. Each is a definition
# kept as a JSON file in data/ (packaged with the app), so a community's wording can be read
# and changed without reading Python.

DATA_DIR = Path(__file__).resolve().parent / "data"

# code → label. The pages offer these when a lead starts a questionnaire; data/<code>.json
# holds each one's definition.
TEMPLATES = {
    "arrivals": _("Arrivals screening (来返人员排查)"),
    "daily_symptoms": _("Daily symptom screening (每日健康监测)"),
}

# The legal basis every intro states (PIPL art. 13(1)(4)); the templates' intros carry it too.
PIPL_BASIS = (
    "依据《中华人民共和国传染病防治法》《突发事件应对法》和《个人信息保护法》第十三条第一款第四项"
    "（为应对突发公共卫生事件所必需），"
)
# Symptoms other than fever in the templates' symptom question (the demo draws from them).
OTHER_SYMPTOMS = ["cough", "fatigue", "sore_throat", "smell_taste_loss", "diarrhoea"]


@functools.cache
def _load(code: str) -> str:
    return (DATA_DIR / f"{code}.json").read_text(encoding="utf-8")


def template_definition(code: str) -> Definition:
    """Returns a fresh copy of a ready template. Raises KeyError for an unknown code."""
    if code not in TEMPLATES:
        raise KeyError(code)
    return json.loads(_load(code))


def arrivals_template() -> Definition:
    """Returns the arrivals/travel screening (来返人员排查) definition, a fresh copy."""
    return template_definition("arrivals")


def daily_symptoms_template() -> Definition:
    """Returns the daily symptom screening (每日健康监测) definition, a fresh copy."""
    return template_definition("daily_symptoms")


# ---------------------------------------------------------------------------------------------
# Questionnaires started from scratch


def blank_definition(*, name: str, area: Area) -> dict:
    """Returns the definition a questionnaire built from scratch starts with: an intro that
    already says who asks (the area) and on which legal basis (PIPL), a closing, and one
    yes/no question for the lead to rewrite (a definition needs at least one)."""
    return {
        "schema": SCHEMA_VERSION,
        "title": name.strip() or "排查问卷",
        "intro": (
            f"您好！这里是{area.name}。"
            + PIPL_BASIS
            + f"我们正在开展“{name.strip()}”。您提供的信息只用于本次防控工作，不会公开，"
            "也不会用于其他用途，工作结束后依法删除。谢谢配合！"
        ),
        "closing": "感谢您的配合！如身体不适或需要帮助，请随时联系社区或您的网格员。",
        "lists": {},
        "questions": [
            {
                "key": "q1",
                "text": "请在这里写第一道题。",
                "kind": QuestionKind.YES_NO.value,
                "required": True,
            }
        ],
        "risk_rules": [],
        # The builder numbers the keys of the questions and options it adds from here on.
        "next_key": 2,
    }
