"""Turning one mapped row of text into a CleanRow, or into the reasons it cannot be one.

Only a missing name rejects a row, and only when the row has no valid ID number either (the
ID number says who it is). A resident with a damaged ID number or a wrong phone is still a
resident, so those values are dropped with a warning (and an ID is never accepted as valid
when it is not). Everything here is pure and cached per distinct value, because it
runs on every row of every file: department files repeat names, phones and addresses.
"""

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple, TypeVar

from django.utils.translation import gettext_lazy as _
from pypinyin import lazy_pinyin
from pypinyin.constants import PHRASES_DICT

from linli.core.clock import local_today
from linli.core.errors import Message
from linli.core.idnumbers import IdNumber, InvalidIdNumber, parse_id_number
from linli.core.phones import InvalidPhone, normalise_phone
from linli.registry.importing.addresses import (
    parse_address,
    parse_building,
    parse_room,
    parse_unit,
    simplified,
)
from linli.registry.importing.records import AddressParts, CleanRow, RowError

NAME_MAX_LENGTH = 60  # Person.name's max_length

_T = TypeVar("_T")

# --- names ---------------------------------------------------------------------------------

# Middle dots people type between the parts of Uyghur, Tibetan or foreign names.
_DOTS = str.maketrans(dict.fromkeys("•・･‧∙⋅.。", "·"))
_NOTE = re.compile(r"[(\[【<（《].*?(?:[)\]】>）》]|$)")  # 张三(租户), 张三（户主, 张三【已迁出】
_NOT_NAME = re.compile(r"[^\w·]|[\d_]")  # keeps letters and CJK; drops digits ("张三2"), marks
_MANY_DOTS = re.compile(r"·{2,}")
# Markup or formula characters: "<script>alert(1)</script>" or "=HYPERLINK(…)" is not a name,
# and stripping it down to its letters ("alert") would store a made-up person.
_MARKUP = re.compile(r"[<>&\"`{}\\=]")
# Nothing but Chinese characters (unified ideographs, extension A, extensions B and later).
_HAN = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]+")


@lru_cache(maxsize=131072)
def normalise_name(raw: str) -> str:
    """Returns the name as stored: simplified characters, no whitespace, digits or notes.

    "張 三" → "张三", "张三(租户)" → "张三", "张三2" → "张三" (numbering added to tell rows
    apart), "阿依古丽•买买提" → "阿依古丽·买买提". Full-width latin letters become ASCII.
    Returns "" when nothing of a name is left.
    """
    if _HAN.fullmatch(raw):
        return simplified(raw)  # the common case: nothing but Chinese characters
    if has_markup(raw):
        return ""
    text = unicodedata.normalize("NFKC", raw)
    text = _NOTE.sub("", text).translate(_DOTS)
    text = _NOT_NAME.sub("", text)
    text = _MANY_DOTS.sub("·", text).strip("·")
    return simplified(text) if text else ""


def has_markup(raw: str) -> bool:
    """Returns whether a cell holds markup or formula characters (< > & " ` { } \\ =), which
    no real name has (a name may have letters, · and spaces)."""
    return _MARKUP.search(unicodedata.normalize("NFKC", raw)) is not None


# Surnames whose everyday reading differs from the surname reading; pypinyin (0.55) has no
# surname mode, and a surname read wrongly would hide homophone typos (曾/增 are both zeng).
_SURNAME_READINGS = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "朴": "piao",
    "查": "zha",
    "乐": "yue",
    "盖": "ge",
    "缪": "miao",
    "覃": "qin",
    "翟": "zhai",
    "召": "shao",
    "繁": "po",
    "种": "chong",
    "秘": "bi",
    "隗": "wei",
    "员": "yun",
    "句": "gou",
    "折": "she",
    "黑": "he",
    "阚": "kan",
    "卜": "bu",
    "都": "du",
    "薄": "bo",
    "祭": "zhai",
    "长": "chang",
    "能": "nai",
}
# Two-character surnames lazy_pinyin already reads right (单于 chan yu, 尉迟 yu chi …) must
# not have their first character re-read as a single surname.
_COMPOUND_SURNAMES = {"单于", "尉迟", "万俟", "长孙", "澹台", "解狐"}


@lru_cache(maxsize=16384)
def _char_reading(char: str) -> str:
    return lazy_pinyin(char)[0]


@lru_cache(maxsize=16384)
def _phrase_reading(phrase: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(phrase))


