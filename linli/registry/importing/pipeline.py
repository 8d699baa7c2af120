"""Importing a department's file into the registry: upload, preview, run.

The run reads and normalises every row and matches them against the registry *outside* any
transaction (so progress is visible to the page), then writes everything — source records,
new dwellings, new and updated people, households, review pairs — in one transaction: a
failed import leaves the registry exactly as it was.
"""

import gc
import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from linli.areas.models import Area, AreaLevel
from linli.audit.models import AuditAction
from linli.audit.services import record_event
from linli.core import identifiers
from linli.core.bulkload import insert_rows, update_rows
from linli.core.masking import mask_id_number, mask_long_numbers, mask_phone
from linli.core.permissions import require
from linli.core.roles import REGISTRY_STEWARDS
from linli.registry.importing.mapping import suggest_mapping, validate_mapping
from linli.registry.importing.normalise import normalise_row
from linli.registry.importing.placement import DwellingIndex
from linli.registry.importing.readers import Table, UnreadableFile, read_table
from linli.registry.importing.records import CleanRow, RowError
from linli.registry.matching.engine import link
from linli.registry.matching.records import LinkResult, MatchRecord
from linli.registry.models import (
    SOURCE_PRIORITY,
    BatchStatus,
    Household,
    ImportBatch,
    ImportSource,
    MatchReview,
    Person,
    Relation,
    SourceRecord,
)
from linli.registry.provenance import CHOSEN_COLUMNS, apply_record
from linli.registry.services import ID_KIND, PHONE_KIND, store_sealed, sync_tag_paths

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # phase, done, total
PROGRESS_EVERY = 2000


class ImportRefused(ValidationError):
    """An upload or a mapping that cannot be imported; the message is in Chinese and English."""


def _require_importer(user, area: Area) -> None:
    require(user, roles=REGISTRY_STEWARDS, paths=[area.path])


def _stored_path(batch: ImportBatch) -> Path:
    return Path(settings.MEDIA_ROOT) / batch.stored_file


def read_batch_file(batch: ImportBatch) -> Table:
    data = identifiers.decrypt_bytes(_stored_path(batch).read_bytes())
    return read_table(data, batch.file_name)


def discard_unconfirmed(*, older_than) -> int:
    """Deletes the files of uploads never confirmed since `older_than`; marks them failed.
    Returns how many."""
    stale = list(ImportBatch.objects.filter(status=BatchStatus.UPLOADED, created_at__lt=older_than))
    for batch in stale:
        _discard_file(batch)
    ImportBatch.objects.filter(pk__in=[b.pk for b in stale]).update(
        status=BatchStatus.FAILED, error="未确认，已删除上传的文件 / never confirmed; file deleted"
    )
    return len(stale)


def _discard_file(batch: ImportBatch) -> None:
    # Once its rows are in the registry (sealed), the department's file has no further use.
    _stored_path(batch).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Upload and preview


def stage_upload(
    *, area: Area, source_name: str, source_kind: str, file_name: str, data: bytes, by
) -> ImportBatch:
    """Stores an uploaded file and proposes a column mapping. Nothing enters the registry.

    Raises PermissionDenied, or ImportRefused when the file cannot be read.
    """
    _require_importer(by, area)
    if area.level not in (AreaLevel.COMMUNITY, AreaLevel.GRID):
        raise ImportRefused("请选择社区或网格作为导入范围 / import into a community or a grid")
    try:
        table = read_table(data, file_name)
    except UnreadableFile as error:
        raise ImportRefused(f"{error.zh} / {error.en}") from error
    source, _ = ImportSource.objects.get_or_create(
        area=area,
        name=source_name.strip()[:80] or file_name[:80],
        defaults={"kind": source_kind, "area_path": area.path},
    )
    digest = hashlib.sha256(data).hexdigest()
    # The file holds full ID numbers and phones: it is kept encrypted until the run, then
    # deleted.
    stored = f"imports/{uuid.uuid4().hex}.sealed"
    path = Path(settings.MEDIA_ROOT) / stored
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(identifiers.encrypt_bytes(data))
    return ImportBatch.objects.create(
        source=source,
        area=area,
        area_path=area.path,
        file_name=Path(file_name).name[:255],
        file_sha256=digest,
        stored_file=stored,
        encoding=table.encoding,
        headers=table.headers,
        mapping=suggest_mapping(table.headers, source.column_mapping or None),
        total_rows=len(table.rows),
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )


