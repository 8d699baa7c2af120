"""A questionnaire builder with no code in it (issue 12, item 6).

A community lead starts the ready 来返人员排查 questionnaire on her phone. Nowhere on the page
does she meet a question key, an option code or JSON. She edits the template's own nested risk
rule with the same condition editor the jumps use: she widens "arrived within 14 days" to 21,
raises the fever threshold, and adds a group of conditions ("yellow code and not vaccinated")
inside the rule's "any of these" group. Saved and reloaded, the page shows her edits, and the
stored rule judges answers as she meant. At her desk she adds a question, deletes it and adds
another: each gets a key she never sees, and a deleted key is never given again; a problem is
shown at the rule it is about, in Chinese.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from linli.core.clock import local_today
from linli.screening.models import Questionnaire
from linli.screening.questionnaires.risk import evaluate_risk
from linli.screening.questionnaires.schema import option_codes
from linli.screening.questionnaires.templates import template_definition

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs/screenshots"
TEMPLATE = template_definition("arrivals")
# What a lead must never read: generated keys and codes, JSON, and the template's own keys.
CODE = re.compile(r"\b(q|o|opt|list)\d+\b|JSON|json")
TEMPLATE_KEYS = {q["key"] for q in TEMPLATE["questions"] if "_" in q["key"]} | {
    "risk_areas",
    "within_days",
    "multiple_choice",
    "single_choice",
    "health_monitoring_proposal",
    "door_visit",
}


def shows_no_code(page) -> None:
    """The visible text of the page holds no key, code or JSON."""
    text = page.locator("body").inner_text()
    assert not CODE.search(text), CODE.search(text)
    shown = {key for key in TEMPLATE_KEYS if key in text}
    assert shown == set()


def fits_the_phone(page) -> None:
    """Nothing (a long question text in a picker, a nested group) widens the page past 390 px."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def question_label(key: str) -> str:
    """How the condition editor names a question: its number and the start of its text."""
    number, question = next(
        (n, q) for n, q in enumerate(TEMPLATE["questions"], 1) if q["key"] == key
    )
    text = question["text"]
    return f"{number}. {text[:24]}…" if len(text) > 24 else f"{number}. {text}"


def arrivals(**answers):
    base = {
        "arrived_recently": True,
        "came_from": "北京市朝阳区",
        "risk_area_visit": False,
        "symptoms": ["none"],
        "health_code": "green",
        "vaccination": "full",
        "needs_help": False,
    }
    return base | answers


