"""Column inference on department files with the headers departments really write.

The files come from linli/registry/tests/department_files.py: bench/registry_data.py's five
files with known truth, their columns shuffled, their headers drawn from many spellings and
their layouts varied (a title above the header, a header merged over two rows, no header),
as CSV in three encodings or XLSX, over several seeds. The inference is judged on spellings
it was not tuned on: HELD_OUT lists header spellings the synonym tables do not contain (the
first test checks they do not), and the files written with them must still be read right.
"""

from pathlib import Path

import pytest
from django.db import transaction

from linli.registry.importing.inference import ColumnGuess, content_vote, infer_columns
from linli.registry.importing.mapping import SYNONYMS, match_header
from linli.registry.importing.readers import read_table
from linli.registry.tests import department_files

# Spellings no synonym table holds: the values alone must tell what the column is.
HELD_OUT: dict[str, list[str]] = {
    "name": ["被采样人", "当事人", "申报人", "登记对象", "Resident", "Person", "rm"],
    "id_number": ["证号", "公民号码", "身份号", "证件", "Citizen No.", "Card number", "zjh"],
    "phone": ["联络号码", "通讯号码", "电联", "Cell", "Contact", "lxhm"],
    "address": ["居所", "住处", "住所", "Residence", "zs"],
    "sex": ["男/女", "性", "Sex/Gender", "xbie"],
    "birth_date": ["诞辰", "生年月日", "Born", "Birth", "cs"],
    "relation": ["户内身份", "家中身份", "Role in household", "hngx"],
    "household_number": ["户口本编号", "户簿号", "Household ID", "hbh"],
    "residency": ["人口属性", "居住性质", "户别", "Resident kind", "rksx"],
    "compound": ["院落", "楼盘", "住宅区", "Estate name", "lp"],
    "": ["采样时刻", "检测日期时间", "Sampled at", "cysj"],
}

# Spellings the tables know, written the ways clerks write them: abbreviations, pinyin
# initials, English, slashes (decorate() adds notes, full-width letters and spaces).
TUNED: dict[str, list[str]] = {
    "name": ["姓名", "xm", "Name", "Full Name", "姓名/名字", "受检者姓名", "居民姓名"],
    "id_number": ["身份证号", "sfzh", "ID No.", "证件号码", "公民身份号码", "身份证号/证件号"],
    "phone": ["联系电话", "lxdh", "Mobile", "手机/电话", "Phone Number", "sjh"],
    "address": ["住址", "现住址", "Address", "jtzz", "家庭住址/现住址", "户籍地址"],
    "sex": ["性别", "xb", "Gender", "Sex"],
    "birth_date": ["出生日期", "csrq", "Date of Birth", "DOB", "出生年月"],
    "relation": ["与户主关系", "yhzgx", "Relationship", "关系"],
    "household_number": ["户号", "hh", "Household No."],
    "residency": ["人员类型", "rylx", "Residency", "户籍类型"],
    "compound": ["小区", "xq", "Estate", "小区名称"],
    "": ["采样时间", "检测时间", "备注时间"],
}
SEEDS = (1, 2, 3, 4, 5, 6)


def _mixed() -> dict[str, list[str]]:
    """Returns the held-out and the tuned spellings together, per field."""
    return {field: HELD_OUT[field] + TUNED[field] for field in HELD_OUT}


def test_held_out_spellings_are_not_in_the_synonym_tables():
    """The held-out spellings are unknown to the header matching, so only the values can
    map their columns: the test judges the inference on what it was not tuned on."""
    known = {spelling for spellings in SYNONYMS.values() for spelling in spellings}
    for field, spellings in HELD_OUT.items():
        for spelling in spellings:
            assert spelling not in known
            matched = match_header(spelling)
            assert matched is None, (field, spelling, matched)


def _score(written, accuracy: list[tuple[bool, str]]) -> None:
    for file in written:
        table = read_table(file.path.read_bytes(), file.path.name)
        guesses = infer_columns(table.headers, table.rows[:1000])
        assert len(guesses) == len(file.fields), (file.path.name, file.layout, table.headers)
        for guess, truth in zip(guesses, file.fields, strict=True):
            accuracy.append((guess.field == truth, f"{file.path.name} {file.layout} {guess}"))


