"""Merging and unmerging person files, deciding review pairs, choosing a field's value.

Every one of these is audited and reversible: a merge moves the merged file's source records
to the survivor and remembers the survivor's values before, so unmerge restores both files
exactly.
"""

from collections.abc import Callable
from typing import TypeVar

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
ALREADY_DECIDED = _("This pair was already decided.")
ALREADY_MERGED = _("A merged file cannot be merged again.")
ALREADY_UNDONE = _("This merge was already undone.")
# The detail of the event that records a decision refused because another one won the race.
REFUSED_DETAIL = {"refused": "already decided"}

T = TypeVar("T")


class _Lost(Exception):
    """Raised inside a decision's transaction when another decision on the same thing won (a
    double click, or two people at once). The transaction rolls back; the caller then records
    the refusal, outside it, so that the audit log keeps the loser too."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _decide_once(
    work: Callable[[], T],
    *,
    action: str,
    person: Person,
    by: Actor,
    context: AuditContext | None,
    detail: dict,
) -> T:
    """Runs `work` in a transaction; when it lost a race (`_Lost`), records `action` on
    `person` with REFUSED_DETAIL and raises ValidationError. Returns what `work` returns."""
    try:
        with transaction.atomic():
            return work()
    except _Lost as lost:
        record_person_event(
            action, by=by, context=context, person=person, detail={**detail, **REFUSED_DETAIL}
        )
        raise ValidationError(lost.message) from None


def _lock_people(*people: Person) -> list[Person]:
    """Locks the people's rows, always in id order so two decisions on the same pair (in
    either order) wait for each other instead of deadlocking. Returns them fresh, in the
    order given."""
    pks = [p.pk for p in people]
    locked = {
        p.pk: p
        for p in Person.objects.select_for_update(of=("self",)).filter(pk__in=pks).order_by("pk")
    }
    return [locked[pk] for pk in pks]


def _require_resolver(user: Actor, *people: Person) -> None:
    require(user, roles=REGISTRY_STEWARDS, paths=[p.area_path for p in people])


def merge_people(
    *,
    survivor: Person,
    merged: Person,
    by: Actor,
    review: MatchReview | None = None,
    context: AuditContext | None = None,
) -> PersonMerge:
    """Merges `merged` into `survivor`. Returns the merge.

    Raises ValidationError when they cannot be one person (two different valid ID numbers)
    or one of them is already merged (the refusal is recorded: two merges at once, one wins),
    and PermissionDenied."""
    _require_resolver(by, survivor, merged)
    return _decide_once(
        lambda: _merge(survivor=survivor, merged=merged, by=by, review=review, context=context),
        action=RegistryAction.MERGE,
        person=survivor,
        by=by,
        context=context,
        detail={"merged": merged.pk, "survivor": survivor.pk},
    )


def _merge(
    *,
    survivor: Person,
    merged: Person,
    by: Actor,
    review: MatchReview | None,
    context: AuditContext | None,
) -> PersonMerge:
    """The merge itself, in the caller's transaction. Raises _Lost when either file is merged
    already (read under the rows' locks, so a concurrent merge is seen)."""
    if survivor.pk == merged.pk:
        raise ValidationError(ALREADY_MERGED)
    survivor, merged = _lock_people(survivor, merged)
    if survivor.merged_into_id or merged.merged_into_id:
        raise _Lost(str(ALREADY_MERGED))
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


def unmerge(*, merge: PersonMerge, by: Actor, context: AuditContext | None = None) -> Person:
    """Undoes a merge: the survivor gets back its values, the merged file its records.
    Returns the merged file, restored.

    Raises ValidationError if the merge was undone already (also by someone else at the same
    moment: one undo wins, the other is refused and recorded) or a later merge into the same
    survivor is still in place (undo that one first); PermissionDenied.
    """
    return _decide_once(
        lambda: _unmerge(merge=merge, by=by, context=context),
        action=RegistryAction.UNMERGE,
        person=merge.survivor,
        by=by,
        context=context,
        detail={"merged": merge.merged_id, "survivor": merge.survivor_id, "merge": merge.pk},
    )


def _unmerge(*, merge: PersonMerge, by: Actor, context: AuditContext | None) -> Person:
    survivor, merged = _lock_people(merge.survivor, merge.merged)
    _require_resolver(by, survivor, merged)
    # Only one undo wins: the merge is claimed by a conditional update, so a second undo
    # (a double click, or two stewards) finds it undone even if it read it before.
    now = timezone.now()
    claimed = PersonMerge.objects.filter(pk=merge.pk, undone_at__isnull=True).update(
        undone_at=now, undone_by=user_of(by)
    )
    if not claimed:
        raise _Lost(str(ALREADY_UNDONE))
    merge.undone_at, merge.undone_by = now, user_of(by)
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


def decide_review(
    *, review: MatchReview, same_person: bool, by: Actor, context: AuditContext | None = None
) -> MatchReview:
    """Accepting merges the pair (the older file survives); rejecting records the decision.
    Returns the review as decided.

    Raises ValidationError when the review was decided already, also by someone else at the
    same moment: the decision is taken by a conditional update of the pending review, so one
    of two concurrent decisions wins and the other is refused and recorded; PermissionDenied.
    """
    _require_resolver(by, review.left, review.right)
    return _decide_once(
        lambda: _decide(review=review, same_person=same_person, by=by, context=context),
        action=RegistryAction.REVIEW,
        person=review.left,
        by=by,
        context=context,
        detail={"review": review.pk, "same_person": same_person, "other": review.right_id},
    )


def _decide(
    *, review: MatchReview, same_person: bool, by: Actor, context: AuditContext | None
) -> MatchReview:
    now = timezone.now()
    claimed = MatchReview.objects.filter(pk=review.pk, status=ReviewStatus.PENDING).update(
        status=ReviewStatus.ACCEPTED if same_person else ReviewStatus.REJECTED,
        decided_by=user_of(by),
        decided_at=now,
    )
    if not claimed:
        raise _Lost(str(ALREADY_DECIDED))
    if same_person:
        survivor, merged = sorted([review.left, review.right], key=lambda p: p.pk)
        _merge(survivor=survivor, merged=merged, by=by, review=review, context=context)
        review.refresh_from_db()
        return review
    review.status, review.decided_by, review.decided_at = (
        ReviewStatus.REJECTED,
        user_of(by),
        now,
    )
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
