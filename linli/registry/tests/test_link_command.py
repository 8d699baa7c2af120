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


def _link(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "linli.cli", "link", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_link_recognises_a_name_column_no_synonym_knows(tmp_path):
    """A file whose name column has a header no synonym knows is linked: the values say it
    holds names, and the mapping line says so before linking. A row with a valid ID number
    and no name links to the person with that ID."""
    testing = tmp_path / "外单位.csv"
    testing.write_text(
        "被采样人,证号,联络号码\n"
        "张三丰,610113198005171237,13812345678\n"
        "王五,,13698765432\n"
        ",610113194002032241,\n",
        encoding="utf-8",
    )
    registration = tmp_path / "户籍.csv"
    registration.write_bytes(REGISTRATION.encode("gb18030"))
    out = tmp_path / "links.csv"
    completed = _link(str(testing), str(registration), "--out", str(out))
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.splitlines()
    mapping_line = next(line for line in lines if line.startswith("外单位.csv:"))
    assert "被采样人→name" in mapping_line
    assert (
        "2 个值中有 2 个像中文姓名 / 2 of 2 values look like Chinese personal names" in mapping_line
    )
    assert "证号→id_number" in mapping_line
    assert any(line.startswith("户籍.csv: 姓名→name; 公民身份号码→id_number") for line in lines)
    with out.open(encoding="utf-8") as handle:
        person = {(r["file"], int(r["row_number"])): r["person"] for r in csv.DictReader(handle)}
    assert person[("外单位.csv", 1)] == person[("户籍.csv", 1)]
    assert person[("外单位.csv", 3)] == person[("户籍.csv", 2)]  # nameless, linked by ID
    assert not person[("外单位.csv", 2)].startswith("unmatched")


def test_link_stops_on_a_file_with_no_name_or_id_column_and_maps_it_when_told(tmp_path):
    """A file with no usable name or ID number column stops the command before linking,
    with its columns and the flag to map them; --map then maps it, --map …=ignore leaves a
    column out."""
    unknown = tmp_path / "名单.csv"
    unknown.write_text("甲,乙\nAlice,x\nBob,y\n", encoding="utf-8")
    out = tmp_path / "links.csv"
    completed = _link(str(unknown), "--out", str(out))
    assert completed.returncode == 3
    assert "名单.csv" in completed.stderr and "甲, 乙" in completed.stderr
    assert '--map "名单.csv:甲=name"' in completed.stderr
    assert not out.exists()
    completed = _link(str(unknown), "--map", "名单.csv:甲=name", "--map", "名单.csv:乙=ignore",
                      "--out", str(out))  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "名单.csv: 甲→name | ignored: 乙" in completed.stdout
    with out.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 2


def test_parse_overrides_reads_flags_and_a_mapping_file(tmp_path):
    """--mapping gives file → {header: field}; --map FILE:HEADER=FIELD adds to it and wins;
    a file name or the path as given names the file; unknown files and fields are refused in
    Chinese and English."""
    import pytest
    from django.core.management.base import CommandError

    from linli.registry.management.commands.link import parse_overrides

    first, second = tmp_path / "a.csv", tmp_path / "b.xlsx"
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"a.csv": {"xm": "name", "备注": ""}}', encoding="utf-8")
    overrides = parse_overrides(
        [first, second],
        ["a.csv:xm=phone", f"{second}:时间:日期=ignore", "b.xlsx:zjhm=id_number"],
        mapping,
    )
    assert overrides == {
        "a.csv": {"xm": "phone", "备注": ""},
        "b.xlsx": {"时间:日期": "", "zjhm": "id_number"},
    }
    for specs in (["c.csv:xm=name"], ["a.csv:xm=shoe_size"], ["a.csv"]):
        with pytest.raises(CommandError) as caught:
            parse_overrides([first, second], specs, None)
        assert " / " in str(caught.value)  # Chinese, then English
