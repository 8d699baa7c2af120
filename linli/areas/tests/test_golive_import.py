"""The area tree loaded from the go-live sheets: codes, ranges, idempotency, moves, jurisdiction."""

import csv
import io

import pytest
from django.core.management import call_command

from linli.areas import services
from linli.areas.importing import divisions
from linli.areas.importing.plan import ADMIN_COLUMNS, LOWER_COLUMNS, plan_import
from linli.areas.importing.template import area_template
from linli.areas.models import Area, AreaAction, AreaLevel
from linli.audit.models import AuditEvent
from linli.core.sheets import Sheet, read_sheets, workbook


def admin_sheet(rows):
    return Sheet(
        "行政区划",
        ADMIN_COLUMNS,
        [(i + 2, dict(zip(ADMIN_COLUMNS, r, strict=False))) for i, r in enumerate(rows)],
    )


def lower_sheet(rows):
    return Sheet(
        "网格小区楼栋",
        LOWER_COLUMNS,
        [(i + 2, dict(zip(LOWER_COLUMNS, r, strict=False))) for i, r in enumerate(rows)],
    )


def official_sample() -> list[list[str]]:
    """A published-format list: a city, 3 districts, 10 streets each, 8 communities each."""
    rows = [["610100000000", "西安市"]]
    for d in range(1, 4):
        rows.append([f"6101{d:02d}000000", f"第{d}区"])
        for s in range(1, 11):
            rows.append([f"6101{d:02d}{s:03d}000", f"第{d}区第{s}街道"])
            for c in range(1, 9):
                rows.append([f"6101{d:02d}{s:03d}{c:03d}", f"第{d}区第{s}街道第{c}社区居委会"])
    return rows


def test_code_structure():
    assert divisions.level_of("610113001001") == AreaLevel.COMMUNITY
    assert divisions.level_of("610113001000") == AreaLevel.STREET
    assert divisions.parent_code("610113001001") == "610113001000"
    assert divisions.parent_code("610113000000") == "610100000000"
    assert divisions.community_name("长延堡社区居委会") == "长延堡社区"
    assert divisions.community_name("东关村民委员会") == "东关村"


@pytest.mark.django_db
def test_an_official_list_loads_and_loads_again_without_a_change():
    rows = official_sample()
    assert len(rows) == 274
    plan = plan_import([admin_sheet(rows)], by=None)
    assert not plan.errors
    assert plan.created_counts == {"city": 1, "district": 3, "street": 30, "community": 240}
    services.import_area_tree(plan=plan, file_name="区划.xlsx", by=None)
    community = Area.objects.get(code="610102003004")
    assert community.name == "第2区第3街道第4社区"
    assert community.parent.code == "610102003000"
    assert community.path.startswith(Area.objects.get(code="610102000000").path)
    events = AuditEvent.objects.count()

    again = plan_import([admin_sheet(rows)], by=None)
    assert again.changes == 0 and not again.errors
    assert services.import_area_tree(plan=again, file_name="区划.xlsx", by=None)["created"] == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_malformed_codes_and_missing_parents_are_refused_at_their_row(world):
    plan = plan_import(
        [
            admin_sheet(
                [
                    ["61011300100", "少一位社区"],  # 11 digits
                    ["610100001001", "跳级社区"],  # district segment empty, street filled
                    ["610000000000", "陕西省"],  # a province
                    ["610113099001", "无上级社区"],  # street 610113099000 nowhere
                    ["610113001003", ""],  # no name
                ]
            )
        ],
        by=None,
    )
    reasons = {e.row: e.both for e in plan.errors}
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "12" in reasons[2]
    assert "610100001001" in reasons[3]
    assert "province" in reasons[4]
    assert "610113099000" in reasons[5] and "上级" in reasons[5]
    assert "名称" in reasons[6] or "name" in reasons[6]
    with pytest.raises(Exception):  # noqa: B017 - a plan with refused rows is never written
        services.import_area_tree(plan=plan, file_name="x.csv", by=None)
    assert not Area.objects.filter(name="无上级社区").exists()


