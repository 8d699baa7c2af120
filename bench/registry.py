"""Import and link department files with known truth; print quality and speed.

    .venv/bin/python bench/registry.py [--rows 50000] [--seed 7] [--skip-postgres]

1. Generates five department files (bench/registry_data.py) with known truth and the noise
   real files have (GB18030, Excel damage, homophone typos, traditional characters, phones
   with +86, addresses in several formats, namesakes, twins, shared family phones).
2. Runs `linli link` on them (a fresh SQLite database, then a fresh PostgreSQL database):
   end-to-end rows/s, and pairwise precision, recall and F1 against the truth.
3. Runs plain Splink on the same files in the same run, with naive column handling (raw
   values, no normalisation), as the baseline, and prints Linli's import+link rows/s beside
   plain Splink's rows/s with their ratio.
4. On PostgreSQL: the staging load of the import (SourceRecord rows through COPY, as the
   pipeline does it) against a bare COPY of the same rows into an unindexed text table.

Figures are printed, never asserted: the machine is shared and noisy.
"""

import argparse
import csv
import gc
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import registry_data  # noqa: E402
from fixtures import fresh_database  # noqa: E402

PG_DATABASE = "linli_bench_registry"


def run_linli_link(files: list[Path], out: Path, database_url: str = "") -> tuple[float, float]:
    """Returns the wall-clock seconds of `linli link` (a fresh database each time) and the
    seconds of its import and linking alone (as it reports them: without starting Python and
    creating the empty database)."""
    command = [sys.executable, "-m", "linli.cli", "link", *map(str, files), "--out", str(out)]
    if database_url:
        command += ["--database-url", database_url]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LINLI_ENV": "embedded"}
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr[-4000:])
        raise SystemExit("linli link failed")
    last = [line for line in completed.stderr.splitlines() if line.startswith("linked")]
    print(f"    {last[-1]}")
    pipeline = float(re.search(r" in ([\d.]+) s ", last[-1]).group(1))
    return seconds, pipeline


def read_links(path: Path) -> dict[tuple[str, int], str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {(r["file"], int(r["row_number"])): r["person"] for r in csv.DictReader(handle)}


# ---------------------------------------------------------------------------------------------
# Baseline: plain Splink, naive columns


def naive_rows(files: list[Path]) -> list[dict]:
    """Reads the files the naive way: the first column whose header contains 姓名 is the name,
    and so on; values as they are (no normalisation)."""
    sys.path.insert(0, str(ROOT))
    from linli.registry.importing.readers import read_table

    wanted = {
        "name": ("姓名",),
        "id_number": ("身份", "证件"),
        "phone": ("电话", "手机"),
        "address": ("地址", "房号"),
    }
    rows = []
    for path in files:
        # The cell limit given: Django's settings are not configured in this process yet.
        table = read_table(path.read_bytes(), path.name, cell_limit=10**9)
        columns = {
            field: next(
                (i for i, h in enumerate(table.headers) if any(w in h for w in words)), None
            )
            for field, words in wanted.items()
        }
        for number, cells in enumerate(table.rows, start=1):
            row = {"unique_id": f"{path.name}:{number}", "file": path.name, "row_number": number}
            for field, index in columns.items():
                value = cells[index] if index is not None and index < len(cells) else ""
                row[field] = value or None
            rows.append(row)
    return rows


def run_plain_splink(files: list[Path]) -> tuple[dict[tuple[str, int], str], float]:
    """Returns plain Splink's clusters and its seconds (reading included)."""
    import duckdb
    import pyarrow as pa
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    rows = naive_rows(files)
    con = duckdb.connect()
    con.register("people_arrow", pa.Table.from_pylist(rows))
    con.sql("CREATE TABLE people AS SELECT * FROM people_arrow")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.9, 0.8]),
            cl.ExactMatch("id_number"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("address"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_number"),
            block_on("phone"),
            block_on("name"),
        ],
    )
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("people"), settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in (block_on("phone"), block_on("name")):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except Exception as error:  # a naive setup may not train on every rule
            print(f"    (baseline EM on {rule} skipped: {type(error).__name__})")
    predictions = linker.inference.predict(threshold_match_probability=0.9)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
    result = {}
    relation = clusters.as_duckdbpyrelation()
    names = relation.columns
    for values in relation.fetchall():
        item = dict(zip(names, values, strict=True))
        file, number = item["unique_id"].rsplit(":", 1)
        result[(file, int(number))] = str(item["cluster_id"])
    return result, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# Staging load against a bare COPY