@lru_cache(maxsize=131072)
def pinyin_key(name: str) -> str:
    """Returns the toneless pinyin of a normalised name, space separated, surname read as one.

    "曾国藩" → "zeng guo fan"; a given name that is a word in pypinyin's phrase dictionary is
    read as that word (张长江 → "zhang chang jiang"), any other character by its own most
    common reading, so a typo in one character never changes how another is read. Latin
    parts come out lower case; middle dots are dropped.
    """
    if not name:
        return ""
    if not _HAN.fullmatch(name):
        # Minority and foreign names (dots, latin letters): the rare path, read whole.
        words = []
        for syllable in lazy_pinyin(name):
            words.extend(syllable.replace("·", " ").lower().split())
        if name[0] in _SURNAME_READINGS and name[:2] not in _COMPOUND_SURNAMES and words:
            words[0] = _SURNAME_READINGS[name[0]]
        return " ".join(words)
    # Reading characters one by one from a cache is ~20x faster than segmenting each name,
    # and this runs on every distinct name of every file.
    if name[:2] in _COMPOUND_SURNAMES:
        surname, given = list(_phrase_reading(name[:2])), name[2:]
    else:
        surname = [_SURNAME_READINGS.get(name[0]) or _char_reading(name[0])]
        given = name[1:]
    if len(given) >= 2 and given in PHRASES_DICT:
        readings = list(_phrase_reading(given))
    else:
        readings = [_char_reading(char) for char in given]
    return " ".join(surname + readings)


# --- other fields --------------------------------------------------------------------------


@lru_cache(maxsize=131072)
def _parse_id(raw: str) -> IdNumber | InvalidIdNumber:
    # Cached per raw value: the same resident's ID comes in every department's file. The
    # validator refuses Excel damage itself, including a trailing 000 with a valid check digit.
    try:
        parsed = parse_id_number(raw)
    except InvalidIdNumber as exc:
        return exc
    return parsed


@lru_cache(maxsize=131072)
def _parse_phone(raw: str) -> str | InvalidPhone:
    try:
        return normalise_phone(raw)
    except InvalidPhone as exc:
        first_error = exc
    # "13812345678/13987654321": property files often hold two numbers; keep the first good one.
    for part in _PHONE_SPLIT.split(raw):
        if part.strip():
            try:
                return normalise_phone(part)
            except InvalidPhone:
                continue
    return first_error


def is_valid_id_number(raw: str) -> bool:
    """Returns whether a cell holds a valid ID number (cached like the import's own parse)."""
    return isinstance(_parse_id(raw), IdNumber)


_PHONE_SPLIT = re.compile(r"[/,，;；、|]|\s{2,}")

_SEXES = {
    "男": "M",
    "男性": "M",
    "M": "M",
    "MALE": "M",
    "1": "M",  # GB/T 2261.1 codes
    "女": "F",
    "女性": "F",
    "F": "F",
    "FEMALE": "F",
    "2": "F",
}
_UNKNOWN_VALUES = {"", "未知", "不详", "未说明", "无", "0", "9", "-", "/", "NULL", "NONE"}

_DATE_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT].*)?")
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_PARTIAL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?|(\d{4})(\d{2})")
_EXCEL_SERIAL = re.compile(r"(\d{1,5})(?:\.0+)?")
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 is 1900-01-01 (Excel counts a fake 1900-02-29)


@lru_cache(maxsize=65536)
def parse_birth_date(raw: str) -> date | str:
    """Returns the date in a birth-date cell, or a problem code.

    Accepts 1990-01-31, 1990/1/31, 1990.1.31, 19900131, 1990年1月31日, a trailing time, and
    Excel serial numbers (32904). Codes: birth_date_partial (a month without a day: guessing
    the day would make two records of one person disagree), birth_date_invalid.
    """
    text = raw.strip()
    if (simple := _simple_date(text)) is not None:
        value = simple
    else:
        match = _DATE_FULL.fullmatch(text) or _DATE_COMPACT.fullmatch(text)
        try:
            if match:
                value = date(int(match[1]), int(match[2]), int(match[3]))
            elif _DATE_PARTIAL.fullmatch(text):
                return "birth_date_partial"
            elif serial := _EXCEL_SERIAL.fullmatch(text):
                value = _EXCEL_EPOCH + timedelta(days=int(serial[1]))
            else:
                return "birth_date_invalid"
        except (ValueError, OverflowError):
            return "birth_date_invalid"
    if value.year < 1880 or value > local_today():
        return "birth_date_invalid"
    return value