@pytest.fixture(scope="module")
def clean_files(tmp_path_factory) -> dict[int, list[Path]]:
    files = {}
    for seed in SEEDS:
        folder = tmp_path_factory.mktemp(f"clean{seed}")
        files[seed] = department_files.generate(1500, seed, folder).files
    return files


@pytest.mark.parametrize("spellings", ["held_out", "mixed"])
def test_columns_are_mapped_right_whatever_the_headers(clean_files, tmp_path, spellings):
    """At least 99% of the columns of the department files are mapped to the right field,
    over six seeds and every layout, with held-out header spellings only and with held-out
    and tuned spellings mixed; the data rows read are the file's data rows."""
    accuracy: list[tuple[bool, str]] = []
    seen = set()
    for seed, files in clean_files.items():
        chosen = HELD_OUT if spellings == "held_out" else _mixed()
        for variant in range(3):
            out = tmp_path / f"{seed}-{variant}"
            written = department_files.write_files(files, out, seed * 10 + variant, chosen)
            _score(written, accuracy)
            seen.update(file.layout for file in written)
            for file in written:
                table = read_table(file.path.read_bytes(), file.path.name)
                clean = read_table((files[0].parent / file.original).read_bytes(), file.original)
                assert len(table.rows) == len(clean.rows), (file.path.name, file.layout)
    right = sum(ok for ok, _ in accuracy)
    wrong = [what for ok, what in accuracy if not ok]
    assert right / len(accuracy) >= 0.99, wrong
    assert len(accuracy) > 300 and seen == set(department_files.LAYOUTS)


def test_content_votes_per_field():
    """Each field is recognised from its values alone; values that say nothing (times of
    day, small numbers) give no vote."""
    cases = {
        "name": ["张三", "李秀英", "欧阳娜娜", "王五", "赵六"],
        "id_number": ["610113198005171237", "610113194002032241"],
        "phone": ["13812345678", "+86 139-1234-5678"],
        "birth_date": ["1980-05-17", "1940-02-03"],
        "sex": ["男", "女", "女"],
        "address": ["翠华小区3号楼2单元501室", "3-2-501"],
        "relation": ["户主", "配偶", "子", "女", "孙子"],
        "residency": ["户籍", "流动", "常住"],
        "household_number": ["610113000001", "610113000001", "610113000002"],
        "compound": ["翠华小区", "翠华", "紫薇花园", "翠华小区"],
        "building": ["3号楼", "5栋", "3号楼"],
    }
    for field, values in cases.items():
        vote = content_vote(values)
        assert vote is not None and vote.field == field, (field, vote)
    assert content_vote(["2022-11-05 07:30", "2022-11-06 08:12"]) is None
    assert content_vote(["1", "2", "3"]) is None


def test_header_and_content_vote_and_clear_content_wins():
    """Header and content agree; a header no synonym knows is read from its values; a known
    header over values of another kind gives way to the values; a remembered mapping wins;
    another person's phone is not taken for the resident's."""
    headers = ["姓名", "证号", "联系电话", "紧急联系人电话", "备注"]
    rows = [
        ["张三", "610113198005171237", "1980-05-17", "13812345678", "无"],
        ["李四", "", "1940-02-03", "13912345678", ""],
    ]
    guesses = infer_columns(headers, rows)
    assert [g.field for g in guesses] == ["name", "id_number", "birth_date", "", ""]
    assert guesses[0].reason.code == "both"
    assert guesses[1].reason.code == "content"
    assert (
        str(guesses[1].reason)
        == "1 个值中有 1 个是有效身份证号 / 1 of 1 values are valid ID numbers"
    )
    assert guesses[2].reason.code == "content"  # the values are dates, whatever the header
    assert guesses[3].reason.code == "other_person"
    assert guesses[4].reason.code == "unknown"
    remembered = infer_columns(headers, rows, {"证号": "", "联系电话": "phone"})
    assert [g.field for g in remembered][:3] == ["name", "", "phone"]
    assert remembered[1].reason.code == remembered[2].reason.code == "remembered"
    assert all(isinstance(g, ColumnGuess) for g in guesses)


