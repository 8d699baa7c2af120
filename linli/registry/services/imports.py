"""Writes of an import before and after its run: the upload, the confirmed mapping, stale
uploads discarded, the rejected rows handed out. Each is audited here.

The run itself (reading, matching, writing the registry) is `importing.pipeline.run_batch`,
queued by `confirm_batch` and audited as `RegistryAction.IMPORT`.
"""

import hashlib
import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.accounts.selectors import user_of
from linli.areas.models import Area, AreaLevel
from linli.audit.models import AuditAction
from linli.audit.services import record_event
from linli.core import identifiers
from linli.core.actors import Actor, AuditContext
from linli.core.errors import both_languages
from linli.core.permissions import require
from linli.core.roles import REGISTRY_STEWARDS
from linli.registry import exports
from linli.registry.importing import placement
from linli.registry.importing.inference import infer_columns, mapping_of
from linli.registry.importing.mapping import validate_mapping
from linli.registry.importing.pipeline import (
    SAMPLE_ROWS,
    ImportRefused,
    compound_names,
    discard_file,
    store_sample,
)
from linli.registry.importing.readers import Table, UnreadableFile, read_table, remove_controls
from linli.registry.models import (
    BatchStatus,
    ImportBatch,
    ImportSource,
    RegistryAction,
    SourceRecord,
)
from linli.registry.tasks import run_import

# Stored on the batch, read later by whoever opens it: kept in both languages.
NEVER_CONFIRMED = _("Never confirmed; the uploaded file was deleted.")


def _require_importer(user: Actor, area: Area) -> None:
    require(user, roles=REGISTRY_STEWARDS, paths=[area.path])


def _record_batch_event(
    action: str,
    *,
    batch: ImportBatch,
    by: Actor | None,
    context: AuditContext | None,
    detail: dict[str, object] | None = None,
) -> None:
    record_event(
        action=action,
        actor=by,
        context=context,
        subject=batch,
        detail=detail,
    )


@transaction.atomic
def stage_upload(
    *,
    area: Area,
    source_name: str,
    source_kind: str,
    file_name: str,
    data: bytes,
    by: Actor,
    context: AuditContext | None = None,
    table: Table | None = None,
    mapping: dict[str, str] | None = None,
) -> ImportBatch:
    """Stores an uploaded file and proposes a column mapping (remembered for the source, else
    inferred from the headers and the sample's values). Nothing enters the registry.

    The file is read once, streaming, to count its rows and keep its first SAMPLE_ROWS rows
    for the preview; only the background run reads it whole. `table` is `data` already read,
    when the caller has it, and `mapping` the mapping to propose when the caller has worked it
    out (`linli link`). Returns the batch. Raises PermissionDenied, or ImportRefused
    (in both languages) when the file cannot be read or is past a limit.
    """
    _require_importer(by, area)
    if area.level not in (AreaLevel.COMMUNITY, AreaLevel.GRID):
        raise ImportRefused(_("Import into a community or a grid."))
    try:
        table = table or read_table(data, file_name, sample=SAMPLE_ROWS)
    except UnreadableFile as error:
        # The message stays lazy: the page shows it in the reader's language, the CLI in both.
        raise ImportRefused(
            error.message,  # type: ignore[arg-type]  # a gettext_lazy Promise, as Django takes
            code=error.code,
            params=error.params,
        ) from error
    source, _created = ImportSource.objects.get_or_create(
        area=area,
        name=remove_controls(source_name).strip()[:80] or remove_controls(file_name)[:80],
        defaults={"kind": source_kind, "area_path": area.path},
    )
    digest = hashlib.sha256(data).hexdigest()
    # The file holds full ID numbers and phones: it is kept encrypted until the run, then
    # deleted.
    stored = f"imports/{uuid.uuid4().hex}.sealed"
    path = Path(settings.MEDIA_ROOT) / stored
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(identifiers.encrypt_bytes(data))
    store_sample(stored, table)
    batch = ImportBatch.objects.create(
        source=source,
        area=area,
        area_path=area.path,
        file_name=remove_controls(Path(file_name).name)[:255],
        file_sha256=digest,
        stored_file=stored,
        encoding=table.encoding,
        headers=table.headers,
        mapping=mapping
        or mapping_of(
            infer_columns(
                table.headers,
                table.rows[:SAMPLE_ROWS],
                source.column_mapping or None,
                known_compounds=compound_names(area),
            )
        ),
        total_rows=table.total_rows,
        created_by=user_of(by),
    )
    _record_batch_event(
        RegistryAction.UPLOAD_IMPORT,
        batch=batch,
        by=by,
        context=context,
        detail={"rows": batch.total_rows, "source": source.name},
    )
    return batch