def _simple_date(text: str) -> date | None:
    """Returns the date of "1990-01-31", "1990/1/31" or "1990.1.31", None for other text.

    The commonest spellings, read without a regular expression; a real date only, so an
    impossible one ("1990-02-30") goes the long way and is refused there.
    """
    if len(text) < 8 or len(text) > 10 or not text.isascii():
        return None
    year, separator, rest = text[:4], text[4], text[5:]
    if separator not in "-/." or not year.isdigit():
        return None
    month, found, day = rest.partition(separator)
    if not (found and 1 <= len(month) <= 2 and 1 <= len(day) <= 2):
        return None
    if not (month.isdigit() and day.isdigit()):
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


_RESIDENCY_EXACT = {
    "户籍": "registered",
    "户籍人口": "registered",
    "本地户籍": "registered",
    "registered": "registered",
    "常住": "resident",
    "常住人口": "resident",
    "resident": "resident",
    "流动": "floating",
    "流动人口": "floating",
    "外来": "floating",
    "暂住": "floating",
    "floating": "floating",
}
# Checked in this order: "非本地户籍" names 户籍 but means floating.
_RESIDENCY_WORDS = (
    (
        ("非本地", "非户籍", "外地", "外来", "流动", "暂住", "租住", "外省", "外市", "境外"),
        "floating",
    ),
    (("常住", "长住", "人户分离", "寄住", "居住"), "resident"),
    (("户籍", "本地", "户口", "本市", "本区", "本社区"), "registered"),
)


@lru_cache(maxsize=1024)
def parse_residency(raw: str) -> str:
    """Returns registered / resident / floating for a residency cell, "" when unrecognised."""
    text = re.sub(r"\s", "", raw)
    if text in _RESIDENCY_EXACT or text.lower() in _RESIDENCY_EXACT:
        return _RESIDENCY_EXACT.get(text) or _RESIDENCY_EXACT[text.lower()]
    for words, residency in _RESIDENCY_WORDS:
        if any(word in text for word in words):
            return residency
    return ""


_RELATIONS = {
    "户主": "head",
    "本人": "head",
    "本人户主": "head",
    "户主本人": "head",
    "head": "head",
    "配偶": "spouse",
    "妻": "spouse",
    "夫": "spouse",
    "妻子": "spouse",
    "丈夫": "spouse",
    "之妻": "spouse",
    "之夫": "spouse",
    "老伴": "spouse",
    "spouse": "spouse",
    "子": "child",
    "女": "child",
    "儿子": "child",
    "女儿": "child",
    "之子": "child",
    "之女": "child",
    "长子": "child",
    "次子": "child",
    "三子": "child",
    "长女": "child",
    "次女": "child",
    "三女": "child",
    "独生子": "child",
    "独生女": "child",
    "养子": "child",
    "养女": "child",
    "继子": "child",
    "继女": "child",
    "子女": "child",
    "child": "child",
    "父亲": "parent",
    "母亲": "parent",
    "父": "parent",
    "母": "parent",
    "父母": "parent",
    "继父": "parent",
    "继母": "parent",
    "parent": "parent",
    "兄": "sibling",
    "弟": "sibling",
    "姐": "sibling",
    "妹": "sibling",
    "哥哥": "sibling",
    "弟弟": "sibling",
    "姐姐": "sibling",
    "妹妹": "sibling",
    "兄弟": "sibling",
    "姐妹": "sibling",
    "兄弟姐妹": "sibling",
    "sibling": "sibling",
    "租户": "non_relative",
    "租客": "non_relative",
    "保姆": "non_relative",
    "非亲属": "non_relative",
    "其他非亲属": "non_relative",
    "合租": "non_relative",
    "朋友": "non_relative",
    "同事": "non_relative",
    "护工": "non_relative",
    "non_relative": "non_relative",
    "other_relative": "other_relative",
    "grandchild": "grandchild",
    "grandparent": "grandparent",
}