@pytest.mark.django_db
def test_a_range_expands_to_dwellings_without_the_shop_floor(world):
    plan = plan_import(
        [
            lower_sheet(
                [
                    [
                        "610113001001",
                        "第二网格",
                        "绿地小区",
                        "",
                        "3号楼",
                        "2单元",
                        "",
                        "1–18 层",
                        "01-04",
                        "1",
                    ]
                ]
            )
        ],
        by=None,
    )
    assert not plan.errors
    services.import_area_tree(plan=plan, file_name="楼栋.xlsx", by=None)
    unit = Area.objects.get(name="2单元", parent__name="3号楼")
    dwellings = Area.objects.filter(parent=unit)
    assert dwellings.count() == 17 * 4
    assert not dwellings.filter(floor=1).exists()
    top = dwellings.get(name="1804室")
    assert top.floor == 18 and top.level == AreaLevel.DWELLING
    assert dwellings.filter(name="201室").exists()


@pytest.mark.django_db
def test_a_bad_range_is_refused_at_its_row(world):
    plan = plan_import(
        [
            lower_sheet(
                [
                    [
                        "610113001001",
                        "第一网格",
                        "翠华小区",
                        "",
                        "1号楼",
                        "1单元",
                        "",
                        "18-1",
                        "01-04",
                        "",
                    ]
                ]
            )
        ],
        by=None,
    )
    assert [e.row for e in plan.errors] == [2]
    assert "1-18" in plan.errors[0].both


@pytest.mark.django_db
def test_compound_aliases_are_stored_where_the_registry_reads_them(world):
    rows = [["610113001001", "第一网格", "翠华小区", "翠华苑、翠华花园"]]
    plan = plan_import([lower_sheet(rows)], by=None)
    assert [added for _n, added in plan.alias_additions] == [["翠华苑", "翠华花园"]]
    services.import_area_tree(plan=plan, file_name="a.xlsx", by=None)
    assert world.a.compound.__class__.objects.get(pk=world.a.compound.pk).aliases == [
        "翠华苑",
        "翠华花园",
    ]
    assert plan_import([lower_sheet(rows)], by=None).changes == 0


@pytest.mark.django_db
def test_moving_a_compound_to_another_grid_keeps_its_people_and_targets_attached(world):
    from linli.registry.models import Household, Person

    compound = world.a.compound
    rows = [["610113001001", "第二网格", "翠华小区"]]  # the compound now belongs to grid 2
    plan = plan_import([lower_sheet(rows)], by=world.street_officer)
    assert [(n.name, old.name) for n, old in plan.moves] == [("翠华小区", "第一网格")]
    services.import_area_tree(plan=plan, file_name="调整.xlsx", by=world.street_officer)

    compound.refresh_from_db()
    grid2 = Area.objects.get(name="第二网格", parent=world.a.community)
    assert compound.parent == grid2 and compound.path.startswith(grid2.path)
    dwelling = Area.objects.get(pk=world.a.dwellings[0].pk)
    assert dwelling.path.startswith(compound.path)
    person = Person.objects.get(pk=world.resident_a.pk)
    assert person.area_path == dwelling.path
    assert Household.objects.get(pk=person.household_id).area_path == dwelling.path
    assert AuditEvent.objects.filter(
        action=AreaAction.MOVE_AREA, object_id=str(compound.pk)
    ).exists()
    # The grid worker of grid 1 no longer answers for it; the community lead still does.
    assert not Person.objects.visible_to(world.grid_a).filter(pk=person.pk).exists()
    world.lead_a.__dict__.pop("jurisdiction_paths", None)
    assert Person.objects.visible_to(world.lead_a).filter(pk=person.pk).exists()


