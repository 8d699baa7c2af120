"""Which registry services record which audit action (tests/test_audit_coverage.py)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from linli.audit.models import AuditAction
from linli.registry.models import MatchReview, RegistryAction, SourceRecord
from linli.registry.services import imports, merges, people

CSV = "姓名,联系电话\n张三丰,13812345678\n".encode()


def _upload(world):
    return imports.stage_upload(
        area=world.a.community,
        source_name="户籍科",
        source_kind="household_registration",
        file_name="户籍.csv",
        data=CSV,
        by=world.steward_a,
    )


def _loner(world):
    """A second file in A without an ID number: it may be merged into 张三丰's."""
    return people.register_person(
        name="张三丰", phone="13812345678", dwelling=world.a.dwellings[0], by=None
    )


def _reveal(world):
    purpose = settings.LINLI_REVEAL_PURPOSES[0][0]
    people.reveal_person_field(
        person=world.resident_a, field="phone", purpose=purpose, by=world.lead_a
    )


def _record_person_event(world):
    people.record_person_event(RegistryAction.VIEW_PERSON, person=world.resident_a, by=world.grid_a)


def _register(world):
    people.register_person(name="赵六", dwelling=world.a.dwellings[0], by=world.steward_a)


def _create_household(world):
    people.create_household(dwelling=world.a.dwellings[0], by=world.steward_a)


def _move(world):
    people.move_to_household(person=world.resident_a2, household=None, relation="", by=world.grid_a)


def _set_head(world):
    people.set_household_head(
        household=world.resident_a.household, person=world.resident_a2, by=world.lead_a
    )


def _merge(world):
    return merges.merge_people(survivor=world.resident_a, merged=_loner(world), by=world.steward_a)


def _unmerge(world):
    merges.unmerge(merge=_merge(world), by=world.steward_a)


def _decide(world):
    loner = _loner(world)
    review = MatchReview.objects.create(
        left=world.resident_a, right=loner, area_path=loner.area_path, probability=0.9
    )
    merges.decide_review(review=review, same_person=False, by=world.steward_a)


def _choose(world):
    record = SourceRecord.objects.create(
        batch=_upload(world),
        row_number=1,
        person=world.resident_a,
        area_path=world.resident_a.area_path,
        name="张三峰",
    )
    merges.choose_field_value(
        person=world.resident_a, field="name", record=record, by=world.steward_a
    )


def _confirm(world):
    batch = _upload(world)
    imports.confirm_batch(batch=batch, mapping=batch.mapping, by=world.steward_a)


def _discard(world):
    _upload(world)
    imports.discard_unconfirmed(older_than=timezone.now() + timedelta(minutes=1))


def _export(world):
    batch = _upload(world)
    imports.export_rejected_rows(
        batch=batch, records=SourceRecord.objects.filter(batch=batch), by=world.steward_a
    )


AUDITED = {
    "reveal_person_field": (AuditAction.REVEAL, _reveal),
    "record_person_event": (RegistryAction.VIEW_PERSON, _record_person_event),
    "record_identifier_search": (
        RegistryAction.SEARCH_IDENTIFIER,
        lambda w: people.record_identifier_search(keys={"phone": "0" * 64}, matches=1, by=w.grid_a),
    ),
    "record_person_viewed": (
        RegistryAction.VIEW_PERSON,
        lambda w: people.record_person_viewed(person=w.resident_a, by=w.grid_a),
    ),
    "record_household_viewed": (
        RegistryAction.VIEW_HOUSEHOLD,
        lambda w: people.record_household_viewed(household=w.resident_a.household, by=w.grid_a),
    ),
    "register_person": (RegistryAction.REGISTER_PERSON, _register),
    "create_household": (RegistryAction.CREATE_HOUSEHOLD, _create_household),
    "move_to_household": (RegistryAction.HOUSEHOLD_CHANGE, _move),
    "set_household_head": (RegistryAction.HOUSEHOLD_CHANGE, _set_head),
    "merge_people": (RegistryAction.MERGE, _merge),
    "unmerge": (RegistryAction.UNMERGE, _unmerge),
    "decide_review": (RegistryAction.REVIEW, _decide),
    "choose_field_value": (RegistryAction.CHOOSE_VALUE, _choose),
    "stage_upload": (RegistryAction.UPLOAD_IMPORT, _upload),
    "confirm_batch": (RegistryAction.CONFIRM_IMPORT, _confirm),
    "discard_unconfirmed": (RegistryAction.DISCARD_IMPORT, _discard),
    "export_rejected_rows": (AuditAction.EXPORT, _export),
}

NOT_AUDITED = {
    "address_of": "reads only: the two halves of a dwelling's address",
    "build_person": "pure helper: returns an unsaved Person for imports and the demo",
    "copy_identifier": "pure helper: copies sealed columns between objects in memory",
    "seal_id_number": "pure helper: encrypts and hashes a value in memory",
    "seal_phone": "pure helper: encrypts and hashes a value in memory",
    "store_sealed": "pure helper: sets sealed columns on an object in memory",
    "sync_tag_paths": (
        "a step of merge_people, unmerge and the import run (pipeline.run_batch), which "
        "record the change they are part of"
    ),
}