@lru_cache(maxsize=1024)
def parse_relation(raw: str) -> str:
    """Returns a Relation value for a relation-to-head cell, "" for an empty or junk one.

    Exact words first, then word parts (孙/外孙 → grandchild, 祖父/外祖母 → grandparent,
    之子/之女 → child); any other kinship word (儿媳, 女婿, 侄子) is other_relative.
    """
    text = re.sub(r"[\s()（）]", "", raw)
    if text.upper() in _UNKNOWN_VALUES:
        return ""
    if text in _RELATIONS:
        return _RELATIONS[text]
    if text.lower() in _RELATIONS:
        return _RELATIONS[text.lower()]
    if "祖" in text:
        return "grandparent"
    if "孙" in text and "曾孙" not in text:
        return "grandchild"
    if "媳" in text or "婿" in text:
        return "other_relative"
    if text.endswith(("之子", "之女")) or text in {"儿", "大儿子", "小儿子", "大女儿", "小女儿"}:
        return "child"
    if any(word in text for word in ("租", "保姆", "非亲", "雇")):
        return "non_relative"
    if not any(char.isalpha() for char in text):
        return ""
    return "other_relative"


# --- rows ----------------------------------------------------------------------------------
#
# A row is assembled from field outcomes that depend on one cell or a few (the ID number,
# sex and birth date together; the address and its part columns together). Each outcome is
# a pure function of its cells, so normalise_rows works each one out once per distinct value
# of a file's columns and then only assembles rows, while normalise_row computes the same
# outcomes through the same functions: the two cannot disagree.

_EMPTY_ADDRESS = AddressParts()
_NO_WARNINGS: tuple[RowError, ...] = ()


def _problem(
    field: str, code: str, message: Message, params: Mapping[str, object] | None = None
) -> RowError:
    return RowError(field, code, message, tuple(params.items()) if params else ())


@lru_cache(maxsize=64)
def _identifier_problem(field: str, code: str, message: Message) -> RowError:
    # An ID number's or a phone's problems are a handful: one RowError each, rendered in
    # both languages once however many rows have it.
    return _problem(field, code, message)


# RowErrors are frozen, so rows may share one.
_BLANK_ROW = _problem("", "blank_row", _("blank row"))
_NAME_MISSING = _problem("name", "name_missing", _("name is empty"))
_NAME_INVALID = _problem(
    "name",
    "name_invalid",
    # The cell is not echoed: a shifted column puts ID numbers where names belong.
    _("name has no usable characters (is a column shifted?)"),
)
_NAME_MARKUP = _problem(
    "name",
    "name_markup",
    _('name contains markup or formula characters (< > & " =): not a name'),
)
# A row with a valid ID number is kept without a name: the ID number says who it is, and the
# name comes from the other sources of that person.
_NAME_MISSING_ID_KEPT = _problem(
    "name", "name_missing_id_kept", _("name is empty; the row is kept for its valid ID number")
)
_NAME_UNREADABLE_ID_KEPT = _problem(
    "name",
    "name_unreadable_id_kept",
    _("name is not readable; the row is kept for its valid ID number"),
)
_NAME_TOO_LONG = _problem(
    "name",
    "name_too_long",
    _("name is longer than %(length)s characters"),
    {"length": NAME_MAX_LENGTH},
)
_SEX_UNKNOWN = _problem("sex", "sex_unknown", _("sex is not recognised; ignored"))
_SEX_CONFLICT = _problem(
    "sex", "sex_conflict", _("sex differs from the ID number; the ID number's is kept")
)
_BIRTH_DATE_PROBLEMS = {
    "birth_date_partial": _problem(
        "birth_date", "birth_date_partial", _("birth date has a year and month but no day; ignored")
    ),
    "birth_date_invalid": _problem(
        "birth_date", "birth_date_invalid", _("birth date is not a date; ignored")
    ),
}
_BIRTH_DATE_CONFLICT = _problem(
    "birth_date",
    "birth_date_conflict",
    _("birth date differs from the ID number; the ID number's is kept"),
)
_RESIDENCY_UNKNOWN = _problem(
    "residency", "residency_unknown", _("residency is not recognised; ignored")
)
_ADDRESS_UNPARSED = _problem(
    "address", "address_unparsed", _("no compound, building or room could be read from the address")
)


class _Identity(NamedTuple):
    """What the ID number, sex and birth-date cells of a row give together."""

    id_number: str
    id_problem: str
    region_code: str
    sex: str
    birth_date: date | None
    id_warnings: tuple[RowError, ...]  # listed before the phone's warnings
    other_warnings: tuple[RowError, ...]  # sex and birth date, listed after the phone's