@dataclass
class PreviewRow:
    row_number: int
    values: dict[str, str]  # field → value as the steward may see it (identifiers masked)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


@dataclass
class Preview:
    rows: list[PreviewRow]
    rejected: int
    warned: int
    total: int
    mapping_problems: list[str]


def _row_values(table_row: list[str], headers: list[str], mapping: dict[str, str]) -> dict:
    values: dict[str, str] = {}
    for header, cell in zip(headers, table_row, strict=False):
        target = mapping.get(header, "")
        if target and cell:
            values[target] = cell
    return values


def _masked_preview(values: dict[str, str], clean: CleanRow | None) -> dict[str, str]:
    """Returns the row as it would be stored (cleaned name), every long number masked: a
    wrong mapping must not show a file's ID numbers in clear."""
    shown = {field: mask_long_numbers(value) for field, value in values.items()}
    if clean is not None:
        shown["name"] = mask_long_numbers(clean.name)
        if clean.id_number:
            shown["id_number"] = mask_id_number(clean.id_number)
        if clean.phone:
            shown["phone"] = mask_phone(clean.phone)
    return shown


def preview_batch(batch: ImportBatch, *, mapping: dict[str, str] | None = None) -> Preview:
    """Returns the first rows as they would be imported, and the count of rejected rows."""
    mapping = mapping if mapping is not None else batch.mapping
    table = read_batch_file(batch)
    rows: list[PreviewRow] = []
    rejected = warned = 0
    for index, cells in enumerate(table.rows, start=1):
        values = _row_values(cells, table.headers, mapping)
        result = normalise_row(index, values)
        errors = result if isinstance(result, list) else []
        clean = None if isinstance(result, list) else result
        rejected += bool(errors)
        warned += bool(clean and clean.warnings)
        if index <= 20:
            rows.append(
                PreviewRow(
                    row_number=index,
                    values=_masked_preview(values, clean),
                    errors=errors,
                    warnings=clean.warnings if clean else [],
                )
            )
    problems = [str(p) for p in validate_mapping(mapping)]
    return Preview(
        rows=rows,
        rejected=rejected,
        warned=warned,
        total=len(table.rows),
        mapping_problems=problems,
    )


def confirm_batch(*, batch: ImportBatch, mapping: dict[str, str], by) -> ImportBatch:
    """Saves the steward's mapping (remembered for the source) and queues the import."""
    _require_importer(by, batch.area)
    problems = validate_mapping(mapping)
    if problems:
        raise ImportRefused("; ".join(str(p) for p in problems))
    # Only one confirmation wins: a double click must not queue the file twice.
    queued = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.UPLOADED).update(
        mapping=mapping, status=BatchStatus.QUEUED
    )
    if not queued:
        raise ImportRefused("该文件已提交导入 / this file was already submitted")
    batch.mapping, batch.status = mapping, BatchStatus.QUEUED
    ImportSource.objects.filter(pk=batch.source_id).update(column_mapping=mapping)
    from linli.registry.tasks import run_import

    transaction.on_commit(lambda: run_import.enqueue(batch.pk))
    return batch


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class Staged:
    """One accepted or rejected row between reading and writing."""

    row_number: int
    raw: dict[str, str]
    clean: CleanRow | None
    errors: list[RowError]


def _report(batch: ImportBatch, phase: str, done: int, progress: Progress | None) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(phase=phase, processed_rows=done)
    if progress:
        progress(phase, done, batch.total_rows)


