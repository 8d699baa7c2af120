"""The evaluation contract: `linli link FILE... --out links.csv` on a fresh database."""

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

REGISTRATION = (
    "姓名,公民身份号码,现住址\n"
    "张三丰,610113198005171237,翠华小区1号楼1单元101室\n"
    "李秀英,610113194002032241,翠华小区1号楼1单元101室\n"
)
TESTING = "受检者姓名,证件号码,联系电话\n张三丰,610113198005171237,13812345678\n王五,,13698765432\n"


def test_link_writes_a_person_for_every_row_of_every_file(tmp_path):
    """Rows with the same ID number get the same person; every data row has a line, rows
    counted from 1 after the header, files named by their base name, in the order given."""
    first = tmp_path / "核酸检测.csv"
    first.write_text(TESTING, encoding="utf-8")
    second = tmp_path / "户籍.csv"
    second.write_bytes(REGISTRATION.encode("gb18030"))
    out = tmp_path / "links.csv"
    completed = subprocess.run(
        [sys.executable, "-m", "linli.cli", "link", str(first), str(second), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keys = [(r["file"], r["row_number"]) for r in rows]
    assert keys == [
        ("核酸检测.csv", "1"),
        ("核酸检测.csv", "2"),
        ("户籍.csv", "1"),
        ("户籍.csv", "2"),
    ]
    person = {(r["file"], int(r["row_number"])): r["person"] for r in rows}
    assert person[("核酸检测.csv", 1)] == person[("户籍.csv", 1)]
    assert len({person[("户籍.csv", 1)], person[("户籍.csv", 2)], person[("核酸检测.csv", 2)]}) == 3
    assert "linked 4 rows from 2 files" in completed.stderr


def test_processing_order_anchors_on_the_best_identified_file():
    """The file with most valid IDs goes first, then ID-bearing files richest in phones and
    addresses, then files without IDs."""
    from linli.registry.management.commands.link import processing_order

    registration, ownership, census, testing, arrivals = (
        (1.0, 1),
        (0.0, 2),
        (0.96, 2),
        (0.97, 1),
        (0.88, 2),
    )
    profiles = [registration, ownership, census, testing, arrivals]
    assert processing_order(profiles) == [0, 2, 4, 3, 1]
    assert processing_order([]) == []