@lru_cache(maxsize=131072)
def _identity(raw_id: str, raw_sex: str, raw_birth: str) -> _Identity:
    # Sex and birth date come from a valid ID; a column that disagrees is a warning.
    id_number = id_problem = region_code = sex = ""
    birth_date: date | None = None
    id_warnings = _NO_WARNINGS
    if raw_id:
        parsed = _parse_id(raw_id)
        if isinstance(parsed, IdNumber):
            id_number, birth_date, sex = parsed.value, parsed.birth_date, parsed.sex
            region_code = parsed.region_code
        else:
            id_problem = parsed.code
            id_warnings = (_identifier_problem("id_number", parsed.code, parsed.message),)

    others: list[RowError] = []
    if raw_sex:
        column_sex = _SEXES.get(raw_sex.strip().upper(), "")
        if not column_sex:
            if raw_sex.strip().upper() not in _UNKNOWN_VALUES:
                others.append(_SEX_UNKNOWN)
        elif not sex:
            sex = column_sex
        elif column_sex != sex:
            others.append(_SEX_CONFLICT)

    if raw_birth and raw_birth.strip().upper() not in _UNKNOWN_VALUES:
        column_birth = parse_birth_date(raw_birth)
        if isinstance(column_birth, str):
            if birth_date is None:
                others.append(_BIRTH_DATE_PROBLEMS[column_birth])
        elif birth_date is None:
            birth_date = column_birth
        elif column_birth != birth_date:
            others.append(_BIRTH_DATE_CONFLICT)

    return _Identity(
        id_number, id_problem, region_code, sex, birth_date, id_warnings, tuple(others)
    )


@lru_cache(maxsize=131072)
def _phone(raw: str) -> tuple[str, tuple[RowError, ...]]:
    if not raw:
        return "", _NO_WARNINGS
    result = _parse_phone(raw)
    if isinstance(result, str):
        return result, _NO_WARNINGS
    return "", (_identifier_problem("phone", result.code, result.message),)


@lru_cache(maxsize=1024)
def _residency(raw: str) -> tuple[str, tuple[RowError, ...]]:
    if not raw:
        return "", _NO_WARNINGS
    residency = parse_residency(raw)
    if not residency and raw.strip().upper() not in _UNKNOWN_VALUES:
        return "", (_RESIDENCY_UNKNOWN,)
    return residency, _NO_WARNINGS


def _relation(raw: str) -> str:
    return parse_relation(raw) if raw else ""


def _name(raw: str) -> str:
    return normalise_name(raw) if raw else ""


def _household_number(raw: str) -> str:
    return raw.strip()[:40]


@lru_cache(maxsize=65536)
def _address(
    raw_address: str, raw_compound: str, raw_building: str, raw_unit: str, raw_room: str
) -> tuple[AddressParts, tuple[RowError, ...]]:
    # Address columns (compound, building, unit, room) override parts of the parsed address.
    text = raw_address.strip()
    parts = parse_address(text) if text else _EMPTY_ADDRESS
    compound = raw_compound.strip()
    building = raw_building.strip()
    unit = raw_unit.strip()
    room = raw_room.strip()
    if compound or building or unit or room:
        parts = _override(parts, compound, building, unit, room)
    if text and not (parts.compound or parts.building or parts.unit or parts.room):
        return parts, (_ADDRESS_UNPARSED,)
    return parts, _NO_WARNINGS


def _rejection(raw_name: str, name: str, warnings: list[RowError], cells: Iterable[str]):
    """Returns the errors that reject a row whose name is missing or too long.

    `cells` are the row's mapped cells, read only to tell a blank row from a nameless one.
    """
    if name:
        return [_NAME_TOO_LONG, *warnings]
    if not warnings and not any(cell.strip() for cell in cells):
        return [_BLANK_ROW]
    if not raw_name.strip():
        return [_NAME_MISSING, *warnings]
    return [_NAME_MARKUP if has_markup(raw_name) else _NAME_INVALID, *warnings]


def _nameless_warning(raw_name: str) -> RowError:
    """Returns the warning of a row kept for its valid ID number without a usable name."""
    return _NAME_MISSING_ID_KEPT if not raw_name.strip() else _NAME_UNREADABLE_ID_KEPT


