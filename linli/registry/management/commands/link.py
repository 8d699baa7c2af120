"""`linli link FILE... --out links.csv`: the import and matching pipeline on a fresh database.

Every data row of every file gets a line `file,row_number,person` (rows counted from 1 after
the header). Column mappings are suggested automatically, as for a file never seen before.
The work happens in a child process pointed at a new SQLite database in a temporary folder
(or at --database-url, which must be an empty database), so the registry in use is never
touched. `--engine spark` matches on Spark instead of DuckDB (LINLI_SPARK_MASTER says which;
docs/scale-out.md).
"""

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext_lazy as _

from linli.core.errors import both_languages
from linli.registry.matching.backends import ENGINES

FRESH_FLAG = "LINLI_LINK_FRESH_DATABASE"
KIND_HINTS = [
    ("户籍", "household_registration"),
    ("household", "household_registration"),
    ("物业", "property"),
    ("property", "property"),
    ("普查", "census"),
    ("网格", "census"),
    ("census", "census"),
    ("核酸", "testing"),
    ("检测", "testing"),
    ("test", "testing"),
    ("返乡", "travel"),
    ("到达", "travel"),
    ("arriv", "travel"),
    ("travel", "travel"),
]


def file_profile(table) -> tuple[float, int]:
    """Returns (share of rows with a valid ID number, how many of phone and address columns the
    file has) for a file read by read_table."""
    from linli.registry.importing.mapping import suggest_mapping
    from linli.registry.importing.normalise import is_valid_id_number

    mapping = suggest_mapping(table.headers)
    fields = set(mapping.values())
    extra = int("phone" in fields) + int(bool(fields & {"address", "room"}))
    columns = [i for i, h in enumerate(table.headers) if mapping.get(h) == "id_number"]
    if not columns or not table.rows:
        return 0.0, extra
    column = columns[0]
    valid = sum(
        1 for cells in table.rows if column < len(cells) and is_valid_id_number(cells[column])
    )
    return valid / len(table.rows), extra


def processing_order(profiles: list[tuple[float, int]]) -> list[int]:
    """Returns the order to import files in: the file with the most valid ID numbers first (it
    anchors people exactly), then files with ID numbers, richest in phones and addresses first,
    then files without ID numbers. Rows of thinner files then join known people instead of
    founding look-alike files that only a steward could merge later (measured on
    bench/registry.py: recall 0.9888 in ID-share order, 0.9947 in this one)."""
    if not profiles:
        return []
    anchor = max(range(len(profiles)), key=lambda i: (profiles[i][0], profiles[i][1], -i))
    rest = sorted(
        (i for i in range(len(profiles)) if i != anchor),
        key=lambda i: (profiles[i][0] < 0.5, -profiles[i][1], -profiles[i][0], i),
    )
    return [anchor, *rest]


def guess_kind(file_name: str) -> str:
    lowered = file_name.lower()
    return next((kind for hint, kind in KIND_HINTS if hint in lowered), "other")


