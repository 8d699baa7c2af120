"""Parsing addresses onto compound, building, unit and dwelling; resolving compound names."""

from dataclasses import replace

import pytest

from linli.registry.importing.addresses import (
    CompoundResolver,
    chinese_number,
    parse_address,
    parse_building,
    parse_room,
    parse_unit,
    strip_admin_prefix,
)
from linli.registry.importing.records import AddressParts

DWELLING = AddressParts(building="3号楼", unit="2单元", room="501室", floor=5)
IN_CUIHUA = AddressParts(compound="翠华小区", building="3号楼", unit="2单元", room="501室", floor=5)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("3-2-501", DWELLING),
        ("3-2-501室", DWELLING),
        ("3－2－501", DWELLING),
        ("3 2 501", DWELLING),
        ("3号楼2单元501室", DWELLING),
        ("3栋2单元501", DWELLING),
        ("3幢2单元501室", DWELLING),
        ("三栋二单元501", DWELLING),
        ("3栋2-501", DWELLING),
        ("3号楼2单元5层501", DWELLING),
        ("3号楼2单元0501", DWELLING),
        ("3號樓2單元501室", DWELLING),
        ("翠华小区3-2-501", IN_CUIHUA),
        ("翠华小区 3号楼 2单元 501", IN_CUIHUA),
        ("翠華小區3號樓2單元501室", IN_CUIHUA),
        ("陕西省西安市雁塔区小寨路街道长延堡社区翠华小区3号楼2单元501室", IN_CUIHUA),
        ("西安市雁塔区翠华小区3号楼2单元501室", IN_CUIHUA),
        ("小寨路街道长延堡社区翠华小区3-2-501", IN_CUIHUA),
        ("长延堡社区第三网格翠华小区3-2-501", IN_CUIHUA),
        ("翠华小区3-2-501（租住）", IN_CUIHUA),
        (
            "十二号楼一单元1203",
            AddressParts(building="12号楼", unit="1单元", room="1203室", floor=12),
        ),
        (
            "两号楼二十一单元101",
            AddressParts(building="2号楼", unit="21单元", room="101室", floor=1),
        ),
        (
            "紫薇花园A座1201",
            AddressParts(compound="紫薇花园", building="A座", room="1201室", floor=12),
        ),
        ("A栋-1201", AddressParts(building="A座", room="1201室", floor=12)),
        ("501室", AddressParts(room="501室", floor=5)),
        ("3-501", AddressParts(building="3号楼", room="501室", floor=5)),
        ("翠华小区3号楼", AddressParts(compound="翠华小区", building="3号楼")),
        ("翠华小区", AddressParts(compound="翠华小区")),
        (
            "八一小区二期3号楼2单元501",
            AddressParts(
                compound="八一小区二期", building="3号楼", unit="2单元", room="501室", floor=5
            ),
        ),
        ("三号院3号楼2单元501", replace(DWELLING, compound="三号院")),
        ("新城市广场3-2-501", replace(DWELLING, compound="新城市广场")),
        ("翠华新村3-2-501", replace(DWELLING, compound="翠华新村")),
        ("小寨路12号", AddressParts(compound="小寨路12号")),
        ("", AddressParts()),
        ("无", AddressParts()),
        ("不详", AddressParts()),
    ],
)
def test_parse_address(text, parts):
    """Every way of writing a dwelling gives the same canonical parts: building "3号楼",
    unit "2单元", room "501室", the floor from the room number, the compound as written
    (simplified) once administrative prefixes are stripped."""
    assert parse_address(text) == parts


def test_parsed_address_is_a_dwelling():
    """A building and a room make a dwelling; a compound alone does not."""
    assert parse_address("3-2-501").is_dwelling
    assert not parse_address("翠华小区").is_dwelling


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1),
        ("两", 2),
        ("十", 10),
        ("十一", 11),
        ("二十", 20),
        ("九十九", 99),
        ("12", 12),
        ("一〇一", 101),
        ("十十", None),
        ("百", None),
    ],
)
def test_chinese_number(text, value):
    """Chinese numerals 一…九十九 and 两 read as numbers; anything else is None."""
    assert chinese_number(text) == value


def test_admin_prefixes_only_when_they_are_admin():
    """A city or district is stripped only with another level around it, so compound names
    that happen to end in 市 or 村 are kept."""
    assert strip_admin_prefix("陕西省西安市雁塔区小寨路街道长延堡社区翠华小区") == "翠华小区"
    assert strip_admin_prefix("新城市广场") == "新城市广场"
    assert strip_admin_prefix("翠华新村") == "翠华新村"
    assert strip_admin_prefix("长安区韦曲街道东街社区") == ""
    assert strip_admin_prefix("长安区郭杜镇西江村") == ""


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", "3号楼"), ("3栋", "3号楼"), ("三号楼", "3号楼"), ("A", "A座"), ("a栋", "A座")],
)
def test_parse_building(text, value):
    """Building columns are canonical in the same way as parsed addresses."""
    assert parse_building(text) == value


def test_parse_unit_and_room():
    """Unit and room columns are canonical; the floor comes from the room number."""
    assert parse_unit("2") == "2单元"
    assert parse_unit("二单元") == "2单元"
    assert parse_room("0501") == ("501室", 5)
    assert parse_room("1203室") == ("1203室", 12)
    assert parse_room("12") == ("12室", None)


COMPOUNDS = {
    "翠华小区": ["翠华苑"],
    "紫薇花园": [],
    "八一小区": ["八一"],
    "金色家园": [],
}


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("翠华小区", "翠华小区"),
        ("翠华苑", "翠华小区"),
        ("翠華小區", "翠华小区"),
        (" 翠华 小区 ", "翠华小区"),
        ("翠华", "翠华小区"),
        ("翠华花园", "翠华小区"),
        ("紫薇", "紫薇花园"),
        ("紫薇小区", "紫薇花园"),
        ("八一", "八一小区"),
        ("金色", "金色家园"),
        ("西安市翠华小区", "翠华小区"),
        ("雁塔区小寨路街道翠华小区", "翠华小区"),
        ("翠华小区二期", "翠华小区"),
        ("紫薇花园东区", "紫薇花园"),
        ("不存在的小区", None),
        ("", None),
    ],
)
def test_compound_resolver(written, canonical):
    """Written compound names resolve through aliases, suffixes, traditional characters and
    leftover administrative prefixes; unknown names resolve to None."""
    assert CompoundResolver(COMPOUNDS).resolve(written) == canonical


def test_compound_resolver_refuses_to_guess():
    """When two compounds share a stem ("翠华小区" and "翠华花园"), the bare stem is ambiguous
    and resolves to None, while the full names still resolve."""
    resolver = CompoundResolver({"翠华小区": [], "翠华花园": []})
    assert resolver.resolve("翠华") is None
    assert resolver.resolve("翠华苑") is None
    assert resolver.resolve("翠华小区") == "翠华小区"
    assert resolver.resolve("翠华花园") == "翠华花园"


def test_compound_resolver_caches_answers():
    """Resolving the same written name twice gives the same answer (cached)."""
    resolver = CompoundResolver(COMPOUNDS)
    assert resolver.resolve("翠华") == resolver.resolve("翠华") == "翠华小区"