def normalise_row(row_number: int, values: Mapping[str, str]) -> CleanRow | list[RowError]:
    """Returns the row as a CleanRow, or the errors that reject it.

    `values` maps canonical fields to cell text (missing fields are empty). A row is rejected
    only when it has no usable name and no valid ID number (codes: blank_row for an entirely
    empty row, name_missing, name_invalid, name_markup), or a name too long (name_too_long);
    a row with a valid ID number and no usable name is kept with the name "" and a warning
    (name_missing_id_kept, name_unreadable_id_kept): it links to the person with that ID.
    The other problems found in a row are listed after the rejecting error.
    Everything else is kept with warnings: an invalid ID number is dropped (id_number "",
    id_problem its code, e.g. excel_scientific) and never accepted as valid, an invalid phone
    is dropped, and sex and birth date come from a valid ID, a conflicting column being a
    warning. Address columns (compound, building, unit, room) override parts of a parsed
    address column.
    """
    get = values.get
    raw_name = get("name") or ""
    name = _name(raw_name)
    identity = _identity(get("id_number") or "", get("sex") or "", get("birth_date") or "")
    phone, phone_warnings = _phone(get("phone") or "")
    residency, residency_warnings = _residency(get("residency") or "")
    address, address_warnings = _address(
        get("address") or "",
        get("compound") or "",
        get("building") or "",
        get("unit") or "",
        get("room") or "",
    )
    warnings = [
        *identity.id_warnings,
        *phone_warnings,
        *identity.other_warnings,
        *residency_warnings,
        *address_warnings,
    ]
    if not name and identity.id_number:
        warnings.insert(0, _nameless_warning(raw_name))
    elif not name or len(name) > NAME_MAX_LENGTH:
        return _rejection(raw_name, name, warnings, values.values())
    return CleanRow(
        row_number=row_number,
        name=name,
        name_pinyin=pinyin_key(name),
        id_number=identity.id_number,
        id_problem=identity.id_problem,
        birth_date=identity.birth_date,
        sex=identity.sex,
        region_code=identity.region_code,
        phone=phone,
        address=address,
        residency=residency,
        relation=_relation(get("relation") or ""),
        household_number=_household_number(get("household_number") or ""),
        warnings=warnings,
    )


def normalise_rows(
    headers: list[str], rows: list[list[str]], mapping: dict[str, str], *, first_row: int = 1
) -> list[CleanRow | list[RowError]]:
    """Returns normalise_row's answer for every row of a table, numbered from `first_row`.

    A row's values are its cells under the headers `mapping` maps to a field; when several
    headers map to one field, the last non-empty cell wins. The answer is the same as calling
    normalise_row row by row, only faster: department files repeat IDs, phones, addresses and
    dates, so each field's outcome is worked out once per distinct cell (or group of cells)
    and rows are then assembled from lists, column by column. Every CleanRow is a new object
    with its own warnings list.
    """
    count = len(rows)
    columns = _mapped_columns(headers, rows, mapping)
    blank = [""] * count

    def column(field: str) -> list[str]:
        return columns.get(field, blank)

    def outcomes(function: Callable[..., _T], *cells: list[str]) -> list[_T]:
        # One call per distinct value (or combination of values), then a lookup per row.
        given = [position for position, values in enumerate(cells) if values is not blank]
        if not given:  # no column mapped to these fields
            return [function(*[""] * len(cells))] * count
        if len(given) == 1:
            # One column mapped (an ID without sex or birth-date columns): keyed by its cell
            # alone, which spares a tuple per row.
            position = given[0]
            arguments = [""] * len(cells)

            def call(cell: str) -> _T:
                arguments[position] = cell
                return function(*arguments)

            keys: list = cells[position]
            memo = {key: call(key) for key in set(keys)}
        else:
            keys = list(zip(*cells, strict=True))
            memo = {key: function(*key) for key in set(keys)}
        return list(map(memo.__getitem__, keys))

    raw_names = column("name")
    names = outcomes(_name, raw_names)
    identities = outcomes(_identity, column("id_number"), column("sex"), column("birth_date"))
    phones = outcomes(_phone, column("phone"))
    residencies = outcomes(_residency, column("residency"))
    relations = outcomes(_relation, column("relation"))
    households = outcomes(_household_number, column("household_number"))
    addresses = outcomes(
        _address,
        column("address"),
        column("compound"),
        column("building"),
        column("unit"),
        column("room"),
    )
    pinyin: dict[str, str] = {}
    mapped = list(columns.values())

    results: list[CleanRow | list[RowError]] = []
    append = results.append
    for index, (
        raw_name,
        name,
        identity,
        phone,
        residency,
        relation,
        household,
        address,
    ) in enumerate(
        zip(
            raw_names,
            names,
            identities,
            phones,
            residencies,
            relations,
            households,
            addresses,
            strict=True,
        ),
        start=first_row,
    ):
        id_number, id_problem, region_code, sex, birth_date, id_warnings, other_warnings = identity
        phone_number, phone_warnings = phone
        residency_value, residency_warnings = residency
        parts, address_warnings = address
        if (
            id_warnings
            or phone_warnings
            or other_warnings
            or residency_warnings
            or address_warnings
        ):
            warnings = [
                *id_warnings,
                *phone_warnings,
                *other_warnings,
                *residency_warnings,
                *address_warnings,
            ]
        else:
            warnings = []
        if not name and id_number:
            warnings = [_nameless_warning(raw_name), *warnings]
        elif not name or len(name) > NAME_MAX_LENGTH:
            at = index - first_row
            append(_rejection(raw_name, name, warnings, (cells[at] for cells in mapped)))
            continue
        name_pinyin = pinyin.get(name)
        if name_pinyin is None:
            name_pinyin = pinyin[name] = pinyin_key(name)
        # Positional: keyword arguments cost four times as much here (see _CLEAN_ROW_FIELDS).
        append(
            CleanRow(
                index,
                name,
                name_pinyin,
                id_number,
                id_problem,
                birth_date,
                sex,
                region_code,
                phone_number,
                parts,
                residency_value,
                relation,
                household,
                warnings,
            )
        )
    return results


