"""Which value a person file shows, and where it came from.

Every imported row is a SourceRecord; a person's shown value for each field comes from one of
their records: the most authoritative source (SOURCE_PRIORITY), then the newest; a steward's
explicit choice outranks both. `Person.field_sources` remembers, per field, the record, its
priority and when it was taken, so later imports and merges compare against it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from linli.registry.models import SOURCE_PRIORITY, Person, SourceRecord
from linli.registry.services.people import address_of as default_address_of
from linli.registry.services.people import copy_identifier

STEWARD_PRIORITY = 100

# Fields chosen from records, and the Person columns each one sets.
CHOSEN_FIELDS = ("name", "id_number", "phone", "sex", "birth_date", "residency", "dwelling")
CHOSEN_COLUMNS = (
    "name",
    "sex",
    "birth_date",
    "id_number_encrypted",
    "id_number_hash",
    "id_number_masked",
    "region_code",
    "phone_encrypted",
    "phone_hash",
    "phone_masked",
    "phone_tail",
    "residency",
    "dwelling",
    "area_path",
    "address_building",
    "address_dwelling",
    "relation_to_head",
    "field_sources",
)


def record_value(record: SourceRecord, name: str) -> object:
    """Returns the record's value for a chosen field (identifiers by keyed hash), or None."""
    if name == "id_number":
        return record.id_number_hash or None
    if name == "phone":
        return record.phone_hash or None
    if name == "dwelling":
        return record.dwelling_id
    return getattr(record, name) or None


def outranks(current: dict | None, priority: int, when: str) -> bool:
    """Returns whether a value from a source of `priority` taken at `when` replaces the one a
    person shows now (`current` is its field_sources entry): a more authoritative source
    wins, then the newer one; nothing replaces a steward's choice but another."""
    return current is None or (current["priority"], current["at"]) <= (priority, when)


def apply_record(
    person: Person,
    record: SourceRecord,
    *,
    priority: int,
    when: str,
    only: str = "",
    address_of: Callable | None = None,
) -> None:
    """Takes the record's values for the fields where it outranks the person's current source.

    With `only`, considers that one field (a steward's choice). `address_of` turns a dwelling
    into its Address (imports pass one that reads the tree already in memory). The source is
    remembered as (batch, row) so people can be written before their records.
    """
    if address_of is None:
        address_of = default_address_of

    for name in (only,) if only else CHOSEN_FIELDS:
        if record_value(record, name) is None:
            continue
        if not outranks(person.field_sources.get(name), priority, when):
            continue
        if name in ("id_number", "phone"):
            copy_identifier(person, record, name)
        elif name == "dwelling":
            person.dwelling = record.dwelling
            person.area_path = record.dwelling.path
            address = address_of(record.dwelling)
            person.address_building, person.address_dwelling = address.building, address.dwelling
        else:
            setattr(person, name, record_value(record, name))
        person.field_sources[name] = {
            "batch": record.batch_id,
            "row": record.row_number,
            "priority": priority,
            "at": when,
        }
    if record.relation and not person.relation_to_head:
        person.relation_to_head = record.relation


def snapshot(person: Person) -> dict:
    """Returns the person's chosen columns, to restore them when a merge is undone."""
    values = {}
    for column in CHOSEN_COLUMNS:
        attname = "dwelling_id" if column == "dwelling" else column
        value = getattr(person, attname)
        values[attname] = value.isoformat() if hasattr(value, "isoformat") else value
    return values


def restore(person: Person, values: dict) -> None:
    from datetime import date

    for attname, value in values.items():
        if attname == "birth_date" and value:
            value = date.fromisoformat(value)
        setattr(person, attname, value)


@dataclass(frozen=True)
class SourceValue:
    record_id: int
    source: str  # source name
    kind_priority: int
    batch_file: str
    row_number: int
    imported_at: str
    value: str  # as the viewer may see it (identifiers masked)
    chosen: bool


@dataclass(frozen=True)
class FieldProvenance:
    field: str
    shown: str
    values: list[SourceValue]

    @property
    def conflict(self) -> bool:
        return len({v.value for v in self.values}) > 1


def priority_of(record: SourceRecord) -> int:
    return SOURCE_PRIORITY.get(record.batch.source.kind, 0)
