"""Writes to people and households. Identifiers are sealed here and nowhere else."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area, AreaLevel
from linli.areas.selectors import ancestors_of
from linli.audit.models import AuditAction
from linli.audit.services import record_event
from linli.core import identifiers
from linli.core.actors import Actor, AuditContext
from linli.core.idnumbers import IdNumber, parse_id_number
from linli.core.jurisdiction import path_within
from linli.core.masking import mask_id_number, mask_phone
from linli.core.permissions import require
from linli.core.phones import normalise_phone
from linli.core.roles import HOUSEHOLD_EDITORS, policy_for
from linli.registry.models import (
    Household,
    Person,
    PersonTag,
    RegistryAction,
    Relation,
    Residency,
    SourceRecord,
)

ID_KIND = "id"
PHONE_KIND = "phone"
REVEALABLE_FIELDS = ("id_number", "phone")


@dataclass(frozen=True)
class Address:
    building: str  # compound and building, e.g. 翠华小区3号楼
    dwelling: str  # unit and dwelling, e.g. 2单元501室


def address_of(dwelling: Area) -> Address:
    """Returns the two halves of a dwelling's address (the first can be shown masked)."""
    names = {area.level: area.name for area in [*ancestors_of(dwelling), dwelling]}
    return Address(
        building=names.get(AreaLevel.COMPOUND, "") + names.get(AreaLevel.BUILDING, ""),
        dwelling=names.get(AreaLevel.UNIT, "") + names.get(AreaLevel.DWELLING, ""),
    )


def seal_id_number(raw: str) -> tuple[identifiers.SealedIdentifier, IdNumber]:
    """Returns the sealed ID number with what it encodes (birth date, sex, region).

    Raises InvalidIdNumber (linli.core.idnumbers).
    """
    parsed = parse_id_number(raw)
    return identifiers.seal(ID_KIND, parsed.value, mask_id_number(parsed.value)), parsed


def seal_phone(raw: str) -> identifiers.SealedIdentifier:
    """Returns the sealed, normalised phone. Raises InvalidPhone."""
    phone = normalise_phone(raw)
    return identifiers.seal(PHONE_KIND, phone, mask_phone(phone))


IDENTIFIER_COLUMNS = ("encrypted", "hash", "masked")


def store_sealed(
    obj: Person | SourceRecord, field: str, sealed: identifiers.SealedIdentifier
) -> None:
    """Sets a person's or a source record's sealed identifier (`id_number` or `phone`) and
    what derives from it (a person's phone tail, searched by index)."""
    setattr(obj, f"{field}_encrypted", sealed.encrypted)
    setattr(obj, f"{field}_hash", sealed.hashed)
    setattr(obj, f"{field}_masked", sealed.masked)
    if field == "phone" and hasattr(obj, "phone_tail"):
        obj.phone_tail = sealed.masked[-4:]


def copy_identifier(target: Person, source: Person | SourceRecord, field: str) -> None:
    """Copies a sealed identifier from a record or person to a person (never decrypted)."""
    for column in IDENTIFIER_COLUMNS:
        setattr(target, f"{field}_{column}", getattr(source, f"{field}_{column}"))
    if field == "phone":
        target.phone_tail = source.phone_masked[-4:]
    else:
        target.region_code = source.region_code


def build_person(
    *,
    name: str,
    id_number: str = "",
    phone: str = "",
    dwelling: Area | None = None,
    address: Address | None = None,
    residency: str = Residency.REGISTERED,
    has_smartphone: bool = True,
    household: Household | None = None,
    relation_to_head: str = "",
    sex: str = "",
    birth_date: date | None = None,
) -> Person:
    """Returns an unsaved Person with sealed identifiers (for bulk creation and imports).

    `address` may be passed when the caller already computed it for the dwelling.
    Raises InvalidIdNumber or InvalidPhone on bad identifiers.
    """
    person = Person(
        name=name.strip(),
        residency=residency,
        has_smartphone=has_smartphone,
        household=household,
        relation_to_head=relation_to_head,
        sex=sex,
        birth_date=birth_date,
    )
    if id_number:
        sealed, parsed = seal_id_number(id_number)
        person.birth_date, person.sex, person.region_code = (
            parsed.birth_date,
            parsed.sex,
            parsed.region_code,
        )
        store_sealed(person, "id_number", sealed)
    if phone:
        store_sealed(person, "phone", seal_phone(phone))
    if dwelling is not None:
        if dwelling.level != AreaLevel.DWELLING:
            raise ValidationError({"dwelling": _("The address must be a dwelling.")})
        address = address or address_of(dwelling)
        person.dwelling = dwelling
        person.area_path = dwelling.path
        person.address_building = address.building
        person.address_dwelling = address.dwelling
    return person