def staging_versus_copy(files: list[Path], database_url: str) -> tuple[int, float, float]:
    """Returns (rows, staging seconds, bare COPY seconds) on a migrated PostgreSQL database.

    The staging load is what an import does once its rows are read, normalised and sealed:
    every row's source record (as the pipeline's record_rows yields it) COPYed into the
    staging table. The bare COPY writes the very same values, already formatted as text, into
    a table of text columns with no index, constraint or sequence.
    """
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LINLI_ENV"] = "embedded"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from linli.areas.models import AreaLevel
    from linli.areas.services import create_area
    from linli.registry.importing.mapping import suggest_mapping
    from linli.registry.importing.pipeline import stage_rows
    from linli.registry.importing.readers import read_table
    from linli.registry.importing.writing import (
        RECORD_COLUMNS,
        record_rows,
        seal_rows,
        stage_records,
    )
    from linli.registry.models import ImportBatch, ImportSource

    call_command("migrate", verbosity=0)
    city = create_area(parent=None, level=AreaLevel.CITY, name="基准")
    street = create_area(
        parent=create_area(parent=city, level=AreaLevel.DISTRICT, name="基准区"),
        level=AreaLevel.STREET,
        name="基准街道",
    )
    community = create_area(parent=street, level=AreaLevel.COMMUNITY, name="基准社区")
    source = ImportSource.objects.create(
        name="bench", kind="census", area=community, area_path=community.path
    )
    prepared = []
    for path in files:
        table = read_table(path.read_bytes(), path.name)
        batch = ImportBatch.objects.create(
            source=source,
            area=community,
            area_path=community.path,
            file_name=path.name,
            file_sha256=path.name,
            headers=table.headers,
            mapping=suggest_mapping(table.headers),
            total_rows=len(table.rows),
        )
        staged = stage_rows(batch, table)
        seal_rows(staged)
        prepared.append((batch, staged))
    rows = sum(len(staged) for _, staged in prepared)
    # The same values as plain text, for a table with no index, constraint or sequence.
    buffer = io.StringIO()
    for _, staged in prepared:
        for values in record_rows(staged):
            buffer.write("\t".join(_copy_text(v) for v in values) + "\n")
    text = buffer.getvalue()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bare_copy (" + ", ".join(f'"{c}" text' for c in RECORD_COLUMNS) + ")"
        )
    # Both loads alternate, five times each, with the cyclic garbage collector off as during
    # an import; the medians are compared.
    staging_runs, bare_runs = [], []
    gc.disable()
    try:
        for _ in range(5):
            started = time.perf_counter()
            for batch, staged in prepared:
                stage_records(batch, staged).discard()
            staging_runs.append(time.perf_counter() - started)
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE bare_copy")
                started = time.perf_counter()
                with cursor.copy("COPY bare_copy FROM STDIN") as copy:
                    copy.write(text)
                bare_runs.append(time.perf_counter() - started)
    finally:
        gc.enable()
    staging, bare = statistics.median(staging_runs), statistics.median(bare_runs)
    return rows, staging, bare


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    text = value if isinstance(value, str) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="linli-bench-") as folder:
        out = Path(folder)
        truth = registry_data.generate(args.rows, args.seed, out / "files")
        files = truth.files
        rows = sum(truth.sizes().values())
        print(f"{rows:,} rows in {len(files)} files, {truth.persons:,} people (seed {args.seed})")

        results = []
        print("linli link on SQLite …")
        seconds, pipeline = run_linli_link(files, out / "links-sqlite.csv")
        scores = registry_data.pairwise_scores(read_links(out / "links-sqlite.csv"), truth.rows)
        results.append(("Linli, SQLite", seconds, pipeline, *scores))
        if not args.skip_postgres:
            print("linli link on PostgreSQL …")
            url = fresh_database(PG_DATABASE)
            seconds, pipeline = run_linli_link(files, out / "links-pg.csv", database_url=url)
            scores = registry_data.pairwise_scores(read_links(out / "links-pg.csv"), truth.rows)
            results.append(("Linli, PostgreSQL", seconds, pipeline, *scores))
        print("plain Splink, naive columns …")
        predicted, seconds = run_plain_splink(files)
        results.append(
            (
                "plain Splink (baseline)",
                seconds,
                seconds,
                *registry_data.pairwise_scores(predicted, truth.rows),
            )
        )

        print()
        print(
            f"{'run':<26}{'command s':>10}{'rows/s':>9}{'import+link s':>15}{'rows/s':>9}"
            f"{'precision':>11}{'recall':>9}{'F1':>8}"
        )
        for name, secs, pipeline, precision, recall, f1 in results:
            print(
                f"{name:<26}{secs:>10.1f}{rows / secs:>9,.0f}{pipeline:>15.1f}"
                f"{rows / pipeline:>9,.0f}{precision:>11.4f}{recall:>9.4f}{f1:>8.4f}"
            )
        print(
            "(command: the whole `linli link`, starting Python and migrating a fresh database "
            "included; import+link: from the files to every row, person, dwelling and household "
            "written. Plain Splink reads the files and clusters, and writes nothing.)"
        )
        baseline = rows / results[-1][2]
        print()
        print(f"import+link rows/s beside plain Splink's ({baseline:,.0f} rows/s), same files:")
        for name, _secs, pipeline, *_scores in results[:-1]:
            speed = rows / pipeline
            print(f"  {name:<24}{speed:>9,.0f} rows/s   ratio {speed / baseline:.3f}")

        if not args.skip_postgres:
            url = fresh_database(PG_DATABASE + "_staging")
            count, staging, bare = staging_versus_copy(files, url)
            print()
            print(f"staging load on PostgreSQL: {count:,} source records")
            print(f"  Linli staging load:         {count / staging:>10,.0f} rows/s")
            print(f"  bare COPY of the same rows: {count / bare:>10,.0f} rows/s")
            print(f"  ratio: {bare / staging:.2f} of bare COPY speed")


if __name__ == "__main__":
    main()
