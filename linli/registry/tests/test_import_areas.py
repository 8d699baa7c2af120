"""Issue 12, item 1: imports never invent areas.

A file imported into 第二网格 that names compounds of 第一网格 lands in them; an unknown compound
goes to the community's 待分配网格 (never straight under the grid); the preview lists every
compound the import would create or find elsewhere, and the steward's choice wins.
"""

import pytest
from django.urls import reverse

from linli.areas.models import Area, AreaAction, AreaLevel
from linli.areas.services import create_area
from linli.audit.models import AuditEvent
from linli.core.masking import mask_long_numbers
from linli.core.roles import Role
from linli.demo import factories as f
from linli.registry.forms import UploadForm, mapping_form
from linli.registry.importing import pipeline
from linli.registry.importing.placement import UNASSIGNED_GRID
from linli.registry.models import BatchStatus, Person, SourceRecord
from linli.registry.selectors import import_areas
from linli.registry.services import imports as import_services

KNOWN_ID = "610113198005171237"  # 张三丰's

FILE = (
    "姓名,身份证号,联系电话,现住址\n"
    "周一,610113199001011234,13800000001,西电名居1号楼1单元101室\n"
    "吴二,,13800000002,春晓公寓2-1-305\n"
    "郑三,,13800000003,西電名居小區1-1-102\n"  # traditional characters and a suffix
    "王四,,13800000004,新华苑3-2-501\n"
    "冯五,,13800000005,新华苑3-2-502\n"
)


@pytest.fixture
def grids(world):
    """长延堡社区: 第一网格 holds 翠华小区 (the world's), 西电名居 and 春晓公寓; 第二网格 is
    empty."""
    a = world.a
    xidian = create_area(parent=a.grid, level=AreaLevel.COMPOUND, name="西电名居")
    chunxiao = create_area(parent=a.grid, level=AreaLevel.COMPOUND, name="春晓公寓")
    second = create_area(parent=a.community, level=AreaLevel.GRID, name="第二网格")
    return {"xidian": xidian, "chunxiao": chunxiao, "second": second}


def upload(world, area, data: str = FILE, by=None):
    return import_services.stage_upload(
        area=area,
        source_name="物业",
        source_kind="property",
        file_name="物业.csv",
        data=data.encode(),
        by=by or world.steward_a,
    )


def run(world, batch, placements=None, by=None):
    import_services.confirm_batch(
        batch=batch, mapping=batch.mapping, placements=placements, by=by or world.steward_a
    )
    batch.refresh_from_db()
    batch = pipeline.run_batch(batch)
    assert batch.status == BatchStatus.COMMITTED, batch.error
    return batch


def compounds_named(name: str) -> list[Area]:
    return list(Area.objects.filter(level=AreaLevel.COMPOUND, name=name))


def dwelling_of(batch, row: int) -> Area:
    return SourceRecord.objects.get(batch=batch, row_number=row).dwelling


def test_a_grid_import_uses_the_communitys_compounds_and_sends_unknown_ones_to_be_assigned(
    world, grids
):
    """Into 第二网格: 西电名居 and 春晓公寓 of 第一网格 are used, not created again (a traditional
    spelling with 小區 included); 新华苑, known nowhere, is created in the community's
    待分配网格, not under 第二网格; each created area is audited."""
    batch = run(world, upload(world, grids["second"]))
    assert compounds_named("西电名居") == [grids["xidian"]]
    assert compounds_named("春晓公寓") == [grids["chunxiao"]]
    assert dwelling_of(batch, 1).path.startswith(grids["xidian"].path)
    assert dwelling_of(batch, 2).path.startswith(grids["chunxiao"].path)
    assert dwelling_of(batch, 3).parent == dwelling_of(batch, 1).parent
    assert batch.new_compounds == 1
    (xinhua,) = compounds_named("新华苑")
    assert xinhua.parent.name == UNASSIGNED_GRID
    assert xinhua.parent.parent == world.a.community
    assert not Area.objects.filter(parent=grids["second"]).exists()
    created = AuditEvent.objects.filter(action=AreaAction.CREATE_AREA, actor=world.steward_a)
    assert {(e.object_label, e.detail.get("rows")) for e in created} == {
        (UNASSIGNED_GRID, 0),
        ("新华苑", 2),
    }
    event = AuditEvent.objects.get(action="import", object_id=str(batch.pk))
    assert event.detail["areas_created"] == {
        "grid": 1,
        "compound": 1,
        "building": 3,
        "unit": 3,
        "dwelling": 5,
    }