@transaction.atomic
def register_person(
    *,
    name: str,
    id_number: str = "",
    phone: str = "",
    dwelling: Area | None = None,
    household: Household | None = None,
    relation_to_head: str = "",
    residency: str = Residency.REGISTERED,
    has_smartphone: bool = True,
    tags: Iterable[str] = (),
    by: Actor | None,
    context: AuditContext | None = None,
) -> Person:
    """Creates a person (fields as in build_person) with their vulnerable tags and records it.

    `by` is None when no one signed in did it (a command, the demo). Raises InvalidIdNumber,
    InvalidPhone or ValidationError (build_person)."""
    person = build_person(
        name=name,
        id_number=id_number,
        phone=phone,
        dwelling=dwelling,
        household=household,
        relation_to_head=relation_to_head,
        residency=residency,
        has_smartphone=has_smartphone,
    )
    person.save()
    _replace_tags(person, list(tags))
    record_person_event(RegistryAction.REGISTER_PERSON, person=person, by=by, context=context)
    return person


def _replace_tags(person: Person, tags: list[str]) -> None:
    PersonTag.objects.filter(person=person).exclude(tag__in=tags).delete()
    existing = set(PersonTag.objects.filter(person=person).values_list("tag", flat=True))
    PersonTag.objects.bulk_create(
        [
            PersonTag(person=person, tag=t, area_path=person.area_path)
            for t in tags
            if t not in existing
        ]
    )


def sync_tag_paths(person_ids: Iterable[int]) -> None:
    """Moves vulnerable tags with their people (a tag is counted where its person lives).

    A step of the merge and import services, which record the change themselves."""
    PersonTag.objects.filter(person_id__in=list(person_ids)).update(
        area_path=Subquery(Person.objects.filter(pk=OuterRef("person_id")).values("area_path")[:1])
    )


@transaction.atomic
def create_household(
    *,
    dwelling: Area,
    address: Address | None = None,
    by: Actor | None,
    context: AuditContext | None = None,
) -> Household:
    """Creates an empty household at a dwelling and records it. `by` is None when no one
    signed in did it (a command, the demo)."""
    household = _new_household(dwelling, address)
    _record_household_event(
        RegistryAction.CREATE_HOUSEHOLD, household=household, by=by, context=context
    )
    return household


def _new_household(dwelling: Area, address: Address | None = None) -> Household:
    address = address or address_of(dwelling)
    return Household.objects.create(
        dwelling=dwelling,
        area_path=dwelling.path,
        address_building=address.building,
        address_dwelling=address.dwelling,
    )


def _record_household_event(
    action: str,
    *,
    household: Household,
    by: Actor | None,
    context: AuditContext | None,
    detail: dict[str, Any] | None = None,
) -> None:
    record_event(
        action=action,
        actor=by,
        context=context,
        subject=household,
        detail=detail,
    )


def reveal_person_field(
    *, person: Person, field: str, purpose: str, by: Actor, context: AuditContext | None = None
) -> str:
    """Returns the full value of an identifier and writes an audit record.

    Raises PermissionDenied when the user may not reveal, the person is outside their
    jurisdiction, or the purpose is not one of the listed purposes; ValidationError when the
    field is not revealable or holds no value.
    """
    if not policy_for(by).may_reveal or not path_within(person.area_path, by):
        raise PermissionDenied(_("You are not allowed to reveal full identifiers."))
    if purpose not in {key for key, _label in settings.LINLI_REVEAL_PURPOSES}:
        raise PermissionDenied(_("Choose one of the listed purposes."))
    if field not in REVEALABLE_FIELDS:
        raise ValidationError(_("%(field)s cannot be revealed."), params={"field": field})
    token = getattr(person, f"{field}_encrypted")
    if not token:
        raise ValidationError(_("No value is recorded."))
    value = identifiers.decrypt(token)
    record_event(
        action=AuditAction.REVEAL,
        actor=by,
        context=context,
        subject=person,
        object_label=getattr(person, f"{field}_masked"),
        field=field,
        purpose=purpose,
    )
    return value