def stage_rows(batch: ImportBatch, table: Table, progress: Progress | None = None) -> list[Staged]:
    """Returns every data row normalised or with its errors (no database writes)."""
    staged = []
    for index, cells in enumerate(table.rows, start=1):
        values = _row_values(cells, table.headers, batch.mapping)
        raw = {h: c for h, c in zip(table.headers, cells, strict=False) if c}
        result = normalise_row(index, values)
        if isinstance(result, list):
            staged.append(Staged(index, raw, None, result))
        else:
            staged.append(Staged(index, raw, result, []))
        if index % PROGRESS_EVERY == 0:
            _report(batch, "reading", index, progress)
    _report(batch, "reading", len(staged), progress)
    return staged


def _existing_records(index: DwellingIndex) -> list[MatchRecord]:
    """Returns the people already in the target area as match records, with their address
    parts named as the tree names them (rows often give no compound: "三栋二单元501")."""
    from linli.registry.importing.normalise import pinyin_key

    people = Person.objects.filter(
        area_path__startswith=index.target.path, merged_into__isnull=True
    ).values_list(
        "id", "name", "id_number_hash", "birth_date", "sex", "region_code", "phone_hash", "dwelling"
    )
    records = []
    # Tuples, not model instances: a community has tens of thousands of people.
    for pk, name, id_hash, birth, sex, region, phone_hash, dwelling_id in people.iterator(5000):
        parts = index.parts_of(dwelling_id) if dwelling_id else {}
        records.append(
            MatchRecord(
                key=f"p{pk}",
                name=name,
                name_pinyin=pinyin_key(name),
                id_hash=id_hash,
                birth_date=birth.isoformat() if birth else "",
                sex=sex,
                region_code=region,
                phone_hash=phone_hash,
                compound=parts.get(AreaLevel.COMPOUND, ""),
                building=parts.get(AreaLevel.BUILDING, ""),
                unit=parts.get(AreaLevel.UNIT, ""),
                room=parts.get(AreaLevel.DWELLING, ""),
                dwelling_id=dwelling_id,
            )
        )
    return records


def _match_record(staged: Staged, index: DwellingIndex, kind: str) -> MatchRecord:
    clean = staged.clean
    assert clean is not None
    parts = clean.address
    dwelling = index.existing_dwelling(parts)
    return MatchRecord(
        key=f"r{staged.row_number}",
        name=clean.name,
        name_pinyin=clean.name_pinyin,
        id_hash=identifiers.keyed_hash(ID_KIND, clean.id_number) if clean.id_number else "",
        birth_date=clean.birth_date.isoformat() if clean.birth_date else "",
        sex=clean.sex,
        region_code=clean.region_code,
        phone_hash=identifiers.keyed_hash(PHONE_KIND, clean.phone) if clean.phone else "",
        compound=index.canonical_compound(parts.compound),
        building=parts.building,
        unit=parts.unit,
        room=parts.room,
        dwelling_id=dwelling.pk if dwelling else None,
        source=kind,
    )


def run_batch(batch: ImportBatch, *, progress: Progress | None = None) -> ImportBatch:
    """Runs a queued import to the end. Returns the batch with its final status.

    Importing a file already imported into the same area changes nothing (status duplicate).
    Any failure rolls the registry back and leaves the batch `failed` with the reason.
    """
    already = (
        ImportBatch.objects.filter(
            area=batch.area, file_sha256=batch.file_sha256, status=BatchStatus.COMMITTED
        )
        .exclude(pk=batch.pk)
        .exists()
    )
    if already:
        batch.status = BatchStatus.DUPLICATE
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "finished_at"])
        _discard_file(batch)
        return batch
    started = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.QUEUED).update(
        status=BatchStatus.RUNNING, started_at=timezone.now()
    )
    if not started:  # another worker has it, or it already ran
        batch.refresh_from_db()
        return batch
    batch.status = BatchStatus.RUNNING
    # Reading and matching allocate millions of short-lived objects and no cycles; the cyclic
    # collector would spend a sixth of the time finding nothing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        table = read_batch_file(batch)
        staged = stage_rows(batch, table, progress)
        index = DwellingIndex(batch.area)
        kind = batch.source.kind
        accepted = [s for s in staged if s.clean is not None]
        records = [_match_record(s, index, kind) for s in accepted]
        _report(batch, "matching", len(staged), progress)
        result = link(_existing_records(index) + records)
        _report(batch, "writing", len(staged), progress)
        with transaction.atomic():
            _write(batch, staged, index, result)
    except Exception as error:
        # The type only: a database error's text can quote a row's values.
        log.error("import %s failed: %s", batch.pk, type(error).__name__)
        _discard_file(batch)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED,
            error=mask_long_numbers(f"{type(error).__name__}: {error}")[:2000],
            finished_at=timezone.now(),
        )
        batch.refresh_from_db()
        return batch
    finally:
        if gc_was_enabled:
            gc.enable()
    batch.refresh_from_db()
    _discard_file(batch)
    if progress:
        progress("done", batch.total_rows, batch.total_rows)
    return batch


