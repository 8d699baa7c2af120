"""`linli link FILE... --out links.csv`: the import and matching pipeline on a fresh database.

Every data row of every file gets a line `file,row_number,person` (rows counted from 1 after
the header). Each file's columns are recognised from their headers and values, as for a file
never seen before; the mapping used is printed, one line per file, before linking, and
`--map FILE:HEADER=FIELD` (repeatable) or `--mapping mapping.json` override it. A file with no
name and no ID number column stops the command before anything is linked.
The work happens in a child process pointed at a new SQLite database in a temporary folder
(or at --database-url, which must be an empty database), so the registry in use is never
touched. `--engine spark` matches on Spark instead of DuckDB (LINLI_SPARK_MASTER says which;
docs/scale-out.md).
"""

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext_lazy as _

from linli.core.errors import both_languages
from linli.registry.matching.backends import ENGINES

if TYPE_CHECKING:
    from linli.registry.importing.inference import ColumnGuess

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


IGNORE_WORDS = ("", "-", "ignore")  # --map FILE:HEADER=ignore leaves a column out
UNUSABLE_FILE = 3  # exit status: a file has no name and no ID number column


def file_profile(table, mapping: dict[str, str] | None = None) -> tuple[float, int]:
    """Returns (share of rows with a valid ID number, how many of phone and address columns the
    file has) for a file read by read_table, under `mapping` (default: its headers' own)."""
    from linli.registry.importing.mapping import suggest_mapping
    from linli.registry.importing.normalise import is_valid_id_number

    mapping = mapping if mapping is not None else suggest_mapping(table.headers)
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


def parse_overrides(
    files: list[Path], specs: list[str], mapping_file: Path | None
) -> dict[str, dict[str, str]]:
    """Returns header → field per file name from `--mapping` (a JSON object of file name →
    {header: field}) and `--map FILE:HEADER=FIELD` specs (later ones win). FILE is the file's
    name or its path as given; FIELD a canonical field, or "ignore". Raises CommandError."""
    from linli.registry.importing.records import FIELDS

    names = {path.name: path.name for path in files} | {str(path): path.name for path in files}
    overrides: dict[str, dict[str, str]] = {}

    def add(file: str, header: str, field: str) -> None:
        name = names.get(file) or names.get(Path(file).name)
        if name is None:
            raise CommandError(
                both_languages(
                    _("--map names a file not given: %(file)s (files: %(files)s)"),
                    {"file": file, "files": ", ".join(p.name for p in files)},
                )
            )
        field = "" if field.strip().lower() in IGNORE_WORDS else field.strip()
        if field and field not in FIELDS:
            raise CommandError(
                both_languages(
                    _("unknown field “%(field)s”; the fields are: %(fields)s, or ignore"),
                    {"field": field, "fields": ", ".join(FIELDS)},
                )
            )
        overrides.setdefault(name, {})[header.strip()] = field

    if mapping_file is not None:
        try:
            given = json.loads(mapping_file.read_text(encoding="utf-8"))
            if not isinstance(given, dict) or not all(isinstance(v, dict) for v in given.values()):
                raise ValueError
        except (OSError, ValueError) as error:
            raise CommandError(
                both_languages(
                    _(
                        "%(file)s is not a mapping file: write a JSON object of file name → "
                        '{"header": "field"}'
                    ),
                    {"file": str(mapping_file)},
                )
            ) from error
        for file, columns in given.items():
            for header, field in columns.items():
                add(str(file), str(header), str(field or ""))
    for spec in specs:
        target, equals, field = spec.rpartition("=")
        file = next(
            (
                known
                for known in sorted(names, key=len, reverse=True)
                if target.startswith(f"{known}:")
            ),
            None,
        )
        if equals and file is None and ":" in target:
            file = target.partition(":")[0]  # not a file given: add() says so
        if not equals or file is None:
            raise CommandError(
                both_languages(
                    _("--map takes FILE:HEADER=FIELD (for example %(example)s), not “%(spec)s”"),
                    {"example": f"--map {files[0].name}:姓名=name", "spec": spec},
                )
            )
        add(file, target[len(file) + 1 :], field)
    return overrides


