"""Department files with the headers real departments write, for the robustness tests of
column inference.

`bench/registry_data.py` writes five department files with known truth and clean headers.
`write_files` rewrites them: the same rows, the columns in a random order, each header drawn
from a list of spellings for its field (abbreviations, pinyin initials, English, full-width,
slashes, notes in brackets) and the file laid out one of the ways departments lay them out —
a plain header, a title row above it (the header on the second row), a header merged over two
rows in a workbook (group titles merged across columns, a cell merged down), or no header row
at all — as CSV (UTF-8, UTF-8 with BOM or GB18030) or XLSX. `clean=True` writes the same rows,
columns and formats with the clean headers and a plain layout: the baseline a test compares
linking quality with.

Every file comes back with the field of each of its columns as written (the truth a test
checks the inferred mapping against) and its name (the extension may change).
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

from linli.registry.importing.mapping import suggest_mapping
from linli.registry.importing.readers import read_table

ROOT = Path(__file__).resolve().parents[3]

LAYOUTS = ("plain", "title", "merged", "no_header")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
NOTES = ("（必填）", "(18位)", "【本人】", "(请核对)", "*", "：", "（如有）")
GROUPS = ("基本信息", "联系方式", "居住情况", "登记信息")


@dataclass
class WrittenFile:
    path: Path
    original: str  # the file's name in bench/registry_data.py's truth
    fields: list[str]  # the field of each column, in the written order ("" = none)
    headers: list[str]  # the headers written ([] without a header row)
    layout: str


def bench_data():
    """Returns bench/registry_data.py as a module (it lives beside the benchmarks)."""
    bench = str(ROOT / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import registry_data

    return registry_data


def generate(rows: int, seed: int, out_dir: Path):
    """Returns the truth of five clean department files written to out_dir."""
    return bench_data().generate(rows, seed, out_dir)


def _fullwidth(text: str) -> str:
    return "".join(
        chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else "\u3000" if char == " " else char
        for char in text
    )


def decorate(header: str, rng: random.Random) -> str:
    """Returns a header as a hurried clerk types it: a note, full-width letters, an upper-case
    first letter, spaces, a slash with a second spelling."""
    draw = rng.random()
    if draw < 0.2:
        header += rng.choice(NOTES)
    elif draw < 0.3 and header.isascii():
        header = _fullwidth(header)
    elif draw < 0.4 and header.isascii():
        header = header.upper()
    elif draw < 0.5:
        header = " ".join(header) if len(header) <= 4 else f" {header} "
    return header


def _read_clean(path: Path) -> tuple[list[str], list[list[str]], list[str]]:
    table = read_table(path.read_bytes(), path.name)
    mapping = suggest_mapping(table.headers)
    return table.headers, table.rows, [mapping[h] for h in table.headers]


def write_files(
    clean_files: list[Path],
    out_dir: Path,
    seed: int,
    spellings: dict[str, list[str]],
    *,
    clean: bool = False,
    layouts: tuple[str, ...] = LAYOUTS,
) -> list[WrittenFile]:
    """Writes every clean file again to out_dir with its columns shuffled and headers drawn
    from `spellings` (field → spellings; "" for a column that holds no field), laid out in
    one of `layouts`. With clean=True the same rows, order and formats with clean headers."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in clean_files:
        headers, rows, fields = _read_clean(path)
        order = list(range(len(headers)))
        rng.shuffle(order)
        layout = rng.choice(layouts)
        workbook = layout == "merged" or rng.random() < 0.4
        extension = ".xlsx" if workbook else ".csv"
        encoding = rng.choice(ENCODINGS)
        new_headers = [decorate(rng.choice(spellings[fields[i]]), rng) for i in order]
        if clean:
            new_headers, layout = [headers[i] for i in order], "plain"
        name = Path(path.name).stem + extension
        target = out_dir / name
        body = [[row[i] for i in order] for row in rows]
        if workbook:
            _write_workbook(target, new_headers, body, layout, rng)
        else:
            _write_text(target, new_headers, body, layout, encoding)
        written.append(
            WrittenFile(
                path=target,
                original=path.name,
                fields=[fields[i] for i in order],
                headers=[] if layout == "no_header" else new_headers,
                layout=layout,
            )
        )
    return written


def _title(rng: random.Random) -> str:
    return rng.choice(("小寨路街道人员登记表", "翠华社区居民名单（2022年11月）", "排查台账"))


def _write_text(
    path: Path, headers: list[str], rows: list[list[str]], layout: str, encoding: str
) -> None:
    with path.open("w", encoding=encoding, errors="replace", newline="") as out:
        writer = csv.writer(out)
        if layout in ("title", "merged"):
            writer.writerow([_title(random.Random(len(rows)))])
        if layout != "no_header":
            writer.writerow(headers)
        writer.writerows(rows)


def _write_workbook(
    path: Path, headers: list[str], rows: list[list[str]], layout: str, rng: random.Random
) -> None:
    book = Workbook()
    sheet = book.active
    if layout == "title":
        sheet.append([_title(rng)])
        sheet.append(headers)
    elif layout == "merged":
        # Two header rows: group titles merged across columns above, one header merged down
        # over both rows (its text in the upper cell).
        down = rng.randrange(len(headers))
        upper: list[str | None] = [None] * len(headers)
        lower: list[str | None] = list(headers)
        upper[down], lower[down] = headers[down], None
        start = 0
        while start < len(headers):
            if start == down:
                start += 1
                continue
            end = start
            while end + 1 < len(headers) and end + 1 != down and end - start < 2:
                end += 1
            upper[start] = rng.choice(GROUPS)
            if end > start:
                sheet.merge_cells(
                    start_row=1, start_column=start + 1, end_row=1, end_column=end + 1
                )
            start = end + 1
        sheet.append(upper)
        sheet.append(lower)
        sheet.merge_cells(start_row=1, start_column=down + 1, end_row=2, end_column=down + 1)
        sheet.cell(row=1, column=down + 1, value=headers[down])
        for column, value in enumerate(upper, start=1):
            if value is not None and column != down + 1:
                sheet.cell(row=1, column=column, value=value)
    elif layout == "plain":
        sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(path)