def test_a_lead_edits_the_arrivals_risk_rule_without_meeting_a_key(story):
    world = story.world
    today = local_today()

    # 1. On her phone, the lead starts a questionnaire from the ready arrivals template.
    phone = story.log_in(world.lead_a, mobile=True)
    phone.goto("/screening/questionnaires/")
    phone.fill("#id_name", "来返人员排查")
    phone.check("input[name=start][value=arrivals]")
    phone.click("[data-testid=questionnaire-create] button[type=submit]")
    builder = phone.locator("[data-testid=builder]")
    expect(builder).to_be_visible()
    questionnaire = Questionnaire.objects.get(name="来返人员排查")
    url = f"/screening/questionnaires/{questionnaire.pk}/"
    assert len(phone.goto(url).body()) < 100_000
    expect(builder).to_be_visible()
    shows_no_code(phone)

    # 2. The template's first rule is nested: arrived within 14 days AND (visited a risk area
    #    OR came from a listed one). Every part of it is a row she can change.
    rule = builder.locator(".brule").nth(0)
    expect(rule.locator(".cgroup.nested")).to_have_count(1)
    expect(rule.locator(".leaf")).to_have_count(3)
    days = rule.locator(".leaf").nth(0).locator(".leaf-value input[type=number]")
    expect(days).to_have_value("14")
    days.fill("21")
    inner = rule.locator(".cgroup.nested").nth(0)
    expect(inner.locator(":scope > .cgroup-head select.mode")).to_have_value("any")
    expect(inner.locator(".leaf").nth(1).locator(".leaf-value")).to_contain_text("中高风险地区")

    # 3. Inside "any of these", a new group: a yellow code AND not vaccinated.
    inner.locator(":scope > .cgroup-tools button", has_text="添加条件组").click()
    added = inner.locator(".cgroup.nested").nth(0)
    expect(added.locator(":scope > .cgroup-head select.mode")).to_have_value("all")
    first = added.locator(".leaf").nth(0)
    first.locator("select").nth(0).select_option(label=question_label("health_code"))
    first.locator(".leaf-value select").select_option(label="黄码")
    added.locator(":scope > .cgroup-tools button", has_text="添加条件").first.click()
    second = added.locator(".leaf").nth(1)
    second.locator("select").nth(0).select_option(label=question_label("vaccination"))
    second.locator(".leaf-value select").select_option(label="未接种")
    shows_no_code(phone)
    fits_the_phone(phone)

    # 4. The fever rule: 37.3 ℃ becomes 37.5 ℃.
    fever = builder.locator(".brule").nth(2)
    threshold = fever.locator(".leaf").nth(0).locator(".leaf-value input[type=number]")
    expect(threshold).to_have_value("37.3")
    threshold.fill("37.5")
    if os.environ.get("LINLI_SCREENSHOTS") == "1":
        rule.screenshot(
            path=SCREENSHOTS / "front-line-builder-rule.png", scale="css", animations="disabled"
        )

    phone.click("[data-testid=save-definition]")
    expect(phone.locator(".messages .success")).to_be_visible()

    # 5. Reloaded, the page shows what she did.
    phone.reload()
    rule = builder.locator(".brule").nth(0)
    expect(rule.locator(".leaf").nth(0).locator(".leaf-value input[type=number]")).to_have_value(
        "21"
    )
    expect(rule.locator(".cgroup.nested")).to_have_count(2)
    expect(rule.locator(".leaf")).to_have_count(5)
    added = rule.locator(".cgroup.nested .cgroup.nested")
    expect(added.locator(".leaf").nth(0).locator(".leaf-value select")).to_have_value("yellow")
    expect(added.locator(".leaf").nth(1).locator(".leaf-value select")).to_have_value("none")
    fever = builder.locator(".brule").nth(2)
    expect(fever.locator(".leaf").nth(0).locator(".leaf-value input[type=number]")).to_have_value(
        "37.5"
    )
    shows_no_code(phone)
    fits_the_phone(phone)
    if os.environ.get("LINLI_SCREENSHOTS") == "1":
        # What the phone shows (CSS pixels): a question, then the edited rule after reload.
        for name, part in (("questions", builder.locator(".bquestion").nth(5)), ("", rule)):
            part.evaluate("(el) => el.scrollIntoView({block: 'start'})")
            phone.screenshot(
                path=SCREENSHOTS / f"front-line-builder{'-' + name if name else ''}.png",
                scale="css",
                animations="disabled",
                caret="hide",
            )

    # 6. The stored rules judge answers as she meant, and the questions kept their keys (so
    #    answers already stored under them keep their meaning).
    definition = questionnaire.versions.order_by("-number").first().definition
    assert [q["key"] for q in definition["questions"]] == [q["key"] for q in TEMPLATE["questions"]]
    assert definition["risk_rules"][0]["when"]["all"][1]["any"][2] == {
        "all": [
            {"q": "health_code", "op": "eq", "value": "yellow"},
            {"q": "vaccination", "op": "eq", "value": "none"},
        ]
    }
    reason = TEMPLATE["risk_rules"][0]["reason"]
    eighteen_days = arrivals(
        arrival_date=(today - timedelta(days=18)).isoformat(), risk_area_visit=True
    )
    assert evaluate_risk(TEMPLATE, eighteen_days, today=today).level == "none"
    assert reason in evaluate_risk(definition, eighteen_days, today=today).reasons
    yellow = arrivals(
        arrival_date=(today - timedelta(days=3)).isoformat(),
        health_code="yellow",
        vaccination="none",
    )
    assert evaluate_risk(TEMPLATE, yellow, today=today).level == "medium"
    risk = evaluate_risk(definition, yellow, today=today)
    assert risk.level == "high" and reason in risk.reasons
    warm = arrivals(arrival_date=(today - timedelta(days=40)).isoformat(), temperature=37.4)
    assert evaluate_risk(TEMPLATE, warm, today=today).level == "high"
    assert evaluate_risk(definition, warm, today=today).level == "none"

    # 7. At her desk: a question added, deleted, and another added. Each gets a key she never
    #    sees; the deleted one's key is not given again.
    desk = story.log_in(world.lead_a)
    desk.goto(url)
    builder = desk.locator("[data-testid=builder]")
    expect(builder).to_be_visible()
    shows_no_code(desk)
    questions = builder.locator(".bquestion")
    builder.locator(".bquestions > button").click()
    questions.last.locator("textarea").fill("您家里有几口人？")
    questions.last.locator("select").first.select_option("number")
    desk.click("[data-testid=save-definition]")
    expect(desk.locator(".messages .success")).to_be_visible()
    saved = questionnaire.versions.order_by("-number").first().definition
    first_key = saved["questions"][-1]["key"]
    assert first_key not in {q["key"] for q in TEMPLATE["questions"]}
    questions.last.locator(".bhead button", has_text="删除").click()
    builder.locator(".bquestions > button").click()
    questions.last.locator("textarea").fill("您家里有没有60岁以上的老人？")
    builder.locator(".bquestions > button").click()
    questions.last.locator("textarea").fill("老人平时的慢性病用药够用吗？")
    questions.last.locator("select").first.select_option("single_choice")
    options = questions.last.locator(".option-row input[type=text]")
    options.nth(0).fill("够用")
    options.nth(1).fill("不够用")
    shows_no_code(desk)

    # A problem (a rule without its reason) is shown at the rule, in Chinese; nothing saved.
    builder.locator(".brule").nth(1).locator("input[type=text].wide").fill("")
    desk.click("[data-testid=save-definition]")
    problem = builder.locator(".brule").nth(1).locator(".field-error")
    expect(problem).to_contain_text("请写明原因")
    shows_no_code(desk)
    builder.locator(".brule").nth(1).locator("input[type=text].wide").fill("健康码为红码")
    desk.click("[data-testid=save-definition]")
    expect(desk.locator(".messages .success")).to_be_visible()
    saved = questionnaire.versions.order_by("-number").first().definition
    added = saved["questions"][-2:]
    assert [q["text"] for q in added] == [
        "您家里有没有60岁以上的老人？",
        "老人平时的慢性病用药够用吗？",
    ]
    keys = [q["key"] for q in saved["questions"]]
    assert len(set(keys)) == len(keys) and first_key not in keys
    codes = option_codes(added[1])
    assert len(set(codes)) == 2 and not set(codes) & {first_key, *keys}
    assert [o["label"] for o in added[1]["options"]] == ["够用", "不够用"]
    story.assert_no_problems()
