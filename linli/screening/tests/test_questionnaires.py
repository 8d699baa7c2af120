"""Questionnaire definitions: validation located at the fault, branching, answers and risk.

Pure functions: no database.
"""

import re
from datetime import date, timedelta

import pytest

from linli.screening.questionnaires.answers import validate_answer, validate_answers
from linli.screening.questionnaires.risk import evaluate_risk
from linli.screening.questionnaires.routing import active_answers, is_complete, next_question, route
from linli.screening.questionnaires.schema import (
    END,
    AnswerError,
    question_map,
    validate_definition,
)
from linli.screening.questionnaires.templates import (
    TEMPLATES,
    arrivals_template,
    daily_symptoms_template,
    template_definition,
)

TODAY = date(2022, 1, 10)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def small(**changes) -> dict:
    """A three-question definition to break on purpose."""
    defn = {
        "schema": 1,
        "title": "测试",
        "intro": "社区居委会依法开展排查。",
        "closing": "谢谢。",
        "questions": [
            {
                "key": "fever",
                "text": "发热吗？",
                "kind": "yes_no",
                "required": True,
                "next": [{"when": {"q": "fever", "op": "eq", "value": False}, "goto": "help"}],
            },
            {"key": "temperature", "text": "体温？", "kind": "number", "min": 34, "max": 43},
            {"key": "help", "text": "需要帮助吗？", "kind": "yes_no", "required": True},
        ],
        "risk_rules": [],
    }
    defn.update(changes)
    return defn


def error_at(errors, key: str, code: str):
    """Returns the one error with that key and code, checking its message is translated (the
    default language is Chinese)."""
    found = [e for e in errors if e.key == key and e.code == code]
    assert found, f"no {code} error at {key!r} in {[str(e) for e in errors]}"
    error = found[0]
    assert CHINESE.search(error.message), error
    return error


# --- Validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_ready_templates_are_valid(code):
    """Both shipped templates pass validation, and each call returns a fresh copy."""
    assert validate_definition(template_definition(code)) == []
    first = template_definition(code)
    first["questions"].clear()
    assert template_definition(code)["questions"]


def test_a_valid_definition_has_no_errors():
    assert validate_definition(small()) == []


def test_duplicate_keys_are_reported_at_the_key():
    defn = small()
    defn["questions"].append({"key": "help", "text": "again", "kind": "yes_no"})
    error = error_at(validate_definition(defn), "help", "duplicate")
    assert error.field == "key"
    assert "重复" in error.message


def test_list_labels_and_the_key_counter_are_checked():
    """A list's label names a list the definition has; the counter the builder numbers new
    keys from is a positive whole number."""
    defn = small(lists={"areas": ["武汉市"]}, list_labels={"areas": "中高风险地区"}, next_key=4)
    assert validate_definition(defn) == []
    defn = small(lists={}, list_labels={"areas": "中高风险地区"}, next_key=0)
    errors = validate_definition(defn)
    assert error_at(errors, "", "unknown_list").field == "list_labels.areas"
    assert error_at(errors, "", "number").field == "next_key"
    assert error_at(validate_definition(small(next_key=True)), "", "number")


def test_a_problem_names_questions_by_number_not_by_key():
    """A jump looking at a later question says which one by its number."""
    defn = small()
    defn["questions"][0]["next"][0]["when"] = {"q": "help", "op": "eq", "value": True}
    error = error_at(validate_definition(defn), "fever", "later_question")
    assert "第 3 题" in error.message and "help" not in error.message


def test_unknown_branch_target_is_reported_at_the_branch():
    defn = small()
    defn["questions"][0]["next"][0]["goto"] = "nowhere"
    error = error_at(validate_definition(defn), "fever", "unknown_target")
    assert error.field == "next[0].goto"
    # Said in words a lead understands: a key is never shown.
    assert "nowhere" not in error.message and "已不在问卷中" in error.message


def test_a_jump_back_is_refused_as_a_loop():
    """A branch to the same or an earlier question would loop forever with the same answers."""
    defn = small()
    defn["questions"][2]["next"] = [
        {"when": {"q": "help", "op": "eq", "value": True}, "goto": "fever"}
    ]
    error = error_at(validate_definition(defn), "help", "cycle")
    assert error.field == "next[0].goto"
    defn["questions"][2]["next"][0]["goto"] = "help"
    error_at(validate_definition(defn), "help", "cycle")


