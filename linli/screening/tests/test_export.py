"""The Excel export of a campaign's results: the user's targets only, masked by role, answers
as labels, watermarked, never a full identifier, and written to the audit log."""

import io
import zipfile

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from linli.audit.models import AuditAction, AuditEvent
from linli.core import identifiers
from linli.registry.models import Person
from linli.screening.models import CampaignTarget
from linli.screening.questionnaires.schema import question_map
from linli.screening.tests.test_coverage_pages import answered_campaign, street_campaign

WATERMARK = "仅限疫情防控使用"


@pytest.fixture
def campaign(world, town):
    return answered_campaign(world, town)


def download(client, campaign, **params) -> bytes:
    response = client.get(reverse("screening:export", args=[campaign.pk]), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    assert "attachment" in response["Content-Disposition"]
    return b"".join(response.streaming_content)


def results(content: bytes) -> tuple[list[str], list[dict]]:
    """Returns the results sheet's headers and its rows as {header: value}."""
    book = load_workbook(io.BytesIO(content), read_only=True)
    sheet = book.worksheets[1]
    rows = list(sheet.iter_rows(values_only=True))
    assert WATERMARK in rows[0][0]
    headers = list(rows[1])
    return headers, [dict(zip(headers, row, strict=False)) for row in rows[2:]]


def xml_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist())


def full_identifiers() -> list[str]:
    values = []
    for person in Person.objects.all():
        for sealed in (person.id_number_encrypted, person.phone_encrypted):
            if sealed:
                values.append(identifiers.decrypt(sealed))
    assert len(values) > 5
    return values


def by_name(rows: list[dict], column: str) -> dict[str, dict]:
    return {row[column]: row for row in rows}


def test_the_lead_exports_every_target_with_answers_as_labels(client_for, world, campaign):
    content = download(client_for(world.lead_a), campaign)
    headers, rows = results(content)
    assert len(rows) == 6
    name = headers[6]
    people = by_name(rows, name)
    assert set(people) == {"张三丰", "李秀英", "王小明", "王小红", "赵大爷", "钱阿姨"}
    questions = question_map(campaign.questionnaire_version.definition)
    symptoms, health_code = questions["symptoms"], questions["health_code"]
    wang = people["王小明"]
    assert wang[symptoms["text"]] == next(
        o["label"] for o in symptoms["options"] if o["code"] == "none"
    )
    assert wang[health_code["text"]] == next(
        o["label"] for o in health_code["options"] if o["code"] == "green"
    )
    assert wang[questions["arrived_recently"]["text"]] not in (False, "False", "false", "")
    zhang = people["张三丰"]
    assert zhang[questions["temperature"]["text"]] == 38.2
    assert zhang[headers[0]] == world.a.community.name
    assert zhang[headers[1]] == world.a.grid.name
    # Identifiers masked, never in full anywhere in the file.
    assert zhang[headers[9]].startswith("6101") and "*" in zhang[headers[9]]
    assert zhang[headers[10]] == "138****5678"
    text = xml_text(content)
    assert WATERMARK in text and "lead_a" in text
    assert not [value for value in full_identifiers() if value in text]


def test_the_export_is_audited(client_for, world, campaign):
    download(client_for(world.lead_a), campaign)
    event = AuditEvent.objects.get(action=AuditAction.EXPORT, actor=world.lead_a)
    assert event.object_type == "screening_campaign"
    assert event.object_id == str(campaign.pk)
    assert event.area_path == world.a.community.path
    assert event.detail["rows"] == 6


def test_a_grid_worker_exports_their_grid_only(client_for, world, campaign):
    headers, rows = results(download(client_for(world.grid_a), campaign))
    assert {row[headers[6]] for row in rows} == {"张三丰", "李秀英"}


def test_an_area_narrows_the_export(client_for, world, town, campaign):
    client = client_for(world.lead_a)
    headers, rows = results(download(client, campaign, area=town.building2.pk))
    assert {row[headers[6]] for row in rows} == {"王小明", "王小红", "赵大爷"}
    assert (
        client.get(
            reverse("screening:export", args=[campaign.pk]), {"area": world.b.grid.pk}
        ).status_code
        == 404
    )


def test_the_street_officer_gets_names_and_rooms_masked(client_for, world):
    campaign = street_campaign(world)
    content = download(client_for(world.street_officer), campaign)
    headers, rows = results(content)
    assert sorted(row[headers[6]] for row in rows) == sorted(["张*丰", "李*英", "王*"])
    assert {row[headers[0]] for row in rows} == {"长延堡社区", "大雁塔社区"}
    assert {row[headers[5]] for row in rows} == {"****"}
    text = xml_text(content)
    assert "张三丰" not in text and "王五" not in text
    assert not [value for value in full_identifiers() if value in text]
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, actor=world.street_officer)


def test_volunteers_cannot_export(client_for, world, campaign):
    response = client_for(world.volunteer_a).get(reverse("screening:export", args=[campaign.pk]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_people_never_reached_are_not_yet_screened_not_risk_free(client_for, world, campaign):
    headers, rows = results(download(client_for(world.lead_a), campaign))
    people = by_name(rows, headers[6])
    risk = headers.index("风险")
    never = CampaignTarget.objects.filter(campaign=campaign, reached_at__isnull=True)
    reached = CampaignTarget.objects.filter(campaign=campaign, reached_at__isnull=False)
    assert never.exists() and reached.exists()
    for target in never.select_related("person"):
        assert people[target.person.name][headers[risk]] == "未排查"
    for target in reached.select_related("person"):
        assert people[target.person.name][headers[risk]] != "未排查"