def unusable_files(guesses_of: "dict[str, list[ColumnGuess]]") -> list[str]:
    """Returns a message for each file with no name and no ID number column: its columns, and
    the flag that maps one."""
    problems = []
    for name, guesses in guesses_of.items():
        fields = {guess.field for guess in guesses}
        if "name" in fields or "id_number" in fields:
            continue
        headers = [guess.header for guess in guesses]
        problems.append(
            both_languages(
                _(
                    "%(file)s: no column holds the name or the ID number. Its columns: "
                    "%(columns)s. Map one with %(flag)s (or --mapping mapping.json)."
                ),
                {
                    "file": name,
                    "columns": ", ".join(headers),
                    "flag": f'--map "{name}:{headers[0] if headers else "HEADER"}=name"',
                },
            )
        )
    return problems


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
            "--map",
            action="append",
            default=[],
            dest="column_maps",
            metavar="FILE:HEADER=FIELD",
            help="map a column to a field (name, id_number, phone, …, or ignore); repeatable",
        )
        parser.add_argument(
            "--mapping",
            type=Path,
            default=None,
            dest="mapping_file",
            help='a JSON file: {"file name": {"header": "field"}}',
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
        column_maps, mapping_file = options["column_maps"], options["mapping_file"]
        # Checked here too, so a mistyped flag fails before a database is made.
        overrides = parse_overrides(files, column_maps, mapping_file)
        if os.environ.get(FRESH_FLAG) != "1":
            self._mapping_arguments = [
                *(f"--map={spec}" for spec in column_maps),
                *([f"--mapping={mapping_file.resolve()}"] if mapping_file else []),
            ]
            self._run_in_fresh_database(files, out, database_url, engine)
            return
        self._link(files, out, overrides)

    _mapping_arguments: list[str] = []

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
                *self._mapping_arguments,
            ]
            completed = subprocess.run(command, env=env, check=False)  # noqa: S603
            if completed.returncode == UNUSABLE_FILE:
                # The child said which file and which columns, and the flag to map them.
                raise SystemExit(UNUSABLE_FILE)
            if completed.returncode != 0:
                raise CommandError(both_languages(_("linking failed")))

    def _link(self, files: list[Path], out: Path, overrides: dict[str, dict[str, str]]) -> None:
        from linli.registry.importing.inference import describe, infer_columns, mapping_of
        from linli.registry.importing.pipeline import SAMPLE_ROWS, run_batch
        from linli.registry.models import BatchStatus, ImportBatch, SourceRecord
        from linli.registry.services.imports import stage_upload

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        migrated = time.perf_counter()
        # Each file is read once: its mapping, its profile, the upload and the run share it.
        contents = [path.read_bytes() for path in files]
        tables = [self._read(path, data) for path, data in zip(files, contents, strict=True)]
        guesses = [
            infer_columns(t.headers, t.rows[:SAMPLE_ROWS], overrides.get(p.name) or None)
            for p, t in zip(files, tables, strict=True)
        ]
        for path, guessed in zip(files, guesses, strict=True):
            self.stdout.write(describe(path.name, guessed))
        problems = unusable_files({p.name: g for p, g in zip(files, guesses, strict=True)})
        if problems:
            raise CommandError("\n".join(problems), returncode=UNUSABLE_FILE)
        mappings = [mapping_of(g) for g in guesses]
        community, user = self._placeholder_world()
        total_rows = 0
        lines_of: dict[int, list[tuple[str, int, str]]] = {}
        # The output keeps the order given; the import follows processing_order.
        profiles = [file_profile(t, m) for t, m in zip(tables, mappings, strict=True)]
        for position in processing_order(profiles):
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
                mapping=mappings[position],
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
