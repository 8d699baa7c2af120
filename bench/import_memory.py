"""Peak memory of reading a department's workbook: the upload (with its preview) and the
background worker's parse, each in a fresh process, measured above that process's idle size.

    python bench/import_memory.py                     # the probe's file and the worst accepted
    python bench/import_memory.py --rows 100000       # a scaled version of the probe's file

The probe's file (issue 11, finding 1) is 1,000,000 rows × 24 cells pointing into a small
shared-strings table: about 2 MB zipped, just under 512 MiB unpacked; reading it whole took
4.1 GB. It is now refused by the cell limit (LINLI_IMPORT_MAX_CELLS) before it is expanded.
The worst accepted files sit just under the limit: every cell a different shared string, or
every cell a number (a new text each). The bound stated in docs/registry-import.md is 300 MB
above idle for any accepted file, for the upload and for the worker's parse alike.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LINLI_ENV", "test")

BOUND_MB = 300
HEADERS = ["姓名", "公民身份号码", "联系电话", "现住址", "与户主关系", "户号"]


def _status_kb(field: str) -> int:
    # VmHWM is this process's peak resident size (ru_maxrss would carry the parent's peak
    # across exec); VmRSS its size now.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _peak_kb() -> int:
    return _status_kb("VmHWM")


def _rss_kb() -> int:
    return _status_kb("VmRSS")


def build(kind: str, rows: int, columns: int) -> bytes:
    """Returns a workbook of `rows` data rows × `columns` cells under a header row."""
    from linli.registry.importing.workbooks import shared_strings_workbook

    header = [*HEADERS, *[f"备注{n}" for n in range(columns - len(HEADERS))]][:columns]
    if kind == "probe":  # a handful of strings, repeated: compresses to almost nothing
        values = ["张三", "翠华小区1号楼1单元101室", "户主", "13812345678"]
        strings = [*values, *header]  # the values first: one-digit indexes, as small as can be
        body = [col % len(values) for col in range(columns)]
        data_rows = (body for _ in range(rows))
        # Without r="A1" on its cells, as the probe made it: just under 512 MiB unpacked.
        header_row = list(range(len(values), len(values) + columns))
        return shared_strings_workbook(strings, [header_row, *data_rows], references=False)
    if kind == "unique":  # every cell its own shared string, as many as a file may have
        strings = [*header]
        table: list[list[int | float]] = [list(range(columns))]
        for row in range(rows):
            start = len(strings)
            strings.extend(f"张{row}-{col}" for col in range(columns))
            table.append(list(range(start, start + columns)))
        return shared_strings_workbook(strings, table)
    if kind == "mixed":  # a third distinct shared strings, two thirds numbers
        strings = [*header]
        table = [list(range(columns))]
        texts = columns // 3
        for row in range(rows):
            start = len(strings)
            strings.extend(f"张{row}-{col}" for col in range(texts))
            numbers_part = [13800000000.0 + row * columns + col for col in range(columns - texts)]
            table.append([*range(start, start + texts), *numbers_part])
        return shared_strings_workbook(strings, table)
    # numbers: every cell a number, so every cell a new text when read
    numbers: list[list[int | float]] = [list(range(columns))]
    numbers.extend(
        [13800000000.0 + row * columns + col for col in range(columns)] for row in range(rows)
    )
    return shared_strings_workbook(header, numbers)


def measure(phase: str, path: str) -> None:
    """Runs one phase in this (fresh) process and prints its peak above idle."""
    import django

    django.setup()
    from linli.registry.importing.normalise import normalise_rows
    from linli.registry.importing.pipeline import SAMPLE_ROWS
    from linli.registry.importing.readers import UnreadableFile, read_table

    idle = _rss_kb()
    data = Path(path).read_bytes()  # the request body / the decrypted file: counted
    started = time.monotonic()
    outcome = ""
    try:
        if phase == "upload":
            table = read_table(data, "bench.xlsx", sample=SAMPLE_ROWS)
            fields = ["name", "id_number", "phone", "address", "relation", "household_number"]
            mapping = dict(zip(HEADERS, fields, strict=True))
            normalise_rows(table.headers, table.rows, mapping)  # the preview
        else:
            table = read_table(data, "bench.xlsx")
        outcome = f"accepted {table.total_rows:,} rows, {table.cells:,} cells"
    except UnreadableFile as error:
        outcome = f"refused: {error.en}"
    seconds = time.monotonic() - started
    above = (_peak_kb() - idle) / 1024
    print(
        f"{phase:>7}: peak {above:7.1f} MB above idle ({idle / 1024:.0f} MB) "
        f"in {seconds:5.1f} s, {outcome}"
    )
    sys.stdout.flush()
    sys.exit(0 if above <= BOUND_MB else 3)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phase", choices=["upload", "worker"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the probe's file")
    parser.add_argument("--columns", type=int, default=24)
    parser.add_argument(
        "--kinds",
        default="probe,unique,numbers,mixed",
        help="probe (the finding's file), unique and numbers (worst accepted)",
    )
    args = parser.parse_args()
    if args.phase:
        measure(args.phase, args.file)
        return 0
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from linli.registry.importing import readers

    limit = readers.max_cells()
    print(f"cell limit {limit:,} (LINLI_IMPORT_MAX_CELLS); bound {BOUND_MB} MB above idle")
    failed = False
    for kind in args.kinds.split(","):
        # Data rows under the header row, just inside the limits (the header is 24 strings).
        rows = args.rows if kind == "probe" else limit // args.columns - 3
        if kind == "unique":
            rows = readers.MAX_SHARED_STRINGS // args.columns - 1
        if kind == "mixed":  # as many rows as the workbook's memory estimate lets through
            texts = args.columns // 3
            per_row = (
                texts * (readers.SHARED_STRING_BYTES + readers.REFERENCE_BYTES)
                + (args.columns - texts) * readers.CELL_BYTES
            )
            rows = limit * readers.CELL_BYTES // per_row - 2
        data = build(kind, rows, args.columns)
        with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as handle:
            handle.write(data)
        print(f"{kind}: {rows:,} rows × {args.columns} cells, {len(data) / 1e6:.1f} MB zipped")
        for phase in ("upload", "worker"):
            done = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--file", handle.name], check=False
            )
            failed |= done.returncode != 0
        os.unlink(handle.name)
    print("within the bound" if not failed else f"OVER THE BOUND of {BOUND_MB} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
