"""Ready questionnaires, taken from the scripts communities used in 2020–2022, and the blank
definition a questionnaire built from scratch starts with."""

import copy
from typing import Any

from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.screening.questionnaires.schema import (
    END,
    SCHEMA_VERSION,
    Definition,
    FollowUp,
    Question,
    QuestionKind,
    RiskLevel,
)

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
    }
