"""The questionnaire list and builder pages: creating, saving versions, errors at the field."""

import json
import re

import pytest
from django.urls import reverse

from linli.core.roles import Role
from linli.demo import factories as f
from linli.screening.models import Questionnaire, QuestionnaireVersion
from linli.screening.questionnaires.templates import PIPL_BASIS, template_definition
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import arrivals_for, draft

pytestmark = pytest.mark.django_db


def builder_url(questionnaire) -> str:
    return reverse("screening:questionnaire", args=[questionnaire.pk])


def save(client, questionnaire, definition, name=None):
    return client.post(
        builder_url(questionnaire),
        {
            "name": name or questionnaire.name,
            "definition": json.dumps(definition, ensure_ascii=False),
        },
    )


# --- The list and creating ------------------------------------------------------------------


def test_list_shows_each_questionnaire_with_its_version_and_campaigns(world, client_for):
    questionnaire = arrivals_for(world)
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, questionnaire), by=world.lead_a
    )
    page = client_for(world.lead_a).get(reverse("screening:questionnaires"))
    assert page.status_code == 200
    body = page.content.decode()
    assert questionnaire.name in body
    assert "v1" in body
    assert campaign.name in body
    assert page.context["summaries"][0].frozen


def test_a_lead_creates_a_questionnaire_from_a_template_and_lands_in_the_builder(world, client_for):
    client = client_for(world.lead_a)
    response = client.post(
        reverse("screening:questionnaires"),
        {"name": "春节返乡排查", "area": world.a.community.pk, "start": "arrivals"},
    )
    questionnaire = Questionnaire.objects.get(name="春节返乡排查")
    assert response.status_code == 302
    assert response["Location"] == builder_url(questionnaire)
    assert questionnaire_selectors.latest_version(questionnaire).definition == template_definition(
        "arrivals"
    )


def test_a_blank_questionnaire_starts_with_an_intro_saying_who_asks_and_why(world, client_for):
    client = client_for(world.lead_a)
    client.post(
        reverse("screening:questionnaires"),
        {"name": "独居老人探访", "area": world.a.community.pk, "start": "blank"},
    )
    definition = questionnaire_selectors.latest_version(
        Questionnaire.objects.get(name="独居老人探访")
    ).definition
    assert PIPL_BASIS in definition["intro"]
    assert world.a.community.name in definition["intro"]
    assert definition["questions"]


