"""Merging and unmerging person files, deciding review pairs, choosing a field's value.

Every one of these is audited and reversible: a merge moves the merged file's source records
to the survivor and remembers the survivor's values before, so unmerge restores both files
exactly.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.accounts.selectors import user_of
from linli.core.actors import Actor, AuditContext
from linli.core.permissions import require
from linli.core.roles import REGISTRY_STEWARDS
from linli.registry.models import (
    Household,
    MatchReview,
    Person,
    PersonMerge,
    PersonTag,
    RegistryAction,
    ReviewStatus,
    SourceRecord,
)
from linli.registry.provenance import (
    CHOSEN_COLUMNS,
    CHOSEN_FIELDS,
    STEWARD_PRIORITY,
    apply_record,
    priority_of,
    restore,
    snapshot,
)
from linli.registry.services.people import copy_identifier, record_person_event, sync_tag_paths

NOT_A_SOURCE_VALUE = _("Not a value of this person's sources.")


def _require_resolver(user: Actor, *people: Person) -> None:
    require(user, roles=REGISTRY_STEWARDS, paths=[p.area_path for p in people])


@transaction.atomic
def merge_people(
    *,
    survivor: Person,
    merged: Person,
    by: Actor,
    review: MatchReview | None = None,
    context: AuditContext | None = None,
) -> PersonMerge:
    """Merges `merged` into `survivor`. Raises ValidationError when they cannot be one person
    (two different valid ID numbers, one already merged) and PermissionDenied."""
    _require_resolver(by, survivor, merged)
    survivor, merged = (
        Person.objects.select_for_update().get(pk=survivor.pk),
        Person.objects.select_for_update().get(pk=merged.pk),
    )
    if survivor.pk == merged.pk or survivor.merged_into_id or merged.merged_into_id:
        raise ValidationError(_("A merged file cannot be merged again."))
    ids = {survivor.id_number_hash, merged.id_number_hash} - {""}
    if len(ids) > 1:
        raise ValidationError(_("The two files have different ID numbers: not the same person."))
    before = snapshot(survivor)
    records = list(
        SourceRecord.objects.filter(person=merged).select_related("batch__source", "dwelling")
    )
    for record in sorted(records, key=lambda r: (priority_of(r), r.batch.created_at)):
        apply_record(
            survivor, record, priority=priority_of(record), when=record.batch.created_at.isoformat()
        )
    _fill_gaps(survivor, merged)
    survivor.save(update_fields=list(CHOSEN_COLUMNS))
    SourceRecord.objects.filter(pk__in=[r.pk for r in records]).update(person=survivor)
    have = set(PersonTag.objects.filter(person=survivor).values_list("tag", flat=True))
    added = [t for t in merged.tags.values_list("tag", flat=True) if t not in have]
    PersonTag.objects.bulk_create(
        [PersonTag(person=survivor, tag=t, area_path=survivor.area_path) for t in added]
    )
    household_before = _take_over_household(survivor, merged)
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into"])
    sync_tag_paths([survivor.pk])
    if review is not None:
        review.status, review.decided_by, review.decided_at = (
            ReviewStatus.ACCEPTED,
            user_of(by),
            timezone.now(),
        )
        review.save(update_fields=["status", "decided_by", "decided_at"])
    merge = PersonMerge.objects.create(
        survivor=survivor,
        merged=merged,
        area_path=survivor.area_path,
        record_ids=[r.pk for r in records],
        survivor_before={**before, "_tags_added": added, "_household": household_before},
        review=review,
        merged_by=user_of(by),
    )
    record_person_event(
        RegistryAction.MERGE,
        by=by,
        context=context,
        person=survivor,
        detail={"merged": merged.pk, "survivor": survivor.pk, "merge": merge.pk},
    )
    return merge


def _take_over_household(survivor: Person, merged: Person) -> dict:
    """The survivor takes the merged file's place in its household when it has none; a
    household the merged file headed gets the survivor (or its eldest member) as head.
    Returns what unmerge needs to put back."""
    household = merged.household
    before = {
        "survivor_household": survivor.household_id,
        "survivor_relation": survivor.relation_to_head,
        "merged_household": merged.household_id,
        "merged_headed": bool(household and household.head_id == merged.pk),
    }
    if household is None:
        return before
    if survivor.household_id is None:
        survivor.household = household
        survivor.relation_to_head = merged.relation_to_head
        survivor.save(update_fields=["household", "relation_to_head"])
    if household.head_id == merged.pk:
        if survivor.household_id == household.pk:
            household.head = survivor
        else:
            household.head = (
                Person.objects.filter(household=household, merged_into__isnull=True)
                .exclude(pk=merged.pk)
                .order_by("birth_date", "id")
                .first()
            )
        household.save(update_fields=["head"])
    return before


def _give_back_household(survivor: Person, merged: Person, before: dict | None) -> None:
    if not before:
        return
    survivor.household_id = before["survivor_household"]
    survivor.relation_to_head = before["survivor_relation"]
    survivor.save(update_fields=["household", "relation_to_head"])
    if before["merged_headed"] and before["merged_household"]:
        Household.objects.filter(pk=before["merged_household"]).update(head=merged)


def _fill_gaps(survivor: Person, merged: Person) -> None:
    """Fields the survivor lacks and no record supplied are taken from the merged file."""
    for name in CHOSEN_FIELDS:
        if name in survivor.field_sources:
            continue
        if name in ("id_number", "phone"):
            if not getattr(survivor, f"{name}_hash") and getattr(merged, f"{name}_hash"):
                copy_identifier(survivor, merged, name)
        elif name == "dwelling":
            if survivor.dwelling_id is None and merged.dwelling_id is not None:
                survivor.dwelling_id = merged.dwelling_id
                survivor.area_path = merged.area_path
                survivor.address_building = merged.address_building
                survivor.address_dwelling = merged.address_dwelling
        elif not getattr(survivor, name) and getattr(merged, name):
            setattr(survivor, name, getattr(merged, name))


@transaction.atomic
def unmerge(*, merge: PersonMerge, by: Actor, context: AuditContext | None = None) -> Person:
    """Undoes a merge: the survivor gets back its values, the merged file its records.

    Raises ValidationError if the merge was undone already or a later merge into the same
    survivor is still in place (undo that one first).
    """
    survivor = Person.objects.select_for_update().get(pk=merge.survivor_id)
    merged = Person.objects.select_for_update().get(pk=merge.merged_id)
    _require_resolver(by, survivor, merged)
    if merge.undone_at:
        raise ValidationError(_("This merge was already undone."))
    if survivor.merged_into_id:
        raise ValidationError(_("This file was merged into another one: undo that merge first."))
    later = PersonMerge.objects.filter(
        survivor=survivor, undone_at__isnull=True, merged_at__gt=merge.merged_at
    ).exists()
    if later:
        raise ValidationError(_("Undo the later merge first."))
    values = dict(merge.survivor_before)
    added = values.pop("_tags_added", [])
    household_before = values.pop("_household", None)
    later_choices = {
        name: source
        for name, source in survivor.field_sources.items()
        if source.get("priority") == STEWARD_PRIORITY
    }
    SourceRecord.objects.filter(pk__in=merge.record_ids).update(person=merged)
    restore(survivor, values)
    # What happened to the survivor after the merge stays: rows imported since, and a
    # steward's choices among its own records.
    remaining = SourceRecord.objects.filter(person=survivor).select_related(
        "batch__source", "dwelling"
    )
    for record in remaining.filter(batch__created_at__gt=merge.merged_at):
        apply_record(
            survivor,
            record,
            priority=priority_of(record),
            when=record.batch.created_at.isoformat(),
        )
    for name, source in later_choices.items():
        record = remaining.filter(
            batch_id=source.get("batch"), row_number=source.get("row")
        ).first()
        if record is not None:
            apply_record(survivor, record, priority=STEWARD_PRIORITY, when=source["at"], only=name)
    survivor.save(update_fields=list(CHOSEN_COLUMNS))
    _give_back_household(survivor, merged, household_before)
    sync_tag_paths([survivor.pk, merged.pk])
    PersonTag.objects.filter(person=survivor, tag__in=added).delete()
    merged.merged_into = None
    merged.save(update_fields=["merged_into"])
    merge.undone_at, merge.undone_by = timezone.now(), user_of(by)
    merge.save(update_fields=["undone_at", "undone_by"])
    if merge.review_id:
        MatchReview.objects.filter(pk=merge.review_id).update(status=ReviewStatus.PENDING)
    record_person_event(
        RegistryAction.UNMERGE,
        by=by,
        context=context,
        person=survivor,
        detail={"merged": merged.pk, "survivor": survivor.pk, "merge": merge.pk},
    )
    return merged


@transaction.atomic
def decide_review(
    *, review: MatchReview, same_person: bool, by: Actor, context: AuditContext | None = None
) -> MatchReview:
    """Accepting merges the pair (the older file survives); rejecting records the decision."""
    if review.status != ReviewStatus.PENDING:
        raise ValidationError(_("This pair was already decided."))
    _require_resolver(by, review.left, review.right)
    if same_person:
        survivor, merged = sorted([review.left, review.right], key=lambda p: p.pk)
        merge_people(survivor=survivor, merged=merged, by=by, review=review, context=context)
        review.refresh_from_db()
        return review
    review.status, review.decided_by, review.decided_at = (
        ReviewStatus.REJECTED,
        user_of(by),
        timezone.now(),
    )
    review.save(update_fields=["status", "decided_by", "decided_at"])
    record_person_event(
        RegistryAction.REVIEW,
        by=by,
        context=context,
        person=review.left,
        detail={"review": review.pk, "same_person": False, "other": review.right_id},
    )
    return review


@transaction.atomic
def choose_field_value(
    *,
    person: Person,
    field: str,
    record: SourceRecord,
    by: Actor,
    context: AuditContext | None = None,
) -> Person:
    """A steward picks which source's value the file shows for one field."""
    _require_resolver(by, person)
    if field not in CHOSEN_FIELDS or record.person_id != person.pk:
        raise ValidationError(NOT_A_SOURCE_VALUE)
    apply_record(
        person, record, priority=STEWARD_PRIORITY, when=timezone.now().isoformat(), only=field
    )
    person.save(update_fields=list(CHOSEN_COLUMNS))
    record_person_event(
        RegistryAction.CHOOSE_VALUE,
        by=by,
        context=context,
        person=person,
        detail={"field": field, "record": record.pk},
    )
    return person
