"""Writing an import batch into the registry: source records, dwellings, people, households
and review pairs.

Everything here works on tuples and small dicts, never on a model instance per row: building
50,000 SourceRecord and Person instances cost more than writing them. The rules are the ones
the rest of the registry uses (linli.registry.provenance decides which source's value a person
shows; linli.core.bulkload loads the rows).

On PostgreSQL the source records are COPYed into a staging table as soon as the rows are
normalised (before matching, outside the import's transaction); the transaction then adds
what matching and placement decided (person, dwelling, area) with one set-based INSERT …
SELECT. Elsewhere the rows wait in memory and are inserted directly.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.utils import timezone

from linli.areas.models import Area
from linli.core import identifiers
from linli.core.bulkload import (
    StagedRows,
    allocate_ids,
    fields_of,
    insert_tuples,
    stamp_value,
    update_tuples,
)
from linli.core.masking import mask_id_number, mask_phone
from linli.registry.importing.placement import DwellingIndex
from linli.registry.importing.records import AddressParts, CleanRow, RowError
from linli.registry.matching.records import LinkResult
from linli.registry.models import (
    Household,
    ImportBatch,
    MatchReview,
    Person,
    Relation,
    SourceRecord,
)
from linli.registry.provenance import CHOSEN_COLUMNS, outranks
from linli.registry.services.people import ID_KIND, PHONE_KIND, sync_tag_paths

SealedIdentifier = identifiers.SealedIdentifier


@dataclass(slots=True)
class Staged:
    """One accepted or rejected row between reading and writing."""

    row_number: int
    clean: CleanRow | None
    errors: list[RowError]
    raw: dict[str, str] | None = None  # the cells as the file had them: rejected rows only
    id_number: SealedIdentifier | None = None  # sealed by seal_rows
    phone: SealedIdentifier | None = None


def seal_rows(staged: Sequence[Staged]) -> None:
    """Seals each accepted row's ID number and phone (encrypted, keyed hash, masked).

    One seal per distinct value in the batch: a household's phone sealed once for all its
    members. Equal ciphertexts for equal values reveal nothing the keyed hash beside them
    does not already reveal, and each encryption still has its own random nonce.
    """
    ids: dict[str, SealedIdentifier] = {}
    phones: dict[str, SealedIdentifier] = {}

    def sealed(cache: dict[str, SealedIdentifier], kind: str, value: str, mask) -> SealedIdentifier:
        known = cache.get(value)
        if known is None:
            known = cache[value] = identifiers.seal(kind, value, mask(value))
        return known

    for s in staged:
        clean = s.clean
        if clean is None:
            continue
        if clean.id_number:
            s.id_number = sealed(ids, ID_KIND, clean.id_number, mask_id_number)
        if clean.phone:
            s.phone = sealed(phones, PHONE_KIND, clean.phone, mask_phone)


# ---------------------------------------------------------------------------------------------
# Source records

# What a row says, known before matching (staged first on PostgreSQL) …
RECORD_COLUMNS = (
    "row_number", "accepted", "errors", "raw_encrypted", "name",
    "id_number_encrypted", "id_number_hash", "id_number_masked", "id_problem", "birth_date",
    "sex", "region_code", "phone_encrypted", "phone_hash", "phone_masked", "address_text",
    "residency", "relation", "household_number",
)  # fmt: skip
# … what matching and placement decide …
PLACED_COLUMNS = ("person_id", "dwelling_id", "area_path")


# … and what every row of the batch shares.
def batch_constants(batch: ImportBatch) -> dict[str, object]:
    return {"batch_id": batch.pk, "match_method": "", "match_probability": None}


_NO_ERRORS = "[]"
_NOT_SEALED = ("", "", "")


def _errors_text(errors: list[RowError]) -> str:
    return json.dumps([e.as_record() for e in errors], ensure_ascii=False)


# Parsed addresses are shared objects (parse_address is cached): cached in turn.
@lru_cache(maxsize=65536)
def _address_text(a: AddressParts) -> str:
    return f"{a.compound}{a.building}{a.unit}{a.room}"[:200]


def record_rows(staged: Iterable[Staged]) -> Iterable[tuple]:
    """Yields each row's RECORD_COLUMNS values. Rejected rows keep their errors and their
    cells (encrypted: the department's file is deleted once imported, and the steward hands
    the rejected rows back); accepted rows keep their warnings and never a copy of the raw
    row (their values are in the columns, identifiers sealed)."""
    for s in staged:
        clean = s.clean
        if clean is None:
            raw = identifiers.encrypt(json.dumps(s.raw or {}, ensure_ascii=False))
            yield (
                s.row_number, False, _errors_text(s.errors), raw, "",
                "", "", "", "", None, "", "", "", "", "", "", "", "", "",
            )  # fmt: skip
            continue
        i, p = s.id_number, s.phone
        yield (
            s.row_number, True, _errors_text(clean.warnings) if clean.warnings else _NO_ERRORS,
            "", clean.name,
            *((i.encrypted, i.hashed, i.masked) if i else _NOT_SEALED),
            clean.id_problem, clean.birth_date, clean.sex, clean.region_code,
            *((p.encrypted, p.hashed, p.masked) if p else _NOT_SEALED),
            _address_text(clean.address), clean.residency, clean.relation, clean.household_number,
        )  # fmt: skip


def stage_records(batch: ImportBatch, staged: Sequence[Staged]) -> StagedRows:
    """Loads the batch's source records ahead of the transaction (see the module's note)."""
    return StagedRows(
        SourceRecord,
        RECORD_COLUMNS,
        key="row_number",
        rows=record_rows(staged),
        constants=batch_constants(batch),
    )


# ---------------------------------------------------------------------------------------------
# People


@dataclass(slots=True)
class PersonDraft:
    """A person's chosen columns while the batch is written (a dict per person would do; the
    slots keep 20,000 of them small and the attribute names checked)."""

    pk: int
    values: dict[str, object]  # CHOSEN_COLUMNS by attname, as the database takes them
    # field_sources: an entry as stored, or the row number for a value this batch gave
    # (written out by _BatchSource.json).
    sources: dict[str, dict | int]
    new: bool
    household_number: str = ""
    changed: bool = False  # an existing person this batch gave a value: to be written back


@dataclass(frozen=True)
class _BatchSource:
    """The source entry of every value one batch gives: the same but for the row."""

    batch: int
    priority: int
    when: str

    def replaces(self, current: dict | int | None) -> bool:
        # A row number is an earlier row of this batch: same source, same time, so the later
        # row's value is taken (as apply_record does).
        return isinstance(current, int) or outranks(current, self.priority, self.when)

    def entry(self, row: int) -> dict:
        return {"batch": self.batch, "row": row, "priority": self.priority, "at": self.when}

    def json(self, sources: dict[str, dict | int]) -> str:
        """Returns field_sources as JSON text. A new person's entries are all of this batch and
        are formatted directly: json.dumps of 20,000 nested dicts costs more than writing the
        people (field names and the ISO time need no escaping)."""
        if all(isinstance(entry, int) for entry in sources.values()):
            return (
                "{"
                + ", ".join(
                    f'"{name}": {{"batch": {self.batch}, "row": {row}, '
                    f'"priority": {self.priority}, "at": "{self.when}"}}'
                    for name, row in sources.items()
                )
                + "}"
            )
        return json.dumps(
            {
                name: self.entry(entry) if isinstance(entry, int) else entry
                for name, entry in sources.items()
            },
            ensure_ascii=False,
        )


_CHOSEN_ATTNAMES = tuple("dwelling_id" if c == "dwelling" else c for c in CHOSEN_COLUMNS)


def _take(
    draft: PersonDraft, s: Staged, dwelling: Area | None, source: _BatchSource, index: DwellingIndex
) -> None:
    """Takes the row's values for the fields where its source outranks the person's current
    one (the rule of provenance.apply_record, on plain values)."""
    clean = s.clean
    values, sources = draft.values, draft.sources
    offered = (
        ("name", clean.name),
        ("id_number", s.id_number),
        ("phone", s.phone),
        ("sex", clean.sex),
        ("birth_date", clean.birth_date),
        ("residency", clean.residency),
        ("dwelling", dwelling),
    )
    for name, value in offered:
        if not value or not source.replaces(sources.get(name)):
            continue
        if name == "id_number":
            values["id_number_encrypted"], values["id_number_hash"] = value.encrypted, value.hashed
            values["id_number_masked"] = value.masked
            values["region_code"] = clean.region_code
        elif name == "phone":
            values["phone_encrypted"], values["phone_hash"] = value.encrypted, value.hashed
            values["phone_masked"], values["phone_tail"] = value.masked, value.masked[-4:]
        elif name == "dwelling":
            address = index.address_of(value)
            values["dwelling_id"], values["area_path"] = value.pk, value.path
            values["address_building"] = address.building
            values["address_dwelling"] = address.dwelling
        else:
            values[name] = value
        sources[name] = s.row_number
        draft.changed = True
    if clean.relation and not values["relation_to_head"]:
        values["relation_to_head"] = clean.relation
        draft.changed = True


def _new_values(area_path: str) -> dict[str, object]:
    """Returns a new person's chosen columns: the model's defaults, at the batch's area."""
    values = {f.attname: f.get_default() for f in fields_of(Person, _CHOSEN_ATTNAMES[:-1])}
    values["area_path"] = area_path
    return values


