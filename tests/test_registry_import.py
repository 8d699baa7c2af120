"""Importing department files into the registry, end to end through the real pipeline."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from linli.areas.models import Area
from linli.audit.models import AuditAction, AuditEvent
from linli.registry.importing import pipeline, writing
from linli.registry.models import (
    BatchStatus,
    Household,
    MatchReview,
    Person,
    PersonMerge,
    RegistryAction,
    ReviewStatus,
    SourceRecord,
)
from linli.registry.services import imports as import_services

ID_A = "610113198005171237"  # 张三丰, already in the registry (conftest)
NEW_ID = "61011319900307207X"

HOUSEHOLD_CSV = (
    "姓名,公民身份号码,联系电话,现住址,与户主关系\n"
    f"张三丰,{ID_A},13812345678,翠华小区1号楼1单元101室,户主\n"
    f"赵 六,{NEW_ID.lower()},138-0000-1111,翠华小区3号楼2单元501室,户主\n"
    "錢七,6.10103E+17,13800002222,翠华小区3-2-501,配偶\n"
    ",610113199001012345,13800003333,翠华小区3-2-502,户主\n"
)


def stage(world, data: bytes, name: str, kind: str = "household_registration"):
    batch = import_services.stage_upload(
        area=world.a.community,
        source_name=name,
        source_kind=kind,
        file_name=name,
        data=data,
        by=world.steward_a,
    )
    batch.status = BatchStatus.QUEUED
    batch.save(update_fields=["status"])
    return batch


def test_gb18030_csv_links_known_people_and_creates_new_ones(world):
    """A GBK file: the known ID joins 张三丰's file, new people get dwellings created on the
    tree, a damaged ID is kept as a warning (never valid), a row without a name is rejected."""
    batch = stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv")
    assert batch.encoding == "gb18030"
    before = Person.objects.count()
    batch = pipeline.run_batch(batch)
    assert batch.status == BatchStatus.COMMITTED, batch.error
    assert (batch.accepted_rows, batch.rejected_rows) == (3, 1)
    assert Person.objects.count() == before + 2
    zhang = SourceRecord.objects.get(batch=batch, row_number=1)
    assert zhang.person_id == world.resident_a.pk
    zhao = Person.objects.get(name="赵六")
    assert zhao.id_number_masked == "6101**********207X"
    assert zhao.address_building == "翠华小区3号楼" and zhao.address_dwelling == "2单元501室"
    qian = Person.objects.get(name="钱七")  # traditional 錢 folded to simplified
    assert qian.id_number_hash == ""
    record = SourceRecord.objects.get(batch=batch, row_number=3)
    assert record.id_problem == "excel_scientific"
    assert qian.dwelling_id == zhao.dwelling_id
    assert qian.household_id == zhao.household_id
    assert Household.objects.get(pk=zhao.household_id).head_id == zhao.pk
    dwelling = Area.objects.get(pk=zhao.dwelling_id)
    assert dwelling.path.startswith(world.a.compound.path) and dwelling.floor == 5


def test_uploaded_file_is_encrypted_at_rest_and_deleted_after_the_run(world, settings):
    """The department's file (full IDs in clear) is stored sealed, and removed once imported."""
    from pathlib import Path

    batch = stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv")
    stored = Path(settings.MEDIA_ROOT) / batch.stored_file
    assert stored.exists()
    assert ID_A.encode() not in stored.read_bytes()
    assert "张三丰".encode("gb18030") not in stored.read_bytes()
    pipeline.run_batch(batch)
    assert not stored.exists()


