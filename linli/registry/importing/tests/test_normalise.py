"""Normalising names, pinyin and whole rows: what is kept, what is warned about, what rejects."""

from datetime import date

import pytest

from linli.core.idnumbers import check_character, make_id_number
from linli.registry.importing.normalise import (
    normalise_name,
    normalise_row,
    normalise_rows,
    parse_birth_date,
    parse_relation,
    parse_residency,
    pinyin_key,
)
from linli.registry.importing.records import AddressParts, CleanRow, RowError
from linli.registry.models import Relation, Residency

MAN = make_id_number("610113", date(1990, 1, 1), 123)  # odd 17th digit: male
WOMAN = make_id_number("610113", date(1985, 6, 15), 122)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("张三", "张三"),
        (" 张 三 ", "张三"),
        ("张\u3000三", "张三"),
        ("张\xa0三", "张三"),
        ("张\u200b三", "张三"),
        ("張三豐", "张三丰"),
        ("张三(租户)", "张三"),
        ("张三（户主）", "张三"),
        ("张三【已迁出】", "张三"),
        ("张三2", "张三"),
        ("张三*", "张三"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
        ("阿依古丽.买买提", "阿依古丽·买买提"),
        ("·阿依古丽··买买提·", "阿依古丽·买买提"),
        ("ＪＯＨＮ", "JOHN"),
        ("123", ""),
        ("", ""),
    ],
)
def test_normalise_name(raw, name):
    """Names lose whitespace of every kind, notes and numbering, keep one middle dot between
    parts, and are folded to simplified characters."""
    assert normalise_name(raw) == name


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("张三丰", "zhang san feng"),
        ("曾国藩", "zeng guo fan"),
        ("单田芳", "shan tian fang"),
        ("解小明", "xie xiao ming"),
        ("仇英", "qiu ying"),
        ("区志明", "ou zhi ming"),
        ("朴槿惠", "piao jin hui"),
        ("查良镛", "zha liang yong"),
        ("乐嘉", "yue jia"),
        ("盖聂", "ge nie"),
        ("缪可", "miao ke"),
        ("单于田", "chan yu tian"),
        ("尉迟恭", "yu chi gong"),
        ("张长江", "zhang chang jiang"),
        ("阿依古丽·买买提", "a yi gu li mai mai ti"),
        ("JOHN", "john"),
        ("", ""),
    ],
)
def test_pinyin_key(name, key):
    """Toneless pinyin, surnames read as surnames, given names read as words when they are."""
    assert pinyin_key(name) == key


def test_homophones_share_a_pinyin_key():
    """同音字 typos give the same key, which is what the matcher compares."""
    assert pinyin_key("张三丰") == pinyin_key("张三峰")
    assert pinyin_key("曾小明") == pinyin_key("增小明")


def test_clean_row():
    """A good row keeps every field normalised; sex, birth date and region come from the ID."""
    row = normalise_row(
        7,
        {
            "name": "張 三",
            "id_number": MAN.lower(),
            "phone": "+86 138-1234-5678",
            "address": "翠华小区3-2-501",
            "sex": "男",
            "residency": "户籍",
            "relation": "户主",
            "household_number": " 0012 ",
        },
    )
    assert row == CleanRow(
        row_number=7,
        name="张三",
        name_pinyin="zhang san",
        id_number=MAN,
        birth_date=date(1990, 1, 1),
        sex="M",
        region_code="610113",
        phone="13812345678",
        address=AddressParts(
            compound="翠华小区", building="3号楼", unit="2单元", room="501室", floor=5
        ),
        residency="registered",
        relation="head",
        household_number="0012",
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("6.10103E+17", "excel_scientific"),
        ("6.10103199001011e+17", "excel_scientific"),
        ("610103199001011000", "excel_rounded"),
        (MAN[:-1] + ("1" if MAN[-1] != "1" else "2"), "checksum"),
        ("61011319901301123X", "birth_date"),
        ("12345", "format"),
    ],
)
def test_invalid_id_keeps_the_row_but_never_the_id(raw, code):
    """A row with a name and a bad ID is kept: the ID is dropped, its problem recorded with
    the validator's code, and a warning in Chinese and English explains it."""
    row = normalise_row(1, {"name": "张三", "id_number": raw})
    assert isinstance(row, CleanRow)
    assert row.id_number == ""
    assert row.id_problem == code
    assert row.birth_date is None and row.sex == "" and row.region_code == ""
    assert [(warning.field, warning.code) for warning in row.warnings] == [("id_number", code)]
    assert row.warnings[0].zh and row.warnings[0].en