@pytest.mark.django_db
def test_move_area_rewrites_campaign_targets(world):
    from linli.screening.models import CampaignTarget
    from linli.screening.selectors import questionnaires as questionnaire_selectors
    from linli.screening.services import campaigns, questionnaires

    questionnaire = questionnaires.create_questionnaire(
        name="排查", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    campaign = campaigns.create_campaign(
        name="每日监测",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=world.a.community,
        by=world.lead_a,
        channels=["h5"],
    )
    campaigns.launch_campaign(campaign=campaign, by=world.lead_a)
    new_street = services.create_area(
        parent=world.district, level=AreaLevel.STREET, name="电子城街道", code="610113002000"
    )
    services.move_area(area=world.a.community, parent=new_street, by=None)
    community = Area.objects.get(pk=world.a.community.pk)
    assert community.path.startswith(new_street.path)
    targets = CampaignTarget.objects.filter(campaign=campaign)
    assert targets.exists()
    assert all(t.area_path.startswith(community.path) for t in targets)
    campaign.refresh_from_db()
    assert campaign.area_path == community.path


@pytest.mark.django_db
def test_a_renamed_community_keeps_its_people(world):
    from linli.registry.models import Person

    plan = plan_import(
        [admin_sheet([["610113001001", "长延堡社区居委会"], ["610113001002", "雁南社区"]])], by=None
    )
    assert [(n.name, old) for n, old in plan.renames] == [("雁南社区", "大雁塔社区")]
    services.import_area_tree(plan=plan, file_name="更名.xlsx", by=None)
    b = Area.objects.get(pk=world.b.community.pk)
    assert b.name == "雁南社区"
    assert Person.objects.get(pk=world.resident_b.pk).area_path.startswith(b.path)


@pytest.mark.django_db
def test_a_former_code_recodes_and_moves_instead_of_creating(world):
    rows = [["610113002000", "电子城街道", ""], ["610113002001", "长延堡社区", "610113001001"]]
    plan = plan_import([admin_sheet(rows)], by=None)
    assert not plan.errors
    services.import_area_tree(plan=plan, file_name="调整.xlsx", by=None)
    community = Area.objects.get(pk=world.a.community.pk)
    assert community.code == "610113002001"
    assert community.parent.code == "610113002000"


@pytest.mark.django_db
def test_a_street_steward_cannot_import_into_another_street(world):
    from linli.core.roles import Role
    from linli.demo import factories as f

    other = services.create_area(
        parent=world.district, level=AreaLevel.STREET, name="电子城街道", code="610113002000"
    )
    steward = f.make_staff(username="steward_other", role=Role.DATA_STEWARD, areas=[other])
    plan = plan_import(
        [
            admin_sheet([["610113001009", "新社区"], ["610113002001", "电子城社区"]]),
            lower_sheet([["610113001001", "第九网格"]]),
        ],
        by=steward,
    )
    refused = {(e.sheet, e.row): e.both for e in plan.errors}
    assert set(refused) == {("行政区划", 2), ("网格小区楼栋", 2)}
    assert all("Outside your jurisdiction" in r for r in refused.values())
    assert [n.name for n in plan.creates] == ["电子城社区"]


def test_template_has_both_sheets_and_reads_back():
    sheets = read_sheets(area_template(), "areas-template.xlsx")
    assert [s.name for s in sheets][:2] == ["行政区划", "网格小区楼栋"]
    assert sheets[0].headers == ADMIN_COLUMNS and sheets[1].headers == LOWER_COLUMNS


@pytest.mark.django_db
def test_the_command_loads_a_gb18030_csv(world, tmp_path):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LOWER_COLUMNS)
    writer.writerow(
        ["610113001002", "第一网格", "曲江花园", "曲江花园小区", "5号楼", "", "", "2-3", "1-2", ""]
    )
    path = tmp_path / "楼栋.csv"
    path.write_bytes(out.getvalue().encode("gb18030"))
    stdout = io.StringIO()
    call_command("areas", "import", str(path), stdout=stdout)
    assert Area.objects.filter(name="5号楼").count() == 1
    assert set(Area.objects.filter(parent__name="5号楼").values_list("name", flat=True)) == {
        "21室",
        "22室",
        "31室",
        "32室",
    }
    stdout = io.StringIO()
    call_command("areas", "import", str(path), stdout=stdout)
    assert "changes=0" in stdout.getvalue()