def record_person_event(
    action: str,
    *,
    person: Person,
    by: Actor | None,
    context: AuditContext | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Appends an audit event about a person, labelled by their masked identifier (the
    building block of every service that changes or shows a person; `by` is None when no one
    signed in acted, e.g. a resident answering by link)."""
    record_event(
        action=action,
        actor=by,
        context=context,
        subject=person,
        detail=detail,
    )


def record_person_viewed(*, person: Person, by: Actor, context: AuditContext | None = None) -> None:
    """Appends a 'opened a person's file' event (PIPL: who looked at whose data)."""
    record_person_event(RegistryAction.VIEW_PERSON, person=person, by=by, context=context)


# How much of a search's keyed hash the audit log keeps: enough to see that two searches
# were for the same number, never the number (the hash is keyed; a prefix cannot be reversed).
SEARCH_KEY_PREFIX = 12


def record_identifier_search(
    *,
    keys: dict[str, str],
    matches: int,
    by: Actor,
    area: Area | None = None,
    context: AuditContext | None = None,
) -> bool:
    """Appends a 'searched by a full ID number or phone' event when the search had one.

    `keys` maps the fields searched in full ("id_number", "phone") to their keyed hashes
    (selectors.identifier_search_keys); the event keeps the fields, a short prefix of each
    hash and the number of matches, never the identifier. It is filed under the area searched
    (else the searcher's first area), so that area's audit log shows it. Returns
    whether an event was written (not for searches by name, masked ID or last four digits)."""
    if not keys:
        return False
    area_path = area.path if area is not None else next(iter(by.jurisdiction_paths), "")
    record_event(
        action=RegistryAction.SEARCH_IDENTIFIER,
        actor=by,
        context=context,
        # The log page shows the field searched by its label; both: the action says enough.
        field=next(iter(keys)) if len(keys) == 1 else "",
        area_path=area_path,
        detail={
            "fields": sorted(keys),
            "keys": {field: key[:SEARCH_KEY_PREFIX] for field, key in sorted(keys.items())},
            "matches": matches,
        },
    )
    return True


def record_household_viewed(
    *, household: Household, by: Actor, context: AuditContext | None = None
) -> None:
    """Appends an 'opened a household's file' event."""
    _record_household_event(
        RegistryAction.VIEW_HOUSEHOLD, household=household, by=by, context=context
    )


# ---------------------------------------------------------------------------------------------
# Correcting households by hand


def _require_household_editor(by: Actor, *paths: str) -> None:
    require(by, roles=HOUSEHOLD_EDITORS, paths=paths)


def _lock_dwelling(dwelling_id: int | None) -> None:
    """Serialises the corrections of one dwelling's households: two editors moving people or
    naming heads in the same dwelling at once wait for each other, and each then reads the
    households as the other left them (two heads, or a head outside their household, were
    possible otherwise). Every household of a correction lies in one dwelling."""
    if dwelling_id is not None:
        list(Area.objects.select_for_update().filter(pk=dwelling_id).values_list("pk"))


@transaction.atomic
def move_to_household(
    *,
    person: Person,
    household: Household | None,
    relation: str,
    by: Actor,
    context: AuditContext | None = None,
) -> Household:
    """Moves a person into another household of the same dwelling, or into a new household of
    their own (household=None), with their relation to its head. Returns the household.

    A household left without members is kept (its history stays); one left without its head
    gets the eldest remaining member as head.
    """
    _require_household_editor(by, person.area_path, *([household.area_path] if household else []))
    _lock_dwelling(person.dwelling_id)
    # Read again under the lock: what another correction changed meanwhile counts.
    person.refresh_from_db()
    if household is not None:
        household.refresh_from_db()
    previous = person.household
    if household is not None and household.dwelling_id != person.dwelling_id:
        raise ValidationError(_("Only a household of the same dwelling can be joined."))
    if person.dwelling is None:
        raise ValidationError(_("This person has no dwelling."))
    if household is None:
        # Recorded below as the move's household change, not as a creation of its own.
        household = _new_household(person.dwelling)
        household.head = person
        household.save(update_fields=["head"])
        relation = Relation.HEAD
    person.household = household
    person.relation_to_head = relation
    person.save(update_fields=["household", "relation_to_head"])
    if previous is not None and previous.head_id == person.pk and previous.pk != household.pk:
        eldest = (
            Person.objects.filter(household=previous, merged_into__isnull=True)
            .order_by("birth_date", "id")
            .first()
        )
        previous.head = eldest
        previous.save(update_fields=["head"])
        if eldest is not None:
            Person.objects.filter(pk=eldest.pk).update(relation_to_head=Relation.HEAD)
    record_person_event(
        RegistryAction.HOUSEHOLD_CHANGE,
        person=person,
        by=by,
        context=context,
        detail={"from": previous.pk if previous else None, "to": household.pk},
    )
    return household


@transaction.atomic
def set_household_head(
    *, household: Household, person: Person, by: Actor, context: AuditContext | None = None
) -> Household:
    """Makes a member the head of their household (the former head becomes other_relative
    until someone says better)."""
    _require_household_editor(by, household.area_path)
    _lock_dwelling(household.dwelling_id)
    # Read again under the lock: the head another correction named meanwhile is the one
    # that steps down.
    household.refresh_from_db()
    person.refresh_from_db()
    if person.household_id != household.pk:
        raise ValidationError(_("The head must be a member of the household."))
    if household.head_id and household.head_id != person.pk:
        Person.objects.filter(pk=household.head_id).update(relation_to_head=Relation.OTHER_RELATIVE)
    household.head = person
    household.save(update_fields=["head"])
    Person.objects.filter(pk=person.pk).update(relation_to_head=Relation.HEAD)
    _record_household_event(
        RegistryAction.HOUSEHOLD_CHANGE,
        household=household,
        by=by,
        context=context,
        detail={"head": person.pk},
    )
    return household