# ---------------------------------------------------------------------------------------------
# Writing (inside the transaction)


def _seal_record(record: SourceRecord, clean: CleanRow) -> None:
    if clean.id_number:
        sealed = identifiers.seal(ID_KIND, clean.id_number, mask_id_number(clean.id_number))
        store_sealed(record, "id_number", sealed)
    if clean.phone:
        store_sealed(
            record, "phone", identifiers.seal(PHONE_KIND, clean.phone, mask_phone(clean.phone))
        )


def _address_text(clean: CleanRow) -> str:
    a = clean.address
    return f"{a.compound}{a.building}{a.unit}{a.room}"[:200]


def build_source_records(
    batch: ImportBatch, staged: list[Staged], dwellings: dict[int, Area | None]
) -> dict[int, SourceRecord]:
    """Returns {row number: unsaved SourceRecord} with identifiers sealed and the raw row
    encrypted (rejected rows keep their errors, accepted rows their warnings)."""
    records: dict[int, SourceRecord] = {}
    for s in staged:
        record = SourceRecord(
            batch=batch,
            row_number=s.row_number,
            area_path=batch.area_path,
            accepted=s.clean is not None,
            raw_encrypted=identifiers.encrypt(json.dumps(s.raw, ensure_ascii=False)),
        )
        if s.clean is None:
            record.errors = [e.__dict__ for e in s.errors]
        else:
            clean = s.clean
            record.errors = [e.__dict__ for e in clean.warnings]
            record.name = clean.name
            record.id_problem = clean.id_problem
            record.birth_date, record.sex, record.region_code = (
                clean.birth_date,
                clean.sex,
                clean.region_code,
            )
            _seal_record(record, clean)
            record.address_text = _address_text(clean)
            record.dwelling = dwellings.get(s.row_number)
            if record.dwelling is not None:
                record.area_path = record.dwelling.path
            record.residency, record.relation = clean.residency, clean.relation
            record.household_number = clean.household_number
        records[s.row_number] = record
    return records