def _existing_drafts(person_ids: Iterable[int]) -> dict[int, PersonDraft]:
    drafts = {}
    for row in Person.objects.filter(pk__in=list(person_ids)).values_list("pk", *_CHOSEN_ATTNAMES):
        values = dict(zip(_CHOSEN_ATTNAMES, row[1:], strict=True))
        sources = values.pop("field_sources") or {}
        drafts[row[0]] = PersonDraft(pk=row[0], values=values, sources=sources, new=False)
    return drafts


# ---------------------------------------------------------------------------------------------
# The batch


@dataclass(frozen=True)
class Written:
    new_people: int
    review_pairs: int


def write_batch(
    batch: ImportBatch,
    staged: Sequence[Staged],
    records: StagedRows,
    index: DwellingIndex,
    result: LinkResult,
    *,
    priority: int,
) -> Written:
    """Writes the batch (inside the import's transaction): dwellings the file reveals, new
    people, the chosen values of people it adds to, households, the source records and the
    pairs for review."""
    accepted = [s for s in staged if s.clean is not None]
    placed = index.place_all([s.clean.address for s in accepted])
    dwelling_of = {s.row_number: d for s, d in zip(accepted, placed, strict=True)}
    staged_of = {s.row_number: s for s in accepted}

    clusters: dict[str, list[int]] = defaultdict(list)  # cluster → row numbers
    existing_of: dict[str, int] = {}
    for key, cluster in result.clusters.items():
        if key.startswith("r"):
            clusters[cluster].append(int(key[1:]))
        else:
            existing_of[cluster] = int(key[1:])
    # Only the existing people a new row joined are loaded and written back.
    drafts = _existing_drafts(existing_of[c] for c in clusters if c in existing_of)
    area_before = {pk: d.values["area_path"] for pk, d in drafts.items()}
    fresh = [c for c in clusters if existing_of.get(c) not in drafts]
    new_ids = iter(allocate_ids(Person, len(fresh)))
    source = _BatchSource(batch=batch.pk, priority=priority, when=timezone.now().isoformat())
    person_of_row: dict[int, int] = {}
    touched: list[PersonDraft] = []
    for cluster, rows in clusters.items():
        draft = drafts.get(existing_of.get(cluster, -1))
        if draft is None:
            draft = PersonDraft(
                pk=next(new_ids), values=_new_values(batch.area_path), sources={}, new=True
            )
        touched.append(draft)
        rows.sort()
        for row in rows:
            _take(draft, staged_of[row], dwelling_of[row], source, index)
            person_of_row[row] = draft.pk
        if draft.new:
            draft.household_number = staged_of[rows[0]].clean.household_number
    new_people = [d for d in touched if d.new]
    # A lab's tenth test of a registered resident usually outranks nothing: not rewritten.
    updated = [d for d in touched if not d.new and d.changed]
    derive_households(new_people)
    _insert_people(new_people, source)
    update_tuples(
        Person,
        _CHOSEN_ATTNAMES,
        [
            (d.pk, *(d.values[a] for a in _CHOSEN_ATTNAMES[:-1]), source.json(d.sources))
            for d in updated
        ],
    )
    # Tags move only with people whose area changed.
    sync_tag_paths(d.pk for d in updated if d.values["area_path"] != area_before[d.pk])

    placed_rows = []
    for s in staged:
        person = person_of_row.get(s.row_number)
        dwelling = dwelling_of.get(s.row_number)
        placed_rows.append(
            (
                s.row_number,
                person,
                dwelling.pk if dwelling else None,
                dwelling.path if dwelling else batch.area_path,
            )
        )
    records.insert(PLACED_COLUMNS, placed_rows)
    reviews = _review_rows(batch, result, person_of_row)
    MatchReview.objects.bulk_create(reviews, ignore_conflicts=True)
    return Written(new_people=len(new_people), review_pairs=len(reviews))