def test_creating_without_a_name_answers_at_the_field(world, client_for):
    response = client_for(world.lead_a).post(
        reverse("screening:questionnaires"),
        {"name": "", "area": world.a.community.pk, "start": "arrivals"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert not Questionnaire.objects.exists()


def test_a_questionnaire_cannot_be_created_for_another_community(world, client_for):
    response = client_for(world.lead_a).post(
        reverse("screening:questionnaires"),
        {"name": "越权", "area": world.b.community.pk, "start": "arrivals"},
    )
    assert response.status_code == 400
    assert "area" in response.context["form"].errors
    assert not Questionnaire.objects.exists()


# --- The builder ----------------------------------------------------------------------------


def test_the_builder_loads_its_script_and_styles_from_static_and_nothing_inline(world, client_for):
    questionnaire = arrivals_for(world)
    body = client_for(world.lead_a).get(builder_url(questionnaire)).content.decode()
    assert 'src="/static/screening/builder.js"' in body
    assert 'href="/static/screening/builder.css"' in body
    for tag in re.findall(r"<script\b[^>]*>", body):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\sstyle=\"", body)
    assert not re.search(r"\son[a-z]+=\"", body)
    # The definition, the vocabulary and the problems reach the script as JSON data.
    for data_id in ("definition-data", "builder-vocab", "definition-errors-data"):
        assert f'id="{data_id}" type="application/json"' in body


def test_without_javascript_the_builder_page_shows_the_definition(world, client_for):
    questionnaire = arrivals_for(world)
    body = client_for(world.lead_a).get(builder_url(questionnaire)).content.decode()
    outline = body.split('id="outline"', 1)[1]
    definition = template_definition("arrivals")
    for question in definition["questions"]:
        assert question["text"] in outline
    assert definition["risk_rules"][0]["reason"] in outline
    assert "14天内来自或途经中高风险地区" in outline


def test_the_page_names_questions_options_and_lists_without_their_keys(world, client_for):
    """The outline (what the page shows before and without the script) says questions by
    number and text, options and lists by their labels; no key or code is written, and the
    page stays under 100 KB."""
    questionnaire = arrivals_for(world)
    page = client_for(world.lead_a).get(builder_url(questionnaire))
    body = page.content.decode()
    assert len(page.content) < 100_000
    outline = body.split('id="outline"', 1)[1].split('id="builder"', 1)[0]
    text = re.sub(r"<[^>]+>", " ", outline)
    definition = template_definition("arrivals")
    keys = {q["key"] for q in definition["questions"]} | {"risk_areas", "within_days"}
    keys |= {o["code"] for q in definition["questions"] for o in q.get("options", [])}
    assert {key for key in keys if re.search(rf"\b{key}\b", text)} == set()
    assert "中高风险地区" in text
    assert "第 3 题“您是哪一天到达本地的？”" in text
    # The nested rule reads as the editor shows it: a group with a group inside.
    first_rule = outline.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert first_rule.count('class="cgroup-static"') == 2
    assert "全部满足" in first_rule and "任一满足" in first_rule


def test_saving_from_the_builder_round_trips_and_edits_the_unused_version(world, client_for):
    questionnaire = arrivals_for(world)
    client = client_for(world.lead_a)
    definition = template_definition("arrivals")
    definition["title"] = "来返人员排查（第二版）"
    definition["lists"]["risk_areas"] = ["武汉市", "西安市"]
    definition["questions"].append(
        {
            "key": "remarks",
            "text": "还有什么想告诉社区的？",
            "kind": "short_text",
            "required": False,
        }
    )
    response = save(client, questionnaire, definition, name="来返排查")
    assert response.status_code == 302
    latest = questionnaire_selectors.latest_version(questionnaire)
    assert latest.number == 1  # no campaign launched with it: edited in place
    assert latest.definition == definition
    questionnaire.refresh_from_db()
    assert questionnaire.name == "来返排查"
    page = client.get(builder_url(questionnaire))
    assert json.loads(page.context["form"]["definition"].value()) == definition
    assert "还有什么想告诉社区的？" in page.content.decode()


def test_problems_come_back_at_the_question_and_field_and_nothing_is_saved(world, client_for):
    questionnaire = arrivals_for(world)
    client = client_for(world.lead_a)
    before = questionnaire_selectors.latest_version(questionnaire).definition
    definition = template_definition("arrivals")
    definition["title"] = "未保存的标题"
    transport = next(q for q in definition["questions"] if q["key"] == "transport")
    transport["options"][1]["code"] = "Plane 2"  # not a key
    definition["risk_rules"][0]["reason"] = ""
    response = save(client, questionnaire, definition)
    assert response.status_code == 400
    assert questionnaire_selectors.latest_version(questionnaire).definition == before
    assert QuestionnaireVersion.objects.filter(questionnaire=questionnaire).count() == 1
    # Located for the reader (question number, option: never a key) and for the script (key,
    # field).
    rows = response.context["errors"]
    wheres = " | ".join(row["where"] for row in rows)
    assert "第 4 题 › 选项 2" in wheres and "transport" not in wheres
    located = {(e["key"], e["field"]) for e in response.context["builder_errors"]}
    assert ("transport", "options[1].code") in located
    assert ("", "risk_rules[0].reason") in located
    body = response.content.decode()
    assert "选项编码须以小写字母开头" in body
    # The user's edits stay on the page.
    assert json.loads(response.context["form"]["definition"].value())["title"] == "未保存的标题"
    assert response.context["builder_definition"]["title"] == "未保存的标题"


def test_a_definition_that_is_not_json_is_refused_and_kept(world, client_for):
    questionnaire = arrivals_for(world)
    response = client_for(world.lead_a).post(
        builder_url(questionnaire), {"name": questionnaire.name, "definition": '{"title": "半'}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "not valid JSON" in body
    assert "{&quot;title&quot;: &quot;半" in body
    assert questionnaire_selectors.latest_version(questionnaire).definition == template_definition(
        "arrivals"
    )


def test_editing_a_launched_questionnaire_makes_a_new_version_and_the_campaign_keeps_its_own(
    world, client_for
):
    questionnaire = arrivals_for(world)
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, questionnaire), by=world.lead_a
    )
    client = client_for(world.lead_a)
    definition = template_definition("arrivals")
    definition["lists"]["risk_areas"] = ["西安市"]
    response = save(client, questionnaire, definition)
    assert response.status_code == 302
    latest = questionnaire_selectors.latest_version(questionnaire)
    assert latest.number == 2
    assert latest.definition == definition
    campaign.refresh_from_db()
    assert campaign.questionnaire_version.number == 1
    assert campaign.questionnaire_version.definition == template_definition("arrivals")
    page = client.get(response["Location"])
    assert "2" in " ".join(str(m) for m in page.context["messages"])
    # The old version stays readable, without the builder.
    old = client.get(builder_url(questionnaire), {"version": 1})
    assert old.status_code == 200
    assert not old.context["editing"]
    assert old.context["version"].number == 1