def test_same_file_twice_changes_nothing(world):
    """Importing the very same file again into the same area is recognised and ignored."""
    pipeline.run_batch(stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv"))
    counts = (Person.objects.count(), SourceRecord.objects.count(), Area.objects.count())
    again = pipeline.run_batch(stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv"))
    assert again.status == BatchStatus.DUPLICATE
    assert counts == (Person.objects.count(), SourceRecord.objects.count(), Area.objects.count())


def test_failed_import_leaves_the_registry_as_it_was(world, monkeypatch):
    """A failure while writing rolls everything back: people, records, dwellings."""
    counts = (Person.objects.count(), SourceRecord.objects.count(), Area.objects.count())

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writing, "derive_households", explode)
    batch = pipeline.run_batch(stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv"))
    assert batch.status == BatchStatus.FAILED
    assert "disk full" in batch.error
    assert counts == (Person.objects.count(), SourceRecord.objects.count(), Area.objects.count())


def test_xlsx_with_numeric_ids_never_accepts_a_damaged_number(world):
    """An ID typed into Excel as a number lost its last digits: it is flagged, not linked."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["2022年长延堡社区返乡人员名单"])
    sheet.append(["姓名", "身份证号", "手机", "居住地址"])
    sheet.append(["孙八", 610113199001011234, 13900001234, "三栋二单元501"])
    sheet.append(["周九", "610113198502023456", "13900005678", "翠华小区3号楼2单元502室"])
    data = io.BytesIO()
    book.save(data)
    batch = pipeline.run_batch(stage(world, data.getvalue(), "返乡.xlsx", "travel"))
    assert batch.status == BatchStatus.COMMITTED, batch.error
    sun = SourceRecord.objects.get(batch=batch, row_number=1)
    assert sun.id_number_hash == "" and sun.id_problem.startswith("excel")
    assert sun.phone_masked == "139****1234"
    assert sun.dwelling is not None and sun.dwelling.name == "501室"


def test_upload_preview_confirm_and_rejected_rows_through_the_pages(
    world, client_for, django_capture_on_commit_callbacks
):
    """A steward uploads, sees the suggested mapping and preview, confirms, and downloads the
    rejected rows with their reasons in Chinese and English."""
    client = client_for(world.steward_a)
    upload = io.BytesIO(HOUSEHOLD_CSV.encode("gb18030"))
    upload.name = "户籍.csv"
    response = client.post(
        reverse("registry:imports"),
        {
            "area": world.a.community.pk,
            "source_name": "户籍科",
            "source_kind": "household_registration",
            "file": upload,
        },
    )
    assert response.status_code == 302
    detail = client.get(response["Location"])
    body = detail.content.decode()
    assert "6101**********207X" in body and NEW_ID not in body.upper()
    assert 'value="id_number" selected' in body
    batch_url = response["Location"]
    fields = ["name", "id_number", "phone", "address", "relation"]
    form = {f"col{i}": f for i, f in enumerate(fields)}
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(batch_url, {**form, "confirm": "1"})
    assert confirmed.status_code == 302
    page = client.get(batch_url).content.decode()
    assert 'data-status="committed"' in page
    batch_id = int(batch_url.rstrip("/").split("/")[-1])
    rejected = client.get(reverse("registry:import_rejected", args=[batch_id]))
    text = rejected.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert "steward_a" in rows[0][0]  # the watermark
    assert rows[1][:3] == ["行 / Row", "原因", "Reason"]
    assert rows[2][0] == "4" and "姓名" in rows[2][1] and "name" in rows[2][2].lower()
    assert "610113199001012345" not in text and "6101**********2345" in text
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, actor=world.steward_a).exists()


def test_grid_workers_cannot_import(world, client_for):
    """Importing is for data stewards and community leads."""
    assert client_for(world.grid_a).get(reverse("registry:imports")).status_code == 403


@pytest.fixture
def pair(world):
    """Two files of what may be one person, put in the review queue."""
    from linli.demo import factories as f

    twin = f.make_resident(
        dwelling=world.a.dwellings[1], name="张三峰", phone="13812345678", sequence=321
    )
    twin.id_number_encrypted = twin.id_number_hash = twin.id_number_masked = ""
    twin.save()
    review = MatchReview.objects.create(
        left=world.resident_a,
        right=twin,
        area_path=world.a.community.path,
        probability=0.93,
    )
    return review, twin


def test_accepting_a_review_merges_and_unmerge_restores(world, client_for, pair):
    """Accepting merges the newer file into the older; undo gives both files back."""
    review, twin = pair
    client = client_for(world.steward_a)
    client.post(reverse("registry:review", args=[review.pk]), {"same_person": "yes"})
    review.refresh_from_db()
    twin.refresh_from_db()
    assert review.status == ReviewStatus.ACCEPTED
    assert twin.merged_into_id == world.resident_a.pk
    redirect = client.get(reverse("registry:person", args=[twin.pk]))
    assert redirect["Location"] == reverse("registry:person", args=[world.resident_a.pk])
    people = client.get(reverse("registry:people"), {"q": "张三"}).content.decode()
    assert reverse("registry:person", args=[twin.pk]) not in people
    assert reverse("registry:person", args=[world.resident_a.pk]) in people
    merge = PersonMerge.objects.get()
    client.post(reverse("registry:undo_merge", args=[merge.pk]))
    twin.refresh_from_db()
    assert twin.merged_into_id is None
    review.refresh_from_db()
    assert review.status == ReviewStatus.PENDING
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {RegistryAction.MERGE, RegistryAction.UNMERGE} <= actions


def test_rejecting_a_review_keeps_both_files(world, client_for, pair):
    review, twin = pair
    client_for(world.steward_a).post(
        reverse("registry:review", args=[review.pk]), {"same_person": "no"}
    )
    review.refresh_from_db()
    assert review.status == ReviewStatus.REJECTED
    twin.refresh_from_db()
    assert twin.merged_into_id is None


def test_person_page_shows_each_sources_value_and_a_steward_can_choose(world, client_for):
    """Two sources disagree on 张三丰's phone: both are shown; the steward picks one."""
    pipeline.run_batch(stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv"))
    census = f"姓名,身份证号,手机号码\n张三丰,{ID_A},13999998888\n"
    pipeline.run_batch(stage(world, census.encode("utf-8-sig"), "普查.csv", "census"))
    client = client_for(world.steward_a)
    url = reverse("registry:person", args=[world.resident_a.pk])
    body = client.get(url).content.decode()
    assert "139****8888" in body and "138****5678" in body
    person = Person.objects.get(pk=world.resident_a.pk)
    assert person.phone_masked == "138****5678"  # household registration outranks the census
    census_record = SourceRecord.objects.get(batch__file_name="普查.csv", row_number=1)
    client.post(
        reverse("registry:choose_value", args=[person.pk]),
        {"field": "phone", "record": census_record.pk},
    )
    person.refresh_from_db()
    assert person.phone_masked == "139****8888"
    assert AuditEvent.objects.filter(action=RegistryAction.CHOOSE_VALUE).exists()


def test_households_can_be_corrected_by_hand(world, client_for):
    """A grid worker separates a member into a household of their own and makes a new head;
    both changes are audited."""
    client = client_for(world.grid_a)
    household = world.resident_a.household
    url = reverse("registry:change_household", args=[household.pk])
    client.post(url, {"person": world.resident_a2.pk, "action": "make_head"})
    household.refresh_from_db()
    assert household.head_id == world.resident_a2.pk
    client.post(url, {"person": world.resident_a.pk, "action": "split"})
    moved = Person.objects.get(pk=world.resident_a.pk)
    assert moved.household_id != household.pk and moved.relation_to_head == "head"
    assert Household.objects.get(pk=moved.household_id).head_id == moved.pk
    assert AuditEvent.objects.filter(action=RegistryAction.HOUSEHOLD_CHANGE).count() == 2


def test_merge_moves_household_and_tags_and_unmerge_puts_them_back(world):
    """Merging a household's head into a file without a household makes the survivor the
    head; vulnerable counts do not double; unmerge restores both files' places."""
    from linli.demo import factories as f
    from linli.registry.selectors import tag_counts
    from linli.registry.services import merges

    loner = f.make_resident(
        dwelling=world.a.dwellings[2], name="张三丰", sequence=401, phone="13811112222"
    )
    loner.household = None
    loner.id_number_encrypted = loner.id_number_hash = loner.id_number_masked = ""
    loner.save()
    household = world.resident_a.household
    before = tag_counts(world.lead_a)["dialysis"]
    merge = merges.merge_people(survivor=loner, merged=world.resident_a, by=world.steward_a)
    loner.refresh_from_db()
    household.refresh_from_db()
    assert loner.household_id == household.pk and household.head_id == loner.pk
    assert tag_counts(world.lead_a)["dialysis"] == before
    merges.unmerge(merge=merge, by=world.steward_a)
    loner.refresh_from_db()
    household.refresh_from_db()
    assert loner.household_id is None
    assert household.head_id == world.resident_a.pk


def test_undoing_an_older_merge_of_a_merged_survivor_is_refused(world):
    """Merges are undone newest first: a survivor that was itself merged must come back
    before its own earlier merge can be undone."""
    from django.core.exceptions import ValidationError

    from linli.demo import factories as f
    from linli.registry.services import merges

    a = f.make_resident(dwelling=world.a.dwellings[2], name="甲", sequence=402, phone="13811110001")
    b = f.make_resident(dwelling=world.a.dwellings[3], name="甲", sequence=404, phone="13811110002")
    for person in (a, b):
        person.id_number_encrypted = person.id_number_hash = person.id_number_masked = ""
        person.save()
    first = merges.merge_people(survivor=a, merged=b, by=world.steward_a)
    merges.merge_people(survivor=world.resident_a, merged=a, by=world.steward_a)
    with pytest.raises(ValidationError):
        merges.unmerge(merge=first, by=world.steward_a)


def test_unmerge_keeps_a_stewards_later_choice(world):
    """A steward's choice made after a merge, among the survivor's own records, survives the
    undo of that merge."""
    from linli.demo import factories as f
    from linli.registry.services import merges

    pipeline.run_batch(stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv"))
    census = f"姓名,身份证号,手机号码\n张三丰,{ID_A},13999998888\n"
    pipeline.run_batch(stage(world, census.encode("utf-8-sig"), "普查.csv", "census"))
    other = f.make_resident(dwelling=world.a.dwellings[3], name="张三丰", sequence=406)
    other.id_number_encrypted = other.id_number_hash = other.id_number_masked = ""
    other.save()
    person = Person.objects.get(pk=world.resident_a.pk)
    merge = merges.merge_people(survivor=person, merged=other, by=world.steward_a)
    census_record = SourceRecord.objects.get(batch__file_name="普查.csv", row_number=1)
    person.refresh_from_db()
    merges.choose_field_value(
        person=person, field="phone", record=census_record, by=world.steward_a
    )
    merges.unmerge(merge=merge, by=world.steward_a)
    person.refresh_from_db()
    assert person.phone_masked == "139****8888"


def test_unconfirmed_uploads_are_purged(world, settings):
    """An upload nobody confirmed is deleted after the grace period (it holds identifiers)."""
    from pathlib import Path

    from django.core.management import call_command
    from django.utils import timezone

    batch = stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv")
    from linli.registry.models import ImportBatch

    ImportBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.UPLOADED, created_at=timezone.now() - timezone.timedelta(days=5)
    )
    call_command("purge_uploads", "--days", "3")
    assert not (Path(settings.MEDIA_ROOT) / batch.stored_file).exists()
    assert ImportBatch.objects.get(pk=batch.pk).status == BatchStatus.FAILED


def test_every_kind_of_source_record_row_loads_as_its_columns(world):
    """Accepted rows (with and without identifiers and warnings) and rejected rows give values
    of exactly their columns' types: the binary COPY on PostgreSQL would coerce a slip."""
    from linli.core.bulkload import check_rows
    from linli.registry.importing.readers import read_table

    batch = stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv")
    staged = pipeline.stage_rows(batch, read_table(HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv"))
    writing.seal_rows(staged)
    kinds = {
        (s.clean is None, s.id_number is None, bool(s.clean and s.clean.warnings)) for s in staged
    }
    assert (True, True, False) in kinds and (False, False, False) in kinds
    assert (False, True, True) in kinds  # 錢七: a damaged ID kept as a warning
    rows = list(writing.record_rows(staged))
    assert all(len(row) == len(writing.RECORD_COLUMNS) for row in rows)
    check_rows(SourceRecord, writing.RECORD_COLUMNS, rows)