def test_fifteen_digit_id_is_upgraded():
    """A first-generation ID becomes its 18-character form."""
    row = normalise_row(1, {"name": "张三", "id_number": "610113900101123"})
    assert len(row.id_number) == 18
    assert row.birth_date == date(1990, 1, 1)


def test_invalid_phone_is_dropped_with_a_warning():
    """A phone that is not a mobile or a landline is dropped, the row kept."""
    row = normalise_row(1, {"name": "张三", "phone": "1.38123E+10"})
    assert row.phone == ""
    assert [(warning.field, warning.code) for warning in row.warnings] == [("phone", "format")]


def test_two_phones_in_one_cell_keep_the_first_good_one():
    """Property files put two numbers in one cell; the first valid one is kept."""
    row = normalise_row(1, {"name": "张三", "phone": "13812345678/13987654321"})
    assert row.phone == "13812345678"
    assert row.warnings == []


def test_sex_from_column_without_id():
    """Without a valid ID the sex column is used, in any of its spellings."""
    for raw, sex in [("男", "M"), ("女", "F"), ("M", "M"), ("f", "F"), ("Female", "F")]:
        assert normalise_row(1, {"name": "张三", "sex": raw}).sex == sex


def test_sex_column_conflicting_with_id_is_a_warning():
    """The ID's sex wins over a conflicting column, with a warning."""
    row = normalise_row(1, {"name": "张三", "id_number": WOMAN, "sex": "男"})
    assert row.sex == "F"
    assert [warning.code for warning in row.warnings] == ["sex_conflict"]


def test_unrecognised_sex_is_a_warning():
    """A sex value nobody can read is ignored with a warning; 未知 is simply empty."""
    assert normalise_row(1, {"name": "张三", "sex": "？"}).warnings[0].code == "sex_unknown"
    assert normalise_row(1, {"name": "张三", "sex": "未知"}).warnings == []


@pytest.mark.parametrize(
    "raw",
    [
        "1990-01-31",
        "1990/1/31",
        "1990.1.31",
        "19900131",
        "1990年1月31日",
        "1990-01-31 00:00:00",
        "32904",
    ],
)
def test_birth_date_formats(raw):
    """Birth dates in the usual spellings and as Excel serial numbers read as dates."""
    assert parse_birth_date(raw) == date(1990, 1, 31)
    assert normalise_row(1, {"name": "张三", "birth_date": raw}).birth_date == date(1990, 1, 31)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1990-05", "birth_date_partial"),
        ("1990年5月", "birth_date_partial"),
        ("1990-02-30", "birth_date_invalid"),
        ("2990-01-01", "birth_date_invalid"),
        ("yesterday", "birth_date_invalid"),
    ],
)
def test_bad_birth_dates_are_warnings(raw, code):
    """A birth date that is partial or not a date is ignored with a warning."""
    row = normalise_row(1, {"name": "张三", "birth_date": raw})
    assert row.birth_date is None
    assert [warning.code for warning in row.warnings] == [code]


def test_birth_date_from_id_wins_over_the_column():
    """The ID's birth date is kept; a different column value is a warning."""
    row = normalise_row(1, {"name": "张三", "id_number": MAN, "birth_date": "1991-01-01"})
    assert row.birth_date == date(1990, 1, 1)
    assert [warning.code for warning in row.warnings] == ["birth_date_conflict"]
    row = normalise_row(1, {"name": "张三", "id_number": MAN, "birth_date": "1990/1/1"})
    assert row.warnings == []