def test_choice_questions_need_options():
    defn = small()
    defn["questions"][1] = {"key": "code", "text": "健康码？", "kind": "single_choice"}
    error = error_at(validate_definition(defn), "code", "options_missing")
    assert error.field == "options"
    defn["questions"][1]["options"] = [
        {"code": "green", "label": "绿码"},
        {"code": "green", "label": "x"},
    ]
    assert error_at(validate_definition(defn), "code", "duplicate").field == "options[1].code"


def test_unreachable_question_is_reported():
    """An unconditional jump over a question leaves it on no path."""
    defn = small()
    defn["questions"][0]["next"] = [{"goto": "help"}]
    error_at(validate_definition(defn), "temperature", "unreachable")


def test_branch_may_not_look_at_a_later_question():
    defn = small()
    defn["questions"][0]["next"][0]["when"] = {"q": "help", "op": "eq", "value": True}
    error = error_at(validate_definition(defn), "fever", "later_question")
    assert error.field == "next[0].when.q"


def test_risk_rule_errors_name_the_question_and_rule():
    defn = small(
        risk_rules=[
            {
                "when": {"q": "temprature", "op": "gte", "value": 37.3},
                "level": "high",
                "reason": "x",
            },
            {"when": {"q": "fever", "op": "gte", "value": 1}, "level": "high", "reason": "x"},
            {
                "when": {"q": "temperature", "op": "gte", "value": "hot"},
                "level": "high",
                "reason": "x",
            },
            {"when": {"q": "fever", "op": "eq", "value": True}, "level": "severe", "reason": "x"},
            {"when": {"q": "fever", "op": "eq", "value": True}, "reason": "x"},
            {"when": {"q": "fever", "op": "eq", "value": True}, "level": "low"},
        ]
    )
    errors = validate_definition(defn)
    assert error_at(errors, "temprature", "unknown_question").field == "risk_rules[0].when.q"
    assert error_at(errors, "fever", "operator_kind").field == "risk_rules[1].when.op"
    assert error_at(errors, "temperature", "value").field == "risk_rules[2].when.value"
    assert error_at(errors, "", "level").field == "risk_rules[3].level"
    assert error_at(errors, "", "no_effect").field == "risk_rules[4]"
    assert error_at(errors, "", "required").field == "risk_rules[5].reason"


def test_conditions_refer_to_existing_options_and_lists():
    defn = arrivals_template()
    defn["risk_rules"][1]["when"]["value"] = "purple"
    defn["risk_rules"][0]["when"]["all"][1]["any"][1]["value"] = {"list": "no_such_list"}
    errors = validate_definition(defn)
    assert error_at(errors, "health_code", "value").field == "risk_rules[1].when.value"
    error = error_at(errors, "came_from", "value")
    assert error.field == "risk_rules[0].when.all[1].any[1].value"


def test_top_level_texts_and_kinds_are_checked():
    defn = small(intro="  ")
    defn["questions"][1]["kind"] = "essay"
    errors = validate_definition(defn)
    assert error_at(errors, "", "required").field == "intro"
    assert error_at(errors, "temperature", "kind").field == "kind"
    assert validate_definition([])[0].code == "not_object"
    assert error_at(validate_definition(small(questions=[])), "", "required").field == "questions"


def test_bad_keys_are_refused():
    defn = small()
    defn["questions"][1]["key"] = "Temperature!"
    error_at(validate_definition(defn), "Temperature!", "key")
    defn["questions"][1]["key"] = END
    error_at(validate_definition(defn), END, "reserved")


# --- Branching -------------------------------------------------------------------------------


def test_arrivals_branching_skips_the_travel_block_for_people_who_did_not_travel():
    defn = arrivals_template()
    assert next_question(defn, {}) == "arrived_recently"
    assert next_question(defn, {"arrived_recently": True}) == "came_from"
    assert next_question(defn, {"arrived_recently": False}) == "symptoms"
    assert "came_from" not in route(defn, {"arrived_recently": False})


def test_branch_to_end_finishes_the_questionnaire():
    defn = arrivals_template()
    answers = {
        "arrived_recently": False,
        "symptoms": ["none"],
        "temperature": None,  # optional, skipped
        "health_code": "green",
        "vaccination": "booster",
        "needs_help": False,
    }
    assert next_question(defn, answers) is None
    assert is_complete(defn, answers)
    assert route(defn, answers)[-1] == "needs_help"