BAD_PLACEMENT = _("A choice of area is no longer possible; reload the page and choose again.")
MAX_PLACEMENTS = 2000


def _check_placements(batch: ImportBatch, placements: dict[str, str], by: Actor) -> None:
    """Raises ImportRefused unless every choice names a grid or a compound of the target's
    community, or a compound of its street inside the steward's jurisdiction (placement's
    constants)."""
    if len(placements) > MAX_PLACEMENTS:
        raise ImportRefused(BAD_PLACEMENT)
    target = batch.area
    # An import's target is a community or a grid (stage_upload): a grid has its community.
    community = target if target.level == AreaLevel.COMMUNITY else target.parent
    assert community is not None
    street = community.parent or community
    grid_ids, compound_ids = set(), set()
    for key, choice in placements.items():
        kind, _sep, number = choice.partition(":")
        if not key or len(key) > 1000 or (number and not number.isdigit()):
            raise ImportRefused(BAD_PLACEMENT)
        if choice == placement.NEW_UNASSIGNED:
            continue
        if kind == "new" and number:
            grid_ids.add(int(number))
        elif kind == "area" and number:
            compound_ids.add(int(number))
        else:
            raise ImportRefused(BAD_PLACEMENT)
    # The target's community is the import's to place in (a grid's file names its
    # neighbours' compounds); elsewhere in the street, only what the steward may see.
    grids = Area.objects.filter(pk__in=grid_ids, level=AreaLevel.GRID, parent=community).count()
    nearby = Area.objects.filter(pk__in=compound_ids, level=AreaLevel.COMPOUND)
    compounds = (
        nearby.filter(path__startswith=community.path)
        | nearby.visible_to(by).filter(path__startswith=street.path)
    ).count()
    if grids != len(grid_ids) or compounds != len(compound_ids):
        raise ImportRefused(BAD_PLACEMENT)


@transaction.atomic
def confirm_batch(
    *,
    batch: ImportBatch,
    mapping: dict[str, str],
    placements: dict[str, str] | None = None,
    by: Actor,
    context: AuditContext | None = None,
) -> ImportBatch:
    """Saves the steward's mapping (remembered for the source) and choices of areas (for this
    file only: {compound key: choice}, see importing.placement) and queues the import.

    Returns the batch. Raises PermissionDenied, or ImportRefused when the mapping is
    incomplete, a choice of area names an area out of reach, or the batch was already
    confirmed."""
    _require_importer(by, batch.area)
    problems = validate_mapping(mapping)
    if problems:
        raise ImportRefused("; ".join(p.text for p in problems))
    placements = dict(placements or {})
    _check_placements(batch, placements, by)
    # Only one confirmation wins: a double click must not queue the file twice.
    queued = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.UPLOADED).update(
        mapping=mapping, placements=placements, status=BatchStatus.QUEUED
    )
    if not queued:
        raise ImportRefused(_("This file was already submitted."))
    batch.mapping, batch.placements, batch.status = mapping, placements, BatchStatus.QUEUED
    ImportSource.objects.filter(pk=batch.source_id).update(column_mapping=mapping)
    _record_batch_event(
        RegistryAction.CONFIRM_IMPORT,
        batch=batch,
        by=by,
        context=context,
        detail={"mapping": mapping, "placements": placements},
    )
    transaction.on_commit(lambda: run_import.enqueue(batch.pk))
    return batch


@transaction.atomic
def discard_unconfirmed(*, older_than: datetime) -> int:
    """Deletes the files of uploads never confirmed since `older_than`, marks them failed and
    records each (no one signed in does this: a scheduled command). Returns how many."""
    stale = list(ImportBatch.objects.filter(status=BatchStatus.UPLOADED, created_at__lt=older_than))
    for batch in stale:
        discard_file(batch)
        _record_batch_event(RegistryAction.DISCARD_IMPORT, batch=batch, by=None, context=None)
    ImportBatch.objects.filter(pk__in=[b.pk for b in stale]).update(
        status=BatchStatus.FAILED,
        error=both_languages(NEVER_CONFIRMED),
    )
    return len(stale)


def export_rejected_rows(
    *,
    batch: ImportBatch,
    records: QuerySet[SourceRecord],
    by: Actor,
    context: AuditContext | None = None,
) -> str:
    """Returns the rejected rows of a batch as CSV (exports.rejected_rows_csv) and records the
    export: who took which rows out, and when."""
    body = exports.rejected_rows_csv(
        batch, records, exported_by=by.get_username(), at=timezone.now()
    )
    _record_batch_event(
        AuditAction.EXPORT,
        batch=batch,
        by=by,
        context=context,
        detail={"rows": records.count(), "what": "rejected rows"},
    )
    return body