@pytest.mark.parametrize(
    ("raw", "residency"),
    [
        ("户籍", Residency.REGISTERED),
        ("本地户籍", Residency.REGISTERED),
        ("户籍人口", Residency.REGISTERED),
        ("常住", Residency.RESIDENT),
        ("常住人口", Residency.RESIDENT),
        ("人户分离", Residency.RESIDENT),
        ("流动", Residency.FLOATING),
        ("流动人口", Residency.FLOATING),
        ("外来", Residency.FLOATING),
        ("外来人口", Residency.FLOATING),
        ("暂住", Residency.FLOATING),
        ("非本地户籍", Residency.FLOATING),
        ("floating", Residency.FLOATING),
    ],
)
def test_residency(raw, residency):
    """Residency spellings map onto registered / resident / floating."""
    assert parse_residency(raw) == residency


def test_unknown_residency_is_a_warning():
    """An unreadable residency is left empty with a warning."""
    row = normalise_row(1, {"name": "张三", "residency": "火星"})
    assert row.residency == ""
    assert [warning.code for warning in row.warnings] == ["residency_unknown"]


@pytest.mark.parametrize(
    ("raw", "relation"),
    [
        ("户主", Relation.HEAD),
        ("本人", Relation.HEAD),
        ("配偶", Relation.SPOUSE),
        ("妻", Relation.SPOUSE),
        ("丈夫", Relation.SPOUSE),
        ("子", Relation.CHILD),
        ("女儿", Relation.CHILD),
        ("之子", Relation.CHILD),
        ("长女", Relation.CHILD),
        ("父亲", Relation.PARENT),
        ("母", Relation.PARENT),
        ("孙子", Relation.GRANDCHILD),
        ("外孙女", Relation.GRANDCHILD),
        ("祖母", Relation.GRANDPARENT),
        ("外祖父", Relation.GRANDPARENT),
        ("兄", Relation.SIBLING),
        ("妹妹", Relation.SIBLING),
        ("租户", Relation.NON_RELATIVE),
        ("保姆", Relation.NON_RELATIVE),
        ("非亲属", Relation.NON_RELATIVE),
        ("儿媳", Relation.OTHER_RELATIVE),
        ("女婿", Relation.OTHER_RELATIVE),
        ("侄子", Relation.OTHER_RELATIVE),
        ("-", ""),
        ("无", ""),
    ],
)
def test_relation(raw, relation):
    """Relation spellings map onto the Relation choices; other kin are other_relative."""
    assert parse_relation(raw) == relation


def test_address_columns_override_the_parsed_address():
    """Compound, building, unit and room columns win over the parts of a whole address."""
    row = normalise_row(
        1,
        {
            "name": "张三",
            "address": "翠华小区3号楼2单元501室",
            "compound": "翠華苑",
            "building": "5",
            "room": "0602",
        },
    )
    assert row.address == AddressParts(
        compound="翠华苑", building="5号楼", unit="2单元", room="602室", floor=6
    )


def test_address_parts_in_separate_columns():
    """A file with only compound/building/unit/room columns yields the same parts."""
    row = normalise_row(
        1, {"name": "张三", "compound": "翠华小区", "building": "3栋", "unit": "二", "room": "501"}
    )
    assert row.address == AddressParts(
        compound="翠华小区", building="3号楼", unit="2单元", room="501室", floor=5
    )


def test_whole_address_in_the_room_column():
    """A room column holding "3-2-501" (a 房号 column) gives building, unit and room."""
    row = normalise_row(1, {"name": "张三", "compound": "翠华小区", "room": "3-2-501"})
    assert row.address == AddressParts(
        compound="翠华小区", building="3号楼", unit="2单元", room="501室", floor=5
    )


def test_unreadable_address_is_a_warning():
    """An address from which nothing can be read is a warning, not a rejection."""
    row = normalise_row(1, {"name": "张三", "address": "——"})
    assert row.address == AddressParts()
    assert [warning.code for warning in row.warnings] == ["address_unparsed"]


def test_missing_name_rejects_the_row_with_its_other_problems():
    """Without a name the row is rejected; the other problems come after the reason."""
    errors = normalise_row(1, {"name": "", "id_number": "6.10103E+17", "phone": "138"})
    assert [(error.field, error.code) for error in errors] == [
        ("name", "name_missing"),
        ("id_number", "excel_scientific"),
        ("phone", "format"),
    ]