def _write(batch: ImportBatch, staged: list[Staged], index: DwellingIndex, result: LinkResult):
    accepted = [s for s in staged if s.clean is not None]
    placed = index.place_all([s.clean.address for s in accepted])
    dwellings = {s.row_number: d for s, d in zip(accepted, placed, strict=True)}
    records = build_source_records(batch, staged, dwellings)

    priority = SOURCE_PRIORITY.get(batch.source.kind, 0)
    when = timezone.now().isoformat()
    clusters: dict[str, list[int]] = defaultdict(list)  # cluster → row numbers
    existing_of: dict[str, int] = {}
    for key, cluster in result.clusters.items():
        if key.startswith("r"):
            clusters[cluster].append(int(key[1:]))
        else:
            existing_of[cluster] = int(key[1:])
    # Only the existing people a new row joined are loaded and written back.
    existing = Person.objects.in_bulk([existing_of[c] for c in clusters if c in existing_of])
    new_people: list[Person] = []
    person_of_row: dict[int, Person] = {}
    for cluster, rows in clusters.items():
        person = existing.get(existing_of.get(cluster, -1))
        if person is None:
            person = Person(area_path=batch.area_path, field_sources={})
            new_people.append(person)
        for row in sorted(rows):
            apply_record(
                person, records[row], priority=priority, when=when, address_of=index.address_of
            )
            person_of_row[row] = person
    # People first (records point at them); their sources are remembered as (batch, row).
    insert_rows(Person, new_people)
    touched = {id(p) for p in person_of_row.values()}
    updated = [p for p in existing.values() if id(p) in touched]
    update_rows(Person, updated, list(CHOSEN_COLUMNS))
    sync_tag_paths(p.pk for p in updated)
    for row, person in person_of_row.items():
        records[row].person_id = person.pk
    insert_rows(SourceRecord, list(records.values()))
    _derive_households(new_people, records, person_of_row)
    reviews = _review_rows(batch, result, person_of_row)
    MatchReview.objects.bulk_create(reviews, ignore_conflicts=True)

    ImportBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.COMMITTED,
        phase="done",
        processed_rows=len(staged),
        accepted_rows=len(accepted),
        rejected_rows=len(staged) - len(accepted),
        warning_rows=sum(1 for s in accepted if s.clean.warnings),
        new_people=len(new_people),
        linked_rows=len(accepted) - len(new_people),
        review_pairs=len(reviews),
        finished_at=timezone.now(),
    )
    record_event(
        action=AuditAction.IMPORT,
        actor=batch.created_by,
        actor_username=batch.created_by.get_username() if batch.created_by else "system",
        object_type="import_batch",
        object_id=batch.pk,
        object_label=batch.file_name,
        area_path=batch.area_path,
        detail={"rows": len(staged), "accepted": len(accepted), "new_people": len(new_people)},
    )


def _derive_households(
    new_people: list[Person], records: dict[int, SourceRecord], person_of_row: dict[int, Person]
) -> None:
    """Puts new people with a dwelling into a household: the one already at the dwelling (same
    household number when the file has one), else a new one; the head is the person the file
    calls head, else the eldest."""
    new_ids = {p.pk for p in new_people}
    groups: dict[tuple[int, str], list[Person]] = defaultdict(list)
    numbers: dict[int, str] = {}
    for row, person in person_of_row.items():
        if person.pk in new_ids and person.dwelling_id:
            numbers.setdefault(person.pk, records[row].household_number)
    for person in new_people:
        if person.dwelling_id:
            groups[(person.dwelling_id, numbers.get(person.pk, ""))].append(person)
    if not groups:
        return
    existing = {}
    for household in Household.objects.filter(dwelling_id__in={k[0] for k in groups}):
        existing.setdefault(household.dwelling_id, household)
    created: list[Household] = []
    household_of: dict[tuple[int, str], Household] = {}
    for key, members in groups.items():
        dwelling_id, number = key
        household = None if number else existing.get(dwelling_id)
        if household is None:
            first = members[0]
            household = Household(
                dwelling_id=dwelling_id,
                area_path=first.area_path,
                address_building=first.address_building,
                address_dwelling=first.address_dwelling,
            )
            created.append(household)
        household_of[key] = household
    insert_rows(Household, created)
    created_now = {h.pk for h in created}
    heads = []
    for key, members in groups.items():
        household = household_of[key]
        for person in members:
            person.household_id = household.pk
        if household.pk in created_now:
            head = next(
                (p for p in members if p.relation_to_head == Relation.HEAD),
                min(members, key=lambda p: (p.birth_date is None, p.birth_date or 0, p.pk)),
            )
            if not head.relation_to_head:
                head.relation_to_head = Relation.HEAD
            household.head_id = head.pk
            heads.append(household)
    update_rows(
        Person, [p for ms in groups.values() for p in ms], ["household", "relation_to_head"]
    )
    update_rows(Household, heads, ["head"])


def _review_rows(
    batch: ImportBatch, result: LinkResult, person_of_row: dict[int, Person]
) -> list[MatchReview]:
    def person_id(key: str) -> int | None:
        if key.startswith("p"):
            return int(key[1:])
        person = person_of_row.get(int(key[1:]))
        return person.pk if person else None

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