class Command(BaseCommand):
    help = "Import and link department files on a fresh database; write file,row_number,person."
    # The system checks inspect the code, not the files: the test suite and every server start
    # run them. Here they would run twice (this process and the fresh database's) and cost
    # seconds of every call.
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument(
            "--database-url", default="", help="an empty database to use instead of SQLite"
        )
        parser.add_argument(
            "--engine",
            choices=ENGINES,
            default="",
            help="where matching runs (default: LINLI_LINK_ENGINE, duckdb)",
        )

    def handle(
        self, *args, files: list[Path], out: Path, database_url: str, engine: str, **options
    ) -> None:
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise CommandError(
                both_languages(_("no such file: %(files)s"), {"files": ", ".join(missing)})
            )
        if os.environ.get(FRESH_FLAG) != "1":
            self._run_in_fresh_database(files, out, database_url, engine)
            return
        self._link(files, out)

    def _run_in_fresh_database(
        self, files: list[Path], out: Path, database_url: str, engine: str = ""
    ) -> None:
        with tempfile.TemporaryDirectory(prefix="linli-link-") as folder:
            env = {
                **os.environ,
                FRESH_FLAG: "1",
                "LINLI_VAR_DIR": folder,
                "DATABASE_URL": database_url or f"sqlite:///{folder}/link.sqlite3",
                "LINLI_TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            }
            if engine:
                env["LINLI_LINK_ENGINE"] = engine
            command = [
                sys.executable,
                "-m",
                "linli.cli",
                "link",
                *map(str, (f.resolve() for f in files)),
                "--out",
                str(out.resolve()),
            ]
            completed = subprocess.run(command, env=env, check=False)  # noqa: S603
            if completed.returncode != 0:
                raise CommandError(both_languages(_("linking failed")))

    def _link(self, files: list[Path], out: Path) -> None:
        from linli.registry.importing.pipeline import run_batch
        from linli.registry.models import BatchStatus, ImportBatch, SourceRecord
        from linli.registry.services.imports import stage_upload

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        migrated = time.perf_counter()
        community, user = self._placeholder_world()
        total_rows = 0
        lines_of: dict[int, list[tuple[str, int, str]]] = {}
        # Each file is read once: its profile, the upload and the run share the table.
        contents = [path.read_bytes() for path in files]
        tables = [self._read(path, data) for path, data in zip(files, contents, strict=True)]
        # The output keeps the order given; the import follows processing_order.
        for position in processing_order([file_profile(t) for t in tables]):
            path = files[position]
            lines = lines_of.setdefault(position, [])
            batch = stage_upload(
                area=community,
                source_name=path.name,
                source_kind=guess_kind(path.name),
                file_name=path.name,
                data=contents[position],
                by=user,
                table=tables[position],
            )
            batch.status = BatchStatus.QUEUED
            batch.save(update_fields=["status"])
            batch = run_batch(batch, progress=self._progress(path.name), table=tables[position])
            self.stderr.write("")
            if batch.status == BatchStatus.FAILED:
                raise CommandError(f"{path.name}: {batch.error}")
            source_batch = batch
            if batch.status == BatchStatus.DUPLICATE:
                source_batch = ImportBatch.objects.get(
                    file_sha256=batch.file_sha256, status=BatchStatus.COMMITTED
                )
            people = dict(
                SourceRecord.objects.filter(batch=source_batch).values_list(
                    "row_number", "person_id"
                )
            )
            for row in range(1, batch.total_rows + 1):
                person = people.get(row)
                lines.append(
                    (path.name, row, str(person) if person else f"unmatched-{path.name}-{row}")
                )
            total_rows += batch.total_rows
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "row_number", "person"])
            for position in range(len(files)):
                writer.writerows(lines_of[position])
        finished = time.perf_counter()
        seconds = finished - migrated
        self.stderr.write(
            f"linked {total_rows} rows from {len(files)} files in {seconds:.2f} s "
            f"({total_rows / max(seconds, 1e-9):,.0f} rows/s; creating the empty database "
            f"took {migrated - started:.2f} s more) → {out}"
        )

    def _read(self, path: Path, data: bytes):
        from linli.registry.importing.readers import UnreadableFile, read_table

        try:
            return read_table(data, path.name)
        except UnreadableFile as error:
            raise CommandError(f"{path.name}: {error}") from error

    def _placeholder_world(self):
        from linli.accounts.models import User
        from linli.areas.models import AreaLevel
        from linli.areas.services import create_area
        from linli.core.roles import Role

        city = create_area(parent=None, level=AreaLevel.CITY, name="导入", code="")
        district = create_area(parent=city, level=AreaLevel.DISTRICT, name="导入区")
        street = create_area(parent=district, level=AreaLevel.STREET, name="导入街道")
        community = create_area(parent=street, level=AreaLevel.COMMUNITY, name="导入社区")
        user = User.objects.create(username="linker", role=Role.DATA_STEWARD)
        user.areas.add(community)
        return community, user

    def _progress(self, name: str):
        def report(phase: str, done: int, total: int) -> None:
            percent = 100 * done // total if total else 100
            self.stderr.write(f"\r{name}: {phase} {done}/{total} ({percent}%)", ending="")
            self.stderr.flush()

        return report