def test_answers_saved_out_of_order_still_give_one_path():
    """A later answer that arrived first waits on the path; the first open question is asked."""
    defn = arrivals_template()
    answers = {"health_code": "green"}
    assert next_question(defn, answers) == "arrived_recently"
    assert not is_complete(defn, answers)


def test_changing_an_earlier_answer_drops_answers_off_the_new_path():
    defn = arrivals_template()
    answers = {"arrived_recently": True, "came_from": "武汉市", "arrival_date": "2022-01-05"}
    assert set(active_answers(defn, answers)) == set(answers)
    answers["arrived_recently"] = False
    assert set(active_answers(defn, answers)) == {"arrived_recently"}


def test_optional_question_skipped_counts_as_dealt_with_but_required_does_not():
    defn = small()
    assert next_question(defn, {"fever": True}) == "temperature"
    assert next_question(defn, {"fever": True, "temperature": None}) == "help"
    assert next_question(defn, {"fever": True, "temperature": None, "help": None}) == "help"
    assert not is_complete(defn, {"fever": True, "temperature": None, "help": None})


# --- Answers ---------------------------------------------------------------------------------


def q(defn: dict, key: str) -> dict:
    return question_map(defn)[key]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (True, True),
        ("是", True),
        ("1", True),
        ("yes", True),
        ("否", False),
        ("2", False),
        (False, False),
    ],
)
def test_yes_no_takes_the_usual_spellings_and_keypad(raw, value):
    assert validate_answer(q(small(), "fever"), raw) is value


@pytest.mark.parametrize(
    ("raw", "value"),
    [("36.5", 36.5), ("３７．３", 37.3), ("38度", 38), ("37.2℃", 37.2), (36.8, 36.8), ("37", 37)],
)
def test_numbers_take_full_width_digits_and_units(raw, value):
    assert validate_answer(q(daily_symptoms_template(), "temperature"), raw) == value


def test_number_out_of_range_is_a_translated_error_at_the_key():
    error = validate_answer(q(daily_symptoms_template(), "temperature"), "73")
    assert isinstance(error, AnswerError)
    assert error.key == "temperature" and error.code == "range"
    assert "34" in error.message and "43" in error.message
    assert validate_answer(q(daily_symptoms_template(), "temperature"), "hot").code == "number"
    assert validate_answer(q(daily_symptoms_template(), "temperature"), True).code == "number"


def test_required_answer_cannot_be_empty_but_optional_can():
    defn = arrivals_template()
    assert validate_answer(q(defn, "came_from"), " ").code == "required"
    assert validate_answer(q(defn, "temperature"), "") is None


@pytest.mark.parametrize(
    "raw", ["2022-01-05", "2022/1/5", "20220105", "2022年1月5日", date(2022, 1, 5)]
)
def test_dates_take_common_forms(raw):
    assert validate_answer(q(arrivals_template(), "arrival_date"), raw, today=TODAY) == "2022-01-05"


def test_arrival_date_cannot_be_in_the_future():
    error = validate_answer(q(arrivals_template(), "arrival_date"), "2022-01-11", today=TODAY)
    assert error.code == "range"


def test_choices_take_codes_or_labels_and_refuse_others():
    defn = arrivals_template()
    assert validate_answer(q(defn, "health_code"), "yellow") == "yellow"
    assert validate_answer(q(defn, "health_code"), "黄码") == "yellow"
    assert validate_answer(q(defn, "health_code"), "purple").code == "option"


def test_multiple_choice_is_stored_in_option_order_and_none_is_exclusive():
    question = q(daily_symptoms_template(), "symptoms")
    assert validate_answer(question, ["cough", "fever", "cough"]) == ["fever", "cough"]
    assert validate_answer(question, "干咳，发热") == ["fever", "cough"]
    assert validate_answer(question, ["none", "fever"]).code == "exclusive"
    assert validate_answer(question, ["none"]) == ["none"]


def test_validate_answers_reports_each_bad_key():
    values, errors = validate_answers(
        daily_symptoms_template(), {"temperature": "36.6", "symptoms": ["itchy"], "shoe_size": 42}
    )
    assert values == {"temperature": 36.6}
    assert set(errors) == {"symptoms", "shoe_size"}
    assert errors["shoe_size"].code == "unknown_question"


# --- Risk ------------------------------------------------------------------------------------