_PERSON_COLUMNS = (
    "id", *_CHOSEN_ATTNAMES[:-1], "has_smartphone", "household_id", "merged_into_id",
    "field_sources", "created_at", "updated_at",
)  # fmt: skip


def _insert_people(drafts: Sequence[PersonDraft], source: _BatchSource) -> None:
    if not drafts:
        return
    now = stamp_value(Person, "created_at", timezone.now())
    chosen = _CHOSEN_ATTNAMES[:-1]
    insert_tuples(
        Person,
        _PERSON_COLUMNS,
        [
            (
                d.pk,
                *(d.values[a] for a in chosen),
                True,
                d.values.get("household_id"),
                None,
                source.json(d.sources),
                now,
                now,
            )
            for d in drafts
        ],
    )


def derive_households(new_people: Sequence[PersonDraft]) -> None:
    """Puts new people with a dwelling into a household: the one already at the dwelling (same
    household number when the file has one), else a new one; the head is the person the file
    calls head, else the eldest. Sets household_id (and the head's relation) on the drafts."""
    groups: dict[tuple[int, str], list[PersonDraft]] = defaultdict(list)
    for draft in new_people:
        dwelling_id = draft.values["dwelling_id"]
        if dwelling_id:
            groups[(dwelling_id, draft.household_number)].append(draft)
    if not groups:
        return
    existing: dict[int, int] = {}
    for household_id, dwelling_id in Household.objects.filter(
        dwelling_id__in={k[0] for k in groups}
    ).values_list("pk", "dwelling_id"):
        existing.setdefault(dwelling_id, household_id)
    created_keys = [key for key in groups if key[1] or key[0] not in existing]
    new_ids = dict(zip(created_keys, allocate_ids(Household, len(created_keys)), strict=True))
    created = []
    for key, members in groups.items():
        household_id = new_ids.get(key) or existing[key[0]]
        for draft in members:
            draft.values["household_id"] = household_id
        if key not in new_ids:
            continue
        head = next(
            (d for d in members if d.values["relation_to_head"] == Relation.HEAD),
            None,
        ) or min(
            members,
            key=lambda d: (d.values["birth_date"] is None, d.values["birth_date"] or 0, d.pk),
        )
        if not head.values["relation_to_head"]:
            head.values["relation_to_head"] = Relation.HEAD
        first = members[0].values
        created.append(
            (
                household_id,
                key[0],
                first["area_path"],
                first["address_building"],
                first["address_dwelling"],
                head.pk,
            )
        )
    now = stamp_value(Household, "created_at", timezone.now())
    insert_tuples(
        Household,
        (
            "id",
            "dwelling_id",
            "area_path",
            "address_building",
            "address_dwelling",
            "head_id",
            "created_at",
            "updated_at",
        ),
        [(*row, now, now) for row in created],
    )


def _review_rows(
    batch: ImportBatch, result: LinkResult, person_of_row: dict[int, int]
) -> list[MatchReview]:
    def person_id(key: str) -> int | None:
        if key.startswith("p"):
            return int(key[1:])
        return person_of_row.get(int(key[1:]))

    reviews = {}
    for pair in result.review:
        left, right = person_id(pair.left), person_id(pair.right)
        if not left or not right or left == right:
            continue
        left, right = min(left, right), max(left, right)
        reviews[(left, right)] = MatchReview(
            left_id=left,
            right_id=right,
            area_path=batch.area_path,
            probability=pair.probability,
            reasons=pair.reasons,
            batch=batch,
        )
    return list(reviews.values())