def test_grid_workers_read_questionnaires_but_cannot_create_or_edit(world, client_for):
    questionnaire = arrivals_for(world)
    client = client_for(world.grid_a)
    page = client.get(builder_url(questionnaire))
    assert page.status_code == 200
    assert not page.context["editing"]
    assert 'id="outline"' in page.content.decode()
    assert save(client, questionnaire, template_definition("daily_symptoms")).status_code == 403
    response = client.post(
        reverse("screening:questionnaires"),
        {"name": "x", "area": world.a.community.pk, "start": "arrivals"},
    )
    assert response.status_code == 403
    assert questionnaire_selectors.latest_version(questionnaire).definition == template_definition(
        "arrivals"
    )


def test_volunteers_see_no_questionnaire(world, client_for):
    questionnaire = arrivals_for(world)
    client = client_for(world.volunteer_a)
    assert client.get(reverse("screening:questionnaires")).status_code == 403
    assert client.get(builder_url(questionnaire)).status_code == 403


def test_a_lead_of_a_cannot_open_a_questionnaire_of_b(world, client_for):
    lead_b = f.make_staff(username="lead_b", role=Role.COMMUNITY_LEAD, areas=[world.b.community])
    questionnaire_b = questionnaire_services.create_questionnaire(
        name="大雁塔排查", area=world.b.community, by=lead_b, from_template="daily_symptoms"
    )
    client = client_for(world.lead_a)
    assert client.get(builder_url(questionnaire_b)).status_code == 404
    assert save(client, questionnaire_b, template_definition("arrivals")).status_code == 404
    listing = client.get(reverse("screening:questionnaires")).content.decode()
    assert "大雁塔排查" not in listing


def test_a_street_questionnaire_is_read_only_for_a_community_lead(world, client_for):
    street_q = questionnaire_services.create_questionnaire(
        name="街道统一排查", area=world.street, by=world.street_officer, from_template="arrivals"
    )
    client = client_for(world.lead_a)
    page = client.get(builder_url(street_q))
    assert page.status_code == 200
    assert not page.context["editing"]
    assert save(client, street_q, template_definition("daily_symptoms")).status_code == 403


def test_the_preview_follows_the_branching_without_storing_anything(world, client_for):
    questionnaire = arrivals_for(world)
    client = client_for(world.lead_a)
    definition = json.dumps(template_definition("arrivals"), ensure_ascii=False)
    first = client.post(
        builder_url(questionnaire),
        {"preview": "1", "started": "1", "answers": "{}", "definition": definition},
    )
    assert first.status_code == 200
    assert first.context["question"]["key"] == "arrived_recently"
    # "No" to the arrival question jumps over the travel questions to the symptoms.
    second = client.post(
        builder_url(questionnaire),
        {
            "preview": "1",
            "answers": "{}",
            "key": "arrived_recently",
            "answer": "no",
            "definition": definition,
        },
    )
    assert second.context["question"]["key"] == "symptoms"
    fever = client.post(
        builder_url(questionnaire),
        {
            "preview": "1",
            "answers": second.context["answers_json"],
            "key": "symptoms",
            "answer": ["fever", "cough"],
            "definition": definition,
        },
    )
    assert fever.context["risk"].level == "high"
    wrong = client.post(
        builder_url(questionnaire),
        {
            "preview": "1",
            "answers": fever.context["answers_json"],
            "key": "temperature",
            "answer": "99",
            "definition": definition,
        },
    )
    assert wrong.context["error"]
    assert wrong.context["question"]["key"] == "temperature"
    assert questionnaire_selectors.latest_version(questionnaire).definition == template_definition(
        "arrivals"
    )