def arrived(days_ago: int, **more) -> dict:
    return {
        "arrived_recently": True,
        "came_from": "上海市浦东新区",
        "arrival_date": (TODAY - timedelta(days=days_ago)).isoformat(),
        "risk_area_visit": False,
        "symptoms": ["none"],
        "temperature": 36.5,
        "health_code": "green",
        **more,
    }


def test_arrival_through_a_risk_area_within_14_days_is_high_risk():
    result = evaluate_risk(arrivals_template(), arrived(3, risk_area_visit=True), today=TODAY)
    assert result.level == "high"
    assert result.follow_ups == ("door_visit", "health_monitoring_proposal")
    assert "14天内来自或途经中高风险地区" in result.reasons


def test_arrival_more_than_14_days_ago_is_not_a_travel_risk():
    result = evaluate_risk(arrivals_template(), arrived(20, risk_area_visit=True), today=TODAY)
    assert result.level == "none"
    assert result.follow_ups == ()


def test_plain_recent_arrival_is_low_risk():
    assert evaluate_risk(arrivals_template(), arrived(2), today=TODAY).level == "low"


def test_came_from_a_listed_area_matches_inside_the_written_place():
    """The community lists 武汉市; a resident writes 湖北省武汉市江汉区."""
    defn = arrivals_template()
    assert (
        evaluate_risk(defn, arrived(2, came_from="湖北省武汉市江汉区"), today=TODAY).level == "low"
    )
    defn["lists"]["risk_areas"] = ["武汉市"]
    assert validate_definition(defn) == []
    result = evaluate_risk(defn, arrived(2, came_from="湖北省武汉市江汉区"), today=TODAY)
    assert result.level == "high"


@pytest.mark.parametrize(
    ("answers", "level", "follow_ups"),
    [
        ({"temperature": 37.3}, "high", ("door_visit",)),
        ({"symptoms": ["fever"]}, "high", ("door_visit",)),
        ({"health_code": "red"}, "high", ("door_visit", "health_monitoring_proposal")),
        ({"health_code": "yellow"}, "medium", ("health_monitoring_proposal",)),
        ({"symptoms": ["cough"]}, "medium", ("door_visit",)),
        ({"needs_help": True}, "none", ("need_help",)),
        ({"symptoms": ["none"], "temperature": 36.4, "health_code": "green"}, "none", ()),
    ],
)
def test_arrivals_risk_rules(answers, level, follow_ups):
    result = evaluate_risk(arrivals_template(), {"arrived_recently": False, **answers}, today=TODAY)
    assert (result.level, result.follow_ups) == (level, follow_ups)


@pytest.mark.parametrize(
    ("answers", "level", "follow_ups"),
    [
        ({"temperature": 37.3}, "high", ("door_visit", "health_monitoring_proposal")),
        ({"temperature": 37.2}, "none", ()),
        ({"contact_confirmed": True}, "high", ("door_visit", "health_monitoring_proposal")),
        ({"symptoms": ["sore_throat", "diarrhoea"]}, "medium", ("door_visit",)),
        ({"tested_today": "not_yet"}, "low", ()),
        ({"medication_needs": True}, "none", ("need_help",)),
        ({"medication_needs": False, "needs_help": True}, "none", ("need_help",)),
    ],
)
def test_daily_symptom_risk_rules(answers, level, follow_ups):
    result = evaluate_risk(daily_symptoms_template(), answers, today=TODAY)
    assert (result.level, result.follow_ups) == (level, follow_ups)


def test_risk_combines_rules_highest_level_wins():
    result = evaluate_risk(
        daily_symptoms_template(),
        {"temperature": 38.2, "symptoms": ["fever", "cough"], "needs_help": True},
        today=TODAY,
    )
    assert result.level == "high"
    assert result.follow_ups == ("door_visit", "health_monitoring_proposal", "need_help")
    assert result.reasons[0] == "发热（体温≥37.3℃）"


def test_answers_off_the_path_do_not_count_for_risk():
    """A resident who first said they travelled through a risk area, then corrected that they
    did not travel at all, is not flagged by the stale answers."""
    answers = arrived(2, risk_area_visit=True)
    assert evaluate_risk(arrivals_template(), answers, today=TODAY).level == "high"
    answers["arrived_recently"] = False
    assert evaluate_risk(arrivals_template(), answers, today=TODAY).level == "none"