def test_a_valid_id_number_keeps_a_row_without_a_usable_name():
    """A row with a valid ID number and an empty or unreadable name is kept, nameless, with
    a warning: it links to the person with that ID number. Without a valid ID it is
    rejected as before."""
    for raw_name, code in (("", "name_missing_id_kept"), ("123", "name_unreadable_id_kept")):
        row = normalise_row(1, {"name": raw_name, "id_number": MAN})
        assert row.name == "" and row.id_number == MAN
        assert [warning.code for warning in row.warnings] == [code]
        assert normalise_rows(["n", "i"], [[raw_name, MAN]], {"n": "name", "i": "id_number"}) == [
            row
        ]
    errors = normalise_row(
        1, {"name": "", "id_number": MAN[:-1] + ("0" if MAN[-1] != "0" else "1")}
    )
    assert errors[0].code == "name_missing"


def test_name_without_characters_rejects_the_row():
    """A name cell holding only digits or marks is no name."""
    errors = normalise_row(1, {"name": "123", "phone": "13812345678"})
    assert [error.code for error in errors] == ["name_invalid"]


def test_too_long_name_rejects_the_row():
    """A name longer than the registry can store is rejected rather than cut."""
    errors = normalise_row(1, {"name": "张" * 61})
    assert [error.code for error in errors] == ["name_too_long"]


def test_blank_row():
    """An entirely empty row is reported as blank (the importer may skip it quietly)."""
    errors = normalise_row(1, {"name": "", "phone": "", "address": "  "})
    assert [error.code for error in errors] == ["blank_row"]


def test_every_problem_is_bilingual():
    """Every warning and error says what is wrong in Chinese and in English."""
    messy = {
        "name": "张三",
        "id_number": "6.10103E+17",
        "phone": "abc",
        "sex": "？",
        "birth_date": "1990-05",
        "residency": "火星",
        "address": "——",
    }
    row = normalise_row(1, messy)
    problems: list[RowError] = [*row.warnings, *normalise_row(2, {**messy, "name": ""})]
    assert len(problems) == 13
    for problem in problems:
        assert problem.zh and problem.en
        assert str(problem) == f"{problem.zh} / {problem.en}"


def test_valid_looking_id_ending_in_000_is_treated_as_excel_damage():
    """One Excel-rounded ID in eleven still passes the check digit; an 18-digit ID ending in
    000 is therefore never accepted, so two people can never be linked through one."""
    rounded = next(
        first17 + "0"
        for day in range(1, 29)
        if check_character(first17 := f"610113199001{day:02d}100") == "0"
    )
    row = normalise_row(1, {"name": "张三", "id_number": rounded})
    assert row.id_number == ""
    assert row.id_problem == "excel_rounded"


# --- normalise_rows ------------------------------------------------------------------------


def _row_by_row(headers, rows, mapping):
    """The per-row reading the import has always done (pipeline._row_values, then
    normalise_row): normalise_rows must give exactly this."""
    results = []
    for number, cells in enumerate(rows, start=1):
        values = {}
        for header, cell in zip(headers, cells, strict=False):
            target = mapping.get(header, "")
            if target and cell:
                values[target] = cell
        results.append(normalise_row(number, values))
    return results