@pytest.mark.django_db
def test_the_page_previews_without_writing_then_confirms(world, client):
    client.force_login(world.street_officer)
    data = workbook(
        [("网格小区楼栋", LOWER_COLUMNS, [["610113001001", "第三网格", "阳光小区", "阳光城"]])]
    )
    before = Area.objects.count()
    upload = io.BytesIO(data)
    upload.name = "网格.xlsx"
    response = client.post("/areas/import/", {"file": upload})
    assert response.status_code == 200
    body = response.content.decode()
    assert "阳光小区" in body and "confirm-import" in body
    assert Area.objects.count() == before
    response = client.post("/areas/import/confirm/")
    assert response.status_code == 302
    assert Area.objects.get(name="阳光小区").aliases == ["阳光城"]
    upload = io.BytesIO(data)
    upload.name = "网格.xlsx"
    response = client.post("/areas/import/", {"file": upload})
    assert "nothing-to-change" in response.content.decode()


@pytest.mark.django_db
def test_a_grid_worker_may_not_load_areas(world, client):
    client.force_login(world.grid_a)
    assert client.get("/areas/import/").status_code == 403
    assert client.get("/areas/import/template.xlsx").status_code == 403


@pytest.mark.django_db
def test_a_plan_made_for_someone_else_cannot_be_written(world):
    from django.core.exceptions import PermissionDenied

    plan = plan_import([lower_sheet([["610113001002", "第九网格"]])], by=None)  # community B
    with pytest.raises(PermissionDenied):
        services.import_area_tree(plan=plan, file_name="x.xlsx", by=world.steward_a)
    assert not Area.objects.filter(name="第九网格").exists()


@pytest.mark.django_db
def test_refused_rows_download_in_both_languages_and_a_stale_preview_is_shown_again(world, client):
    client.force_login(world.street_officer)
    bad = workbook([("行政区划", ADMIN_COLUMNS, [["61011300100", "少一位"]])])
    upload = io.BytesIO(bad)
    upload.name = "区划.xlsx"
    body = client.post("/areas/import/", {"file": upload}).content.decode()
    assert "refused-rows" in body and "confirm-import" not in body
    download = client.get("/areas/import/refused.csv")
    text = b"".join(
        download.streaming_content if download.streaming else [download.content]
    ).decode("utf-8-sig")
    assert "12 位" in text or "12位" in text
    assert "A division code has 12 digits." in text

    good = workbook([("网格小区楼栋", LOWER_COLUMNS, [["610113001001", "第四网格"]])])
    upload = io.BytesIO(good)
    upload.name = "网格.xlsx"
    client.post("/areas/import/", {"file": upload})
    services.create_area(parent=world.a.community, level=AreaLevel.GRID, name="第四网格")
    response = client.post("/areas/import/confirm/")
    assert response.status_code == 409  # the tree changed: the new preview, nothing written
    assert Area.objects.filter(name="第四网格").count() == 1


@pytest.mark.django_db
def test_move_area_keeps_work_orders_attached(world):
    from linli.workorders.models import WorkOrder
    from linli.workorders.services import orders

    order = orders.raise_work_order(
        kind="general",
        area=world.a.grid,
        by=world.lead_a,
        person=world.resident_a,
        priority="p0",
        text="需要送药",
    )
    new_street = services.create_area(
        parent=world.district, level=AreaLevel.STREET, name="电子城街道", code="610113002000"
    )
    services.move_area(area=world.a.community, parent=new_street, by=None)
    grid = Area.objects.get(pk=world.a.grid.pk)
    assert WorkOrder.objects.get(pk=order.pk).area_path == grid.path
    world.lead_a.__dict__.pop("jurisdiction_paths", None)
    assert WorkOrder.objects.visible_to(world.lead_a).filter(pk=order.pk).exists()