# normalise_rows builds CleanRows positionally, in this order.
_CLEAN_ROW_FIELDS = (
    "row_number",
    "name",
    "name_pinyin",
    "id_number",
    "id_problem",
    "birth_date",
    "sex",
    "region_code",
    "phone",
    "address",
    "residency",
    "relation",
    "household_number",
    "warnings",
)
if tuple(field.name for field in fields(CleanRow)) != _CLEAN_ROW_FIELDS:
    raise ImportError("CleanRow's fields changed: update normalise_rows to match")


def _mapped_columns(
    headers: list[str], rows: list[list[str]], mapping: dict[str, str]
) -> dict[str, list[str]]:
    """Returns each mapped field's cell in every row: the last non-empty one of the columns
    mapped to it, "" when none is (as pipeline's row-by-row reading gives it)."""
    positions: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        target = mapping.get(header, "")
        if target:
            positions.setdefault(target, []).append(position)
    columns: dict[str, list[str]] = {}
    shortest = min(map(len, rows), default=0)
    for target, indexes in positions.items():
        if len(indexes) == 1 and indexes[0] < shortest:
            position = indexes[0]
            columns[target] = [row[position] for row in rows]
        else:  # several columns for one field, or short rows: the careful way
            latest_first = indexes[::-1]
            columns[target] = [
                next((row[i] for i in latest_first if i < len(row) and row[i]), "") for row in rows
            ]
    return columns


@lru_cache(maxsize=65536)
def _override(
    parts: AddressParts, compound: str, building: str, unit: str, room: str
) -> AddressParts:
    changes: dict[str, object] = {}
    if room:
        room_name, floor = parse_room(room)
        if floor is None and not room_name.endswith("室"):
            # A whole address in the room column ("3-2-501"): take what it names.
            whole = parse_address(room)
            if whole.room:
                changes.update(room=whole.room, floor=whole.floor)
                if whole.building and not building:
                    changes["building"] = whole.building
                if whole.unit and not unit:
                    changes["unit"] = whole.unit
                if whole.compound and not compound:
                    changes["compound"] = whole.compound
            else:
                changes.update(room=room_name, floor=None)
        else:
            changes.update(room=room_name, floor=floor)
    if building:
        changes["building"] = parse_building(building)
    if unit:
        changes["unit"] = parse_unit(unit)
    if compound:
        changes["compound"] = simplified(_WHITESPACE.sub("", compound))
    # Built directly: dataclasses.replace() costs several times as much, once per distinct
    # combination of address columns.
    return AddressParts(
        compound=changes.get("compound", parts.compound),
        building=changes.get("building", parts.building),
        unit=changes.get("unit", parts.unit),
        room=changes.get("room", parts.room),
        floor=changes.get("floor", parts.floor),
    )


_WHITESPACE = re.compile(r"\s")