def _link(files: list[Path], out: Path, monkeypatch) -> dict[tuple[str, int], str]:
    """Runs `linli link` in this process on the test database, then rolls it back."""
    import csv

    from django.core.management import call_command

    from linli.registry.management.commands.link import FRESH_FLAG

    monkeypatch.setenv(FRESH_FLAG, "1")
    with transaction.atomic():
        call_command("link", *map(str, files), "--out", str(out))
        transaction.set_rollback(True)
    with out.open(encoding="utf-8") as handle:
        return {(r["file"], int(r["row_number"])): r["person"] for r in csv.DictReader(handle)}


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [11, 12])
def test_linking_quality_with_messy_headers_matches_clean_headers(tmp_path, monkeypatch, seed):
    """The same files with held-out and tuned headers, shuffled columns and every layout
    link within 0.002 of precision and recall of the files with clean headers."""
    truth = department_files.generate(2000, seed, tmp_path / "source")
    scores = {}
    for kind in ("clean", "messy"):
        written = department_files.write_files(
            truth.files,
            tmp_path / kind,
            seed,
            _mixed(),
            clean=kind == "clean",
        )
        links = _link([w.path for w in written], tmp_path / f"{kind}.csv", monkeypatch)
        renamed = {w.path.name: w.original for w in written}
        predicted = {(renamed[file], row): person for (file, row), person in links.items()}
        scores[kind] = department_files.bench_data().pairwise_scores(predicted, truth.rows)
    (clean_precision, clean_recall, _), (precision, recall, _) = scores["clean"], scores["messy"]
    assert clean_precision >= 0.99 and clean_recall >= 0.95, scores
    assert abs(precision - clean_precision) <= 0.002, scores
    assert abs(recall - clean_recall) <= 0.002, scores


def test_the_better_spelling_wins_between_two_columns_of_names():
    """A file listing each resident's head of household beside the resident: both columns
    hold names, and 姓名 (the resident) wins over 户主姓名 whatever the shares."""
    headers = ["户主姓名", "姓名"]
    rows = [["张三", "张三"], ["张三", "李四"], ["王五", "王五"], ["王五", "x1"]]
    assert [g.field for g in infer_columns(headers, rows)] == ["", "name"]


def test_compounds_known_in_the_area_tree_are_recognised_without_a_suffix():
    """Nicknames with no 小区/花园 ending are compound names when the area tree knows them."""
    headers = ["lp", "xm"]
    rows = [["翠华", "张三"], ["紫薇", "李四"], ["翠华", "王五"], ["紫薇", "赵六"]]
    assert [g.field for g in infer_columns(headers, rows)] == ["", "name"]
    known = ["翠华小区", "翠华", "紫薇花园", "紫薇"]
    guesses = infer_columns(headers, rows, known_compounds=known)
    assert [g.field for g in guesses] == ["compound", "name"]
    assert guesses[0].reason.code == "content"


@pytest.mark.django_db
def test_compound_names_are_the_community_s_compounds_and_their_aliases():
    """An import into a grid or its community sees the community's compounds, aliases too."""
    from linli.areas.models import AreaLevel
    from linli.areas.services import create_area
    from linli.registry.importing.pipeline import compound_names

    city = create_area(parent=None, level=AreaLevel.CITY, name="西安")
    district = create_area(parent=city, level=AreaLevel.DISTRICT, name="雁塔区")
    street = create_area(parent=district, level=AreaLevel.STREET, name="小寨路街道")
    community = create_area(parent=street, level=AreaLevel.COMMUNITY, name="翠华社区")
    grid = create_area(parent=community, level=AreaLevel.GRID, name="一网格")
    create_area(parent=grid, level=AreaLevel.COMPOUND, name="翠华小区", aliases=["翠华"])
    other = create_area(parent=street, level=AreaLevel.COMMUNITY, name="别的社区")
    create_area(parent=other, level=AreaLevel.COMPOUND, name="金泰家园")
    assert sorted(compound_names(community)) == ["翠华", "翠华小区"]
    assert sorted(compound_names(grid)) == ["翠华", "翠华小区"]
