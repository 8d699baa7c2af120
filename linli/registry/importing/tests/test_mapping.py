"""Suggesting and checking column mappings from the headers departments actually use."""

import pytest

from linli.registry.importing.mapping import (
    SYNONYMS,
    header_key,
    match_header,
    suggest_mapping,
    validate_mapping,
)
from linli.registry.importing.records import FIELDS


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("姓名", "name"),
        ("受检者姓名", "name"),
        ("业主姓名", "name"),
        ("户主", "name"),
        ("户主姓名", "name"),
        ("居民姓名", "name"),
        ("Name", "name"),
        ("身份证号", "id_number"),
        ("公民身份号码", "id_number"),
        ("证件号码", "id_number"),
        ("证件号", "id_number"),
        ("身份证", "id_number"),
        ("身份证号码", "id_number"),
        ("ID", "id_number"),
        ("id_number", "id_number"),
        ("手机", "phone"),
        ("手机号码", "phone"),
        ("联系电话", "phone"),
        ("电话", "phone"),
        ("联系方式", "phone"),
        ("Mobile", "phone"),
        ("phone", "phone"),
        ("住址", "address"),
        ("现住址", "address"),
        ("户籍地址", "address"),
        ("房号", "address"),
        ("地址", "address"),
        ("居住地址", "address"),
        ("家庭住址", "address"),
        ("address", "address"),
        ("小区", "compound"),
        ("小区名称", "compound"),
        ("楼栋", "building"),
        ("楼号", "building"),
        ("栋", "building"),
        ("单元", "unit"),
        ("房间号", "room"),
        ("门牌号", "room"),
        ("室", "room"),
        ("性别", "sex"),
        ("出生日期", "birth_date"),
        ("出生年月", "birth_date"),
        ("户籍类型", "residency"),
        ("人员类型", "residency"),
        ("与户主关系", "relation"),
        ("关系", "relation"),
        ("户号", "household_number"),
    ],
)
def test_synonyms(header, field):
    """Every spelling listed in the issue maps to its field."""
    assert match_header(header)[0] == field


@pytest.mark.parametrize(
    "header",
    [
        " 姓 名 ",
        "姓名：",
        "姓名:",
        "*姓名",
        "姓名*",
        "姓名＊",
        "姓名(必填)",
        "姓名（必填）",
        "ＮＡＭＥ",
        "姓\u3000名",
        "【必填】姓名",
    ],
)
def test_decorated_headers(header):
    """Spaces, full-width characters, case, colons, asterisks and notes such as (必填) are
    ignored when matching."""
    assert header_key(header) in {"姓名", "name"}
    assert match_header(header)[0] == "name"


def test_headers_containing_a_spelling():
    """A longer header that contains a known Chinese spelling maps to its field, but ranks
    after every exact spelling."""
    assert match_header("居民身份证号码（18位）")[0] == "id_number"
    assert match_header("本人联系电话1")[0] == "phone"
    assert match_header("联系电话1")[1] > match_header("电话")[1]


@pytest.mark.parametrize(
    "header", ["紧急联系人电话", "监护人姓名", "户主身份证号", "配偶手机", "序号", "备注", "年龄"]
)
def test_other_peoples_columns_and_unknowns_are_not_matched(header):
    """Columns about somebody else (an emergency contact, the head of household) and
    unrelated columns are not mapped."""
    assert match_header(header) is None


def test_latin_spellings_only_match_whole_headers():
    """ "id" inside "paid" or "idle" is not an ID number column."""
    assert match_header("paid") is None
    assert match_header("idle_flag") is None


def test_every_synonym_field_is_a_canonical_field():
    """SYNONYMS only names fields of the contract."""
    assert set(SYNONYMS) <= set(FIELDS)


def test_suggest_mapping_for_a_testing_lab_file():
    """A typical lab file maps every known column and ignores the rest."""
    headers = ["序号", "受检者姓名", "证件类型", "证件号码", "手机号码", "现住址", "采样时间"]
    assert suggest_mapping(headers) == {
        "序号": "",
        "受检者姓名": "name",
        "证件类型": "",
        "证件号码": "id_number",
        "手机号码": "phone",
        "现住址": "address",
        "采样时间": "",
    }


def test_no_field_is_given_twice_and_the_best_spelling_wins():
    """With both 户主 and 姓名 present, 姓名 (the better spelling) gets the name even though
    户主 comes first; between equal spellings the leftmost header wins."""
    mapping = suggest_mapping(["户主", "姓名", "手机", "联系电话", "电话"])
    assert mapping == {"户主": "", "姓名": "name", "手机": "phone", "联系电话": "", "电话": ""}
    mapping = suggest_mapping(["电话", "电话(2)"])
    assert mapping == {"电话": "phone", "电话(2)": ""}


def test_remembered_mapping_wins():
    """A mapping remembered from the same source beats the synonyms, including a column the
    steward chose to ignore, and its field is not given to another column."""
    headers = ["姓名", "业主姓名", "联系电话", "备用电话", "地址"]
    remembered = {"业主姓名": "name", "备用电话": "phone", "地址": "", "旧列": "unit"}
    mapping = suggest_mapping(headers, remembered)
    assert mapping == {
        "姓名": "",
        "业主姓名": "name",
        "联系电话": "",
        "备用电话": "phone",
        "地址": "",
    }


def test_remembered_mapping_to_an_unknown_field_is_ignored():
    """A remembered field that no longer exists leaves the column unmapped."""
    assert suggest_mapping(["姓名", "X"], {"X": "shoe_size"}) == {"姓名": "name", "X": ""}


def test_validate_mapping_requires_a_name_or_an_id_number():
    """A mapping with neither a name nor an ID number column is refused, in Chinese and
    English; an ID number column alone is enough (its rows link by the ID number)."""
    problems = validate_mapping({"手机": "phone", "住址": "address"})
    assert [problem.code for problem in problems] == ["name_column_missing"]
    assert problems[0].field == "name"
    assert problems[0].zh and problems[0].en
    assert validate_mapping({"身份证号": "id_number", "手机": "phone"}) == []


def test_validate_mapping_refuses_duplicates_and_unknown_fields():
    """Two columns on one field, or a field outside the contract, are problems."""
    problems = validate_mapping({"姓名": "name", "户主": "name", "X": "shoe_size"})
    assert sorted(problem.code for problem in problems) == ["duplicate_field", "unknown_field"]


def test_validate_mapping_accepts_address_with_parts():
    """A whole address beside compound/building/unit/room columns is fine."""
    mapping = {
        "姓名": "name",
        "住址": "address",
        "小区": "compound",
        "楼栋": "building",
        "单元": "unit",
        "房间号": "room",
        "备注": "",
    }
    assert validate_mapping(mapping) == []
    assert validate_mapping(suggest_mapping(list(mapping))) == []


def test_remembered_mapping_tolerates_decoration():
    """A remembered header still applies when this month's file adds a colon or a space."""
    mapping = suggest_mapping(["业主姓名：", "电话 "], {"业主姓名": "name", "电话": ""})
    assert mapping == {"业主姓名：": "name", "电话 ": ""}