def test_a_second_import_finds_the_compound_the_first_created(world, grids):
    """The to-be-assigned compound is found next time: no second 新华苑, no second grid."""
    run(world, upload(world, grids["second"]))
    run(world, upload(world, grids["second"], FILE.replace("13800000005", "13800000009")))
    assert len(compounds_named("新华苑")) == 1
    assert Area.objects.filter(name=UNASSIGNED_GRID).count() == 1


def test_people_already_in_a_compound_elsewhere_are_matched_not_duplicated(world, grids):
    """A file for 第二网格 naming 翠华小区 of 第一网格 matches the people living there."""
    data = f"姓名,身份证号,现住址\n张三丰,{KNOWN_ID},翠华小区1号楼1单元101室\n"
    before = Person.objects.count()
    batch = run(world, upload(world, grids["second"], data))
    assert Person.objects.count() == before
    assert SourceRecord.objects.get(batch=batch, row_number=1).person == world.resident_a


def test_the_preview_lists_each_compound_with_its_rows_and_choices(world, grids):
    """The preview names 新华苑 (2 rows) as to be created in 待分配网格 and each spelling of
    西电名居 as found in 第一网格, and offers the community's grids and compounds."""
    batch = upload(world, grids["second"])
    preview = pipeline.preview_batch(batch, viewer=world.steward_a)
    choices = {c.plan.written: c for c in preview.areas.choices}
    assert set(choices) == {"新华苑", "西电名居", "西电名居小区", "春晓公寓"}
    assert choices["西电名居小区"].plan.found == grids["xidian"]
    assert preview.areas.creating == 1
    new = choices["新华苑"]
    assert (new.plan.rows, new.plan.found, new.plan.choice) == (2, None, "new:")
    xidian = choices["西电名居"]
    assert xidian.plan.rows == 1 and xidian.plan.found == grids["xidian"]
    assert xidian.found_at == "第一网格"
    assert xidian.plan.choice == f"area:{grids['xidian'].pk}"
    values = [value for _group, options in new.options for value, _label in options]
    assert values[:3] == ["new:", f"new:{world.a.grid.pk}", f"new:{grids['second'].pk}"]
    assert f"area:{grids['chunxiao'].pk}" in values


def test_the_stewards_choice_maps_a_name_and_is_remembered_as_an_alias(world, grids):
    """新华苑 taken for 春晓公寓: nothing is created, its rows go to 春晓公寓, and 新华苑
    becomes an alias of 春晓公寓 (audited) so the next file matches by itself."""
    chunxiao = grids["chunxiao"]
    batch = run(world, upload(world, grids["second"]), {"新华苑": f"area:{chunxiao.pk}"})
    assert compounds_named("新华苑") == []
    assert dwelling_of(batch, 4).path.startswith(chunxiao.path)
    chunxiao.refresh_from_db()
    assert chunxiao.aliases == ["新华苑"]
    assert AuditEvent.objects.filter(
        action=AreaAction.UPDATE_AREA, object_id=str(chunxiao.pk), actor=world.steward_a
    ).exists()
    again = upload(world, grids["second"], FILE.replace("13800000005", "13800000009"))
    preview = pipeline.preview_batch(again, viewer=world.steward_a)
    assert preview.areas.creating == 0


def test_the_steward_may_create_an_unknown_compound_in_a_grid(world, grids):
    """Chosen "new, in 第二网格": 新华苑 is created there instead of in 待分配网格."""
    run(world, upload(world, grids["second"]), {"新华苑": f"new:{grids['second'].pk}"})
    (xinhua,) = compounds_named("新华苑")
    assert xinhua.parent == grids["second"]
    assert not Area.objects.filter(name=UNASSIGNED_GRID).exists()


