"""Importing a department's file into the registry: preview and run (the upload, the
confirmation and the discarding of stale uploads are services: registry.services.imports).

The run reads and normalises every row and matches them against the registry *outside* any
transaction (so progress is visible to the page), then writes everything — source records,
new dwellings, new and updated people, households, review pairs — in one transaction: a
failed import leaves the registry exactly as it was.
"""

import gc
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.areas.models import Area, AreaAction, AreaLevel
from linli.audit.services import record_event
from linli.core import identifiers
from linli.core.bulkload import StagedRows
from linli.core.jurisdiction import Viewer
from linli.core.masking import mask_id_number, mask_long_numbers, mask_phone
from linli.registry.importing.addresses import compound_key
from linli.registry.importing.inference import ColumnGuess, infer_columns
from linli.registry.importing.mapping import validate_mapping
from linli.registry.importing.normalise import normalise_row, normalise_rows, pinyin_key
from linli.registry.importing.placement import (
    NEW_IN,
    NEW_UNASSIGNED,
    SAME_AS,
    UNASSIGNED_GRID,
    CompoundPlan,
    DwellingIndex,
)
from linli.registry.importing.readers import Table, read_table
from linli.registry.importing.records import CleanRow, RowError
from linli.registry.importing.writing import Staged, seal_rows, stage_records, write_batch
from linli.registry.matching.engine import MatchSettings, link
from linli.registry.matching.records import LinkResult, MatchRecord
from linli.registry.models import (
    SOURCE_PRIORITY,
    BatchStatus,
    ImportBatch,
    Person,
    RegistryAction,
    SourceKind,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # phase, done, total
PROGRESS_EVERY = 2000
# Rows an upload keeps for its preview: the preview never reads the file again (a file of a
# million rows would cost its full parse at every change of the mapping).
SAMPLE_ROWS = 1000


class ImportRefused(ValidationError):
    """An upload or a mapping that cannot be imported (the message is gettext's)."""


def match_settings() -> MatchSettings:
    """Returns the matcher's settings: its engine from the deployment's (LINLI_LINK_ENGINE)."""
    return MatchSettings(
        engine=settings.LINLI_LINK_ENGINE, spark_master=settings.LINLI_SPARK_MASTER
    )


def stored_path(batch: ImportBatch) -> Path:
    return Path(settings.MEDIA_ROOT) / batch.stored_file


def sample_path(stored_file: str) -> Path:
    """Returns where the preview sample of an upload stored at `stored_file` is kept."""
    path = Path(settings.MEDIA_ROOT) / stored_file
    return path.with_name(f"{path.stem}.sample{path.suffix}")


def read_batch_file(batch: ImportBatch) -> Table:
    """Returns every row of the batch's file (the background worker's read)."""
    data = identifiers.decrypt_bytes(stored_path(batch).read_bytes())
    return read_table(data, batch.file_name)


def store_sample(stored_file: str, table: Table) -> None:
    """Keeps the first SAMPLE_ROWS rows of an upload beside its file, encrypted like it (they
    hold full ID numbers)."""
    sample = {"headers": table.headers, "rows": table.rows[:SAMPLE_ROWS]}
    sealed = identifiers.encrypt_bytes(json.dumps(sample, ensure_ascii=False).encode())
    sample_path(stored_file).write_bytes(sealed)


def read_sample(batch: ImportBatch) -> Table:
    """Returns the batch's preview sample: its first rows as the upload read them.

    An upload stored without one (before samples were kept) is read again for its first
    rows only, streaming."""
    path = sample_path(batch.stored_file)
    if not path.exists():
        data = identifiers.decrypt_bytes(stored_path(batch).read_bytes())
        return read_table(data, batch.file_name, sample=SAMPLE_ROWS)
    sample = json.loads(identifiers.decrypt_bytes(path.read_bytes()))
    return Table(
        headers=sample["headers"],
        rows=sample["rows"],
        encoding=batch.encoding,
        total_rows=batch.total_rows,
    )


def discard_file(batch: ImportBatch) -> None:
    """Deletes the stored upload of a batch (kept encrypted until its run) and its sample."""
    # Once its rows are in the registry (sealed), the department's file has no further use.
    stored_path(batch).unlink(missing_ok=True)
    sample_path(batch.stored_file).unlink(missing_ok=True)


def compound_names(area: Area) -> list[str]:
    """Returns the names and aliases of the compounds in the area's community: column
    inference recognises a column of compound names by them."""
    community = area.parent if area.level == AreaLevel.GRID and area.parent else area
    names: list[str] = []
    compounds = Area.objects.filter(path__startswith=community.path, level=AreaLevel.COMPOUND)
    for name, aliases in compounds.values_list("name", "aliases"):
        names.append(name)
        names.extend(alias for alias in aliases or () if isinstance(alias, str))
    return names


# ---------------------------------------------------------------------------------------------
# Upload and preview


@dataclass
class PreviewRow:
    row_number: int
    values: dict[str, str]  # field → value as the steward may see it (identifiers masked)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


Options = list[tuple[str, list[tuple[str, str]]]]  # (group label, [(value, label)])


@dataclass
class AreaChoice:
    """One compound of the preview's area section: the plan, where the compound Linli found
    is (when it found one), and the choices offered."""

    plan: CompoundPlan
    found_at: str
    options: Options


@dataclass
class AreaPreview:
    """The compounds an import would create or find outside its target, each with what the
    steward may choose instead: create it in a grid of the community, or take it for an
    existing compound."""

    target: Area
    choices: list[AreaChoice]
    unassigned: str = UNASSIGNED_GRID

    @property
    def creating(self) -> int:
        return sum(1 for c in self.choices if c.plan.creates)


@dataclass
class Preview:
    rows: list[PreviewRow]
    rejected: int
    warned: int
    total: int
    mapping_problems: list[str]
    checked: int = 0  # rows of the sample counted in rejected and warned
    # What each column holds as Linli reads it from its header and values, with the reason
    # ("96 of 100 values are valid ID numbers"), in the order of the headers.
    columns: list[ColumnGuess] = field(default_factory=list)
    areas: AreaPreview | None = None

    @property
    def sampled(self) -> bool:
        """Returns whether the counts are of the first rows only."""
        return self.checked < self.total


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


def preview_batch(
    batch: ImportBatch,
    *,
    mapping: dict[str, str] | None = None,
    placements: dict[str, str] | None = None,
    viewer: Viewer = None,
) -> Preview:
    """Returns the first rows as they would be imported, how many of the upload's sample
    (its first SAMPLE_ROWS rows) would be rejected, and the compounds its rows would create
    or find outside the target (with `placements`, the steward's choices so far; compounds
    elsewhere in the street only where `viewer` may see). Reads the sample, never the
    file."""
    mapping = mapping if mapping is not None else batch.mapping
    placements = placements if placements is not None else batch.placements
    table = read_sample(batch)
    rows: list[PreviewRow] = []
    addresses = []
    rejected = warned = 0
    for index, cells in enumerate(table.rows, start=1):
        values = _row_values(cells, table.headers, mapping)
        result = normalise_row(index, values)
        errors = result if isinstance(result, list) else []
        clean = None if isinstance(result, list) else result
        rejected += bool(errors)
        warned += bool(clean and clean.warnings)
        if clean is not None:
            addresses.append(clean.address)
        if index <= 20:
            rows.append(
                PreviewRow(
                    row_number=index,
                    values=_masked_preview(values, clean),
                    errors=errors,
                    warnings=clean.warnings if clean else [],
                )
            )
    problems = [p.text for p in validate_mapping(mapping)]
    columns = infer_columns(
        table.headers,
        table.rows,
        batch.source.column_mapping or None,
        known_compounds=compound_names(batch.area),
    )
    return Preview(
        columns=columns,
        rows=rows,
        rejected=rejected,
        warned=warned,
        total=max(batch.total_rows, len(table.rows)),
        mapping_problems=problems,
        checked=len(table.rows),
        areas=preview_areas(batch, addresses, placements=placements, viewer=viewer),
    )


def preview_areas(
    batch: ImportBatch,
    addresses: list,
    *,
    placements: dict[str, str],
    viewer: Viewer = None,
) -> AreaPreview:
    """Returns what the addresses would do to the area tree (see AreaPreview)."""
    index = DwellingIndex(batch.area, choices=placements, importer=viewer, dwellings=False)
    plans = index.plan(addresses)
    if not plans:
        return AreaPreview(target=batch.area, choices=[])
    unassigned = _("New, in %(grid)s (to be assigned)") % {"grid": UNASSIGNED_GRID}
    create = [(NEW_UNASSIGNED, unassigned)] + [
        (f"{NEW_IN}{grid.pk}", _("New, in %(grid)s") % {"grid": grid.name})
        for grid in index.grids()
        if grid.name != UNASSIGNED_GRID
    ]
    existing = [
        (f"{SAME_AS}{a.pk}", _("%(compound)s (%(place)s)") % _where(a, index))
        for a in index.compound_choices()
    ]
    choices = []
    for plan in plans:
        found_at = index.place_label(plan.found) if plan.found is not None else ""
        known = existing
        if plan.found is not None and not plan.found.path.startswith(index.community.path):
            # Found in another community of the street: offered besides the community's own.
            known = [
                (
                    f"{SAME_AS}{plan.found.pk}",
                    _("%(compound)s (%(place)s)") % _where(plan.found, index),
                ),
                *existing,
            ]
        options = [
            (str(_("Create a compound")), create),
            (str(_("It is an existing compound")), known),
        ]
        choices.append(AreaChoice(plan=plan, found_at=found_at, options=options))
    return AreaPreview(target=batch.area, choices=choices)


def _where(compound: Area, index: DwellingIndex) -> dict[str, str]:
    return {"compound": compound.name, "place": index.place_label(compound)}


# ---------------------------------------------------------------------------------------------
# Running


def _report(batch: ImportBatch, phase: str, done: int, progress: Progress | None) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(phase=phase, processed_rows=done)
    if progress:
        progress(phase, done, batch.total_rows)


def stage_rows(batch: ImportBatch, table: Table, progress: Progress | None = None) -> list[Staged]:
    """Returns every data row normalised or with its errors (no database writes)."""
    staged = []
    headers = table.headers
    # The upload counted a workbook's rows in its XML; this is the exact count.
    if batch.total_rows != len(table.rows):
        batch.total_rows = len(table.rows)
        ImportBatch.objects.filter(pk=batch.pk).update(total_rows=batch.total_rows)
    # Column by column within chunks: each distinct cell is read once, and the progress bar
    # moves between chunks.
    for start in range(0, len(table.rows), PROGRESS_EVERY):
        chunk = table.rows[start : start + PROGRESS_EVERY]
        results = normalise_rows(headers, chunk, batch.mapping, first_row=start + 1)
        for index, (cells, result) in enumerate(zip(chunk, results, strict=True), start + 1):
            if isinstance(result, list):
                raw = {h: c for h, c in zip(headers, cells, strict=False) if c}
                staged.append(Staged(index, None, result, raw))
            else:
                staged.append(Staged(index, result, []))
        if start + len(chunk) < len(table.rows):
            _report(batch, "reading", start + len(chunk), progress)
    _report(batch, "reading", len(staged), progress)
    return staged


def _existing_records(index: DwellingIndex) -> list[MatchRecord]:
    """Returns the people already in the target area as match records, with their address
    parts named as the tree names them (rows often give no compound: "三栋二单元501")."""
    # The target's people, and those of the compounds outside it that the rows name (a file
    # for 第二网格 that names 西电名居 of 第一网格 is matched against 西电名居's residents).
    within = Q()
    for path in index.scope_paths():
        within |= Q(area_path__startswith=path)
    people = Person.objects.filter(within, merged_into__isnull=True).values_list(
        "id", "name", "id_number_hash", "birth_date", "sex", "region_code", "phone_hash", "dwelling"
    )
    records = []
    parts_of: dict[int | None, dict[str, str]] = {None: {}}  # a household shares its dwelling
    # Tuples, not model instances: a community has tens of thousands of people.
    for pk, name, id_hash, birth, sex, region, phone_hash, dwelling_id in people.iterator(5000):
        parts = parts_of.get(dwelling_id)
        if parts is None:
            parts = parts_of[dwelling_id] = index.parts_of(dwelling_id)
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
    """Returns the row as the matcher sees it (identifiers by keyed hash: seal_rows first)."""
    clean = staged.clean
    assert clean is not None
    parts = clean.address
    dwelling = index.existing_dwelling(parts)
    return MatchRecord(
        key=f"r{staged.row_number}",
        name=clean.name,
        name_pinyin=clean.name_pinyin,
        id_hash=staged.id_number.hashed if staged.id_number else "",
        birth_date=clean.birth_date.isoformat() if clean.birth_date else "",
        sex=clean.sex,
        region_code=clean.region_code,
        phone_hash=staged.phone.hashed if staged.phone else "",
        compound=index.canonical_compound(parts.compound),
        building=parts.building,
        unit=parts.unit,
        room=parts.room,
        dwelling_id=dwelling.pk if dwelling else None,
        source=kind,
    )


def run_batch(
    batch: ImportBatch, *, progress: Progress | None = None, table: Table | None = None
) -> ImportBatch:
    """Runs a queued import to the end. Returns the batch with its final status.

    Importing a file already imported into the same area changes nothing (status duplicate).
    Any failure rolls the registry back and leaves the batch `failed` with the reason.
    `table` is the batch's file already read (the `linli link` command reads each file once).
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
        discard_file(batch)
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
    records = None
    try:
        staged = stage_rows(batch, table or read_batch_file(batch), progress)
        seal_rows(staged)
        records = stage_records(batch, staged)
        index = DwellingIndex(batch.area, choices=batch.placements, importer=batch.created_by)
        kind = batch.source.kind
        accepted = [s for s in staged if s.clean is not None]
        index.prepare([s.clean.address for s in accepted])
        rows = [_match_record(s, index, kind) for s in accepted]
        _report(batch, "matching", len(staged), progress)
        result = link(_existing_records(index) + rows, settings=match_settings())
        _report(batch, "writing", len(staged), progress)
        with transaction.atomic():
            _write(batch, staged, records, index, result)
    except Exception as error:
        # The type only: a database error's text can quote a row's values.
        log.error("import %s failed: %s", batch.pk, type(error).__name__)
        discard_file(batch)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED,
            error=mask_long_numbers(f"{type(error).__name__}: {error}")[:2000],
            finished_at=timezone.now(),
        )
        batch.refresh_from_db()
        return batch
    finally:
        if records is not None:
            records.discard()
        if gc_was_enabled:
            gc.enable()
    batch.refresh_from_db()
    discard_file(batch)
    if progress:
        progress("done", batch.total_rows, batch.total_rows)
    return batch


def _write(
    batch: ImportBatch,
    staged: list[Staged],
    records: StagedRows,
    index: DwellingIndex,
    result: LinkResult,
) -> None:
    written = write_batch(
        batch,
        staged,
        records,
        index,
        result,
        priority=SOURCE_PRIORITY.get(SourceKind(batch.source.kind), 0),
    )
    accepted = sum(1 for s in staged if s.clean is not None)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.COMMITTED,
        phase="done",
        processed_rows=len(staged),
        accepted_rows=accepted,
        rejected_rows=len(staged) - accepted,
        warning_rows=sum(1 for s in staged if s.clean is not None and s.clean.warnings),
        new_people=written.new_people,
        linked_rows=accepted - written.new_people,
        review_pairs=written.review_pairs,
        new_compounds=sum(1 for c in index.created if c.area.level == AreaLevel.COMPOUND),
        finished_at=timezone.now(),
    )
    _record_areas(batch, index)
    record_event(
        action=RegistryAction.IMPORT,
        actor=batch.created_by,
        subject=batch,
        detail={
            "rows": len(staged),
            "accepted": accepted,
            "new_people": written.new_people,
            "areas_created": dict(index.created_counts),
        },
    )


def _record_areas(batch: ImportBatch, index: DwellingIndex) -> None:
    """Records each compound (and to-be-assigned grid) the import created, and remembers as an
    alias each spelling the steward took for an existing compound, so the next file is
    matched without asking (each change audited)."""
    for created in index.created:
        record_event(
            action=AreaAction.CREATE_AREA,
            actor=batch.created_by,
            subject=created.area,
            detail={"import": batch.pk, "written": created.written, "rows": created.rows},
        )
    for key, choice in batch.placements.items():
        compound = index.compounds.get(_compound_id(choice))
        if compound is None or compound.pk not in index.used_compounds:
            continue
        known = {compound_key(n) for n in [compound.name, *(compound.aliases or [])]}
        if key in known:
            continue
        before = list(compound.aliases or [])
        compound.aliases = [*before, key]
        Area.objects.filter(pk=compound.pk).update(aliases=compound.aliases)
        record_event(
            action=AreaAction.UPDATE_AREA,
            actor=batch.created_by,
            subject=compound,
            detail={"import": batch.pk, "before": {"aliases": before}},
        )


def _compound_id(choice: str) -> int:
    prefix, _sep, number = choice.partition(":")
    return int(number) if prefix == "area" and number.isdigit() else 0
