"""The same department files linked with matching on DuckDB and on Spark (local mode).

    .venv/bin/python bench/registry_spark.py [--rows 20000] [--seed 7] [--master local[2]]
                                             [--engines duckdb,spark]

Generates the files of bench/registry.py (bench/registry_data.py, known truth), runs
`linli link` on a fresh SQLite database twice, `--engine duckdb` then `--engine spark`, and
prints for each the rows/s (the whole command, and its import and linking alone: Spark's
start-up is in both), pairwise precision, recall and F1, and whether the two engines gave the
same links (the same rows together), listing the rows where they did not.

Figures are printed, never asserted: the machine is shared and noisy. docs/scale-out.md
quotes them.
"""

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import registry_data  # noqa: E402
from registry import read_links, run_linli_link  # noqa: E402


def groups(links: dict[tuple[str, int], str]) -> set[frozenset[tuple[str, int]]]:
    """Returns the links as a partition of the rows (person ids differ between databases)."""
    by_person: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for row, person in links.items():
        by_person[person].add(row)
    return {frozenset(rows) for rows in by_person.values()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--master", default="local[2]", help="LINLI_SPARK_MASTER for the run")
    parser.add_argument("--engines", default="duckdb,spark", help="which, comma-separated")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="linli-bench-spark-") as folder:
        out = Path(folder)
        truth = registry_data.generate(args.rows, args.seed, out / "files")
        rows = sum(truth.sizes().values())
        print(
            f"{rows:,} rows in {len(truth.files)} files, {truth.persons:,} people "
            f"(seed {args.seed})"
        )
        results, links = [], {}
        for engine in args.engines.split(","):
            print(f"linli link --engine {engine} …")
            # run_linli_link passes its environment on to the command's child process.
            os.environ["LINLI_LINK_ENGINE"] = engine
            os.environ["LINLI_SPARK_MASTER"] = args.master
            path = out / f"links-{engine}.csv"
            seconds, pipeline = run_linli_link(truth.files, path)
            links[engine] = read_links(path)
            scores = registry_data.pairwise_scores(links[engine], truth.rows)
            results.append((engine, seconds, pipeline, *scores))

        print()
        print(
            f"{'engine':<10}{'command s':>10}{'rows/s':>9}{'import+link s':>15}{'rows/s':>9}"
            f"{'precision':>11}{'recall':>9}{'F1':>8}"
        )
        for name, secs, pipeline, precision, recall, f1 in results:
            print(
                f"{name:<10}{secs:>10.1f}{rows / secs:>9,.0f}{pipeline:>15.1f}"
                f"{rows / pipeline:>9,.0f}{precision:>11.4f}{recall:>9.4f}{f1:>8.4f}"
            )
        if set(links) != {"duckdb", "spark"}:
            return
        duckdb, spark = groups(links["duckdb"]), groups(links["spark"])
        differing = sorted(set().union(*(duckdb ^ spark))) if duckdb != spark else []
        if not differing:
            print(f"same links: yes ({len(duckdb):,} people, every row with the same rows)")
        else:
            print(f"same links: no, {len(differing)} rows are grouped differently:")
            duckdb_of = {row: group for group in duckdb for row in group}
            spark_of = {row: group for group in spark for row in group}
            for row in differing[:20]:
                print(f"  {row}: duckdb {sorted(duckdb_of[row])}  spark {sorted(spark_of[row])}")


if __name__ == "__main__":
    main()