def test_a_choice_out_of_reach_is_refused_and_nothing_is_queued(world, grids):
    """A compound of another community (the steward of A cannot see it) or a grid elsewhere
    is refused: the batch stays uploaded."""
    batch = upload(world, grids["second"])
    for choice in (f"area:{world.b.compound.pk}", f"new:{world.b.grid.pk}", "area:x", "drop"):
        with pytest.raises(pipeline.ImportRefused):
            import_services.confirm_batch(
                batch=batch,
                mapping=batch.mapping,
                placements={"新华苑": choice},
                by=world.steward_a,
            )
    batch.refresh_from_db()
    assert batch.status == BatchStatus.UPLOADED


def test_a_street_steward_finds_a_compound_of_another_community(world):
    """Across the street: a steward of the street importing into 长延堡社区 a file naming
    曲江花园 (of 大雁塔社区) uses it; a community's steward cannot see it and would create it."""
    street_steward = f.make_staff(
        username="street_steward", role=Role.DATA_STEWARD, areas=[world.street]
    )
    data = "姓名,现住址\n孙六,曲江花园1号楼1单元201室\n"
    batch = upload(world, world.a.community, data, by=street_steward)
    preview = pipeline.preview_batch(batch, viewer=street_steward)
    (choice,) = preview.areas.choices
    assert choice.plan.found == world.b.compound
    assert choice.found_at == "大雁塔社区 · 第一网格"
    batch = run(world, batch, by=street_steward)
    assert compounds_named("曲江花园") == [world.b.compound]
    assert dwelling_of(batch, 1).path.startswith(world.b.compound.path)
    own = pipeline.preview_batch(upload(world, world.a.community, data), viewer=world.steward_a)
    assert own.areas.choices[0].plan.found is None


def test_a_community_import_of_known_compounds_lists_nothing(world):
    """Compounds already below the target need no decision: the section stays empty."""
    data = "姓名,现住址\n孙六,翠华小区1号楼1单元201室\n"
    preview = pipeline.preview_batch(upload(world, world.a.community, data), viewer=world.steward_a)
    assert preview.areas.choices == []


def test_the_preview_page_shows_the_areas_and_the_address_in_clear(world, grids, client_for):
    """The page lists the compounds with a select each; an address keeps its numbers (only
    an identifier is masked); choices posted with confirm are stored on the batch."""
    batch = upload(world, grids["second"])
    client = client_for(world.steward_a)
    url = reverse("registry:import", args=[batch.pk])
    body = client.get(url).content.decode()
    assert 'data-testid="import-areas"' in body
    assert 'name="place:新华苑"' in body
    assert "春晓公寓2-1-305" in body
    assert "6101**********1234" in body and "610113199001011234" not in body
    form = {f"col{i}": v for i, v in enumerate(["name", "id_number", "phone", "address"])}
    choice = f"new:{grids['second'].pk}"
    response = client.post(url, {**form, "place:新华苑": choice, "confirm": "1"})
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.placements == {"新华苑": choice}


def test_the_import_menu_names_each_grids_community(world, grids):
    """Every community has a 第一网格: the menu says whose."""
    form = UploadForm(areas=import_areas(world.steward_a))
    labels = [label for _value, label in form.fields["area"].choices][1:]
    assert labels == [
        "长延堡社区",
        "长延堡社区 · 第一网格",
        "长延堡社区 · 第二网格",
    ]


def test_mapping_targets_read_differently():
    """The whole-address target and the person's 住址 field are never both offered."""
    form = mapping_form(["现住址"], {"现住址": "address"})
    values = [value for value, _label in form.fields["col0"].choices]
    assert "address" in values and "dwelling" not in values


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("春晓公寓2-1-305", "春晓公寓2-1-305"),
        ("12-3-2501", "12-3-2501"),
        ("住 13812345678", "住 138****5678"),
        ("610113199001011234", "6101**********1234"),
        ("029-88881234", "029****1234"),
    ],
)
def test_only_identifiers_are_masked_in_free_text(text, shown):
    assert mask_long_numbers(text) == shown


def test_a_compound_name_longer_than_the_column_is_cut_not_fatal(world):
    """An address whose long prefix was not understood still imports: the compound created
    for it keeps the first 100 characters of its name."""
    long_name = "东" * 130
    data = f"姓名,现住址\n孙六,{long_name}3-2-501\n"
    batch = run(world, upload(world, world.a.community, data))
    assert dwelling_of(batch, 1).path.startswith(compounds_named("东" * 100)[0].path)