MIXED_HEADERS = ["姓名", "身份证号", "手机", "备用电话", "性别", "出生日期", "住址", "小区", "房号"]
MIXED_MAPPING = {
    "姓名": "name",
    "身份证号": "id_number",
    "手机": "phone",
    "备用电话": "phone",  # two columns for one field: the last non-empty cell wins
    "性别": "sex",
    "出生日期": "birth_date",
    "住址": "address",
    "小区": "compound",
    "房号": "room",
}
MIXED_ROWS = [
    ["张三", MAN, "13812345678", "", "男", "1990-01-01", "翠华小区3号楼2单元501室", "", ""],
    ["", "", "", "", "", "", "", "", ""],  # blank row
    ["   ", "", "", "", "", "", "", "", ""],  # only spaces: blank too
    ["", MAN, "13812345678", "", "", "", "", "", ""],  # no name, a valid ID: kept
    ["12345", "", "", "", "", "", "", "", ""],  # nothing of a name left
    ["李四", "6.10103E+17", "138", "13987654321", "女", "1990/1/1", "3-2-501", "", ""],
    ["張三豐", WOMAN[:17] + "0", "13812345678/13987654321", "", "男", "1985-6-15", "", "", ""],
    ["王五", WOMAN, "", "02988881234", "男", "1984.06.15", "三栋二单元501", "翠華花園", ""],
    ["赵六", WOMAN.lower(), "+86 138-1234-5678", "", "女", "1985年6月15日", "", "", "3-2-501"],
    ["孙七", "", "12345", "", "未知", "1990-01", "陕西省西安市雁塔区翠华小区3幢2单元501室", "", ""],
    ["周八", "110105491231002", "", "", "F", "2099-01-01", "无", "", "501"],
    ["张" * 61, MAN, "", "", "", "", "", "", ""],  # name too long
    ["阿依古丽•买买提", "", "13812345678", "", "", "32904", "西安市雁塔区翠华小区3栋2单元501号"],
    ["张三(租户)", MAN, "13812345678", "", "男", "1990-01-01", "翠华小区3号楼2单元501室", "", ""],
    ["张三", MAN, "13812345678", "", "男", "1990-01-01", "翠华小区3号楼2单元501室", "", ""],
    ["", "", "13812345678x", "", "", "", "乱写的地址", "", ""],  # no name, warnings only
    ["吴九"],  # a short row: the missing cells are empty
]


def test_normalise_rows_gives_what_normalise_row_gives_row_by_row():
    """Blank rows, missing and unusable names, damaged IDs, two phone columns, traditional
    names and addresses in several spellings come out exactly as row by row, warnings and
    errors in the same order."""
    expected = _row_by_row(MIXED_HEADERS, MIXED_ROWS, MIXED_MAPPING)
    assert normalise_rows(MIXED_HEADERS, MIXED_ROWS, MIXED_MAPPING) == expected
    codes = [
        [problem.code for problem in (result if isinstance(result, list) else result.warnings)]
        for result in expected
    ]
    assert codes[1] == codes[2] == ["blank_row"]
    # Row 3 has a valid ID number: kept without its name.
    assert codes[3][0] == "name_missing_id_kept" and codes[4] == ["name_invalid"]
    assert codes[11] == ["name_too_long"]
    assert expected[5].id_problem == "excel_scientific" and expected[5].phone == "13987654321"


def test_normalise_rows_makes_a_new_row_object_for_every_row():
    """Identical rows give equal but distinct CleanRows, each with its own warnings list."""
    row = ["张三", "6.10103E+17", "", "", "", "", "", "", ""]
    results = normalise_rows(MIXED_HEADERS, [row, list(row)], MIXED_MAPPING)
    first, second = results
    assert first.warnings == second.warnings != []
    assert first is not second and first.warnings is not second.warnings
    assert (first.row_number, second.row_number) == (1, 2)


def test_normalise_rows_numbers_rows_from_first_row():
    """Rows handed over in chunks keep their numbers in the file."""
    results = normalise_rows(MIXED_HEADERS, MIXED_ROWS[:1], MIXED_MAPPING, first_row=2001)
    assert results[0].row_number == 2001


def test_normalise_rows_ignores_unmapped_columns_but_sees_them_for_blank_rows():
    """A column mapped to no field changes nothing; a field mapped but unknown to the
    normaliser still makes a nameless row "name missing" rather than blank, as row by row."""
    headers = ["姓名", "备注", "其他"]
    mapping = {"姓名": "name", "备注": "", "其他": "notes"}
    rows = [["张三", "x", ""], ["", "x", ""], ["", "", "y"], ["", "", ""]]
    results = normalise_rows(headers, rows, mapping)
    assert results == _row_by_row(headers, rows, mapping)
    assert [r[0].code for r in results[1:]] == ["blank_row", "name_missing", "blank_row"]


def test_normalise_rows_on_an_empty_table():
    assert normalise_rows(MIXED_HEADERS, [], MIXED_MAPPING) == []
