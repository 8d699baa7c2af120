"""Addresses as departments write them, parsed onto the area tree below a community.

`3-2-501`, `3号楼2单元501室`, `三栋二单元501` and `陕西省西安市…翠华小区3幢2单元501室` all name
the same dwelling; parse_address gives each the same canonical AddressParts, and
CompoundResolver maps the compound as written onto the compound's name in the area tree.
"""

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

from linli.registry.importing.records import AddressParts

_converter: OpenCC | None = None


@lru_cache(maxsize=65536)
def simplified(text: str) -> str:
    """Returns the text with traditional characters folded to simplified (OpenCC t2s).

    One converter for names, compounds and addresses (normalise.py uses it too).
    """
    global _converter
    if _converter is None:  # built on first use: loading the dictionaries takes a moment
        _converter = OpenCC("t2s")
    return _converter.convert(text)


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN = "一二三四五六七八九十两〇零"

# Traditional forms of the characters the patterns look for (the compound name is folded
# whole with OpenCC once found).
_FOLD = str.maketrans(
    {
        "號": "号",
        "樓": "楼",
        "棟": "栋",
        "單": "单",
        "門": "门",
        "層": "层",
        "區": "区",
        "鎮": "镇",
        "鄉": "乡",
        "縣": "县",
        "—": "-",
        "–": "-",
        "−": "-",
        "~": "-",
        "_": "-",
        "/": "-",
        "\\": "-",
    }
)
_FOLDED_CHARS = re.compile("[" + re.escape("".join(map(chr, _FOLD))) + "]")
_BETWEEN_DIGITS = re.compile(r"(?<=\d)\s+(?=\d)")
_SPACES = re.compile(r"\s+")
_TRAILING_NOTE = re.compile(r"[(（\[【][^()（）\[\]【】]*[)）\]】]$")
_NOTE_ENDS = (")", "）", "]", "】")

_B = rf"(?:[A-Z]|\d+[A-Z]?|[{_CN}]+)"  # building: 3, 3A, A, 十二
_N = rf"(?:\d+|[{_CN}]+)"  # unit or floor number
_BS = r"(?:号楼|号栋|号幢|栋|幢|座|号|#楼|#|楼)"  # building suffixes, longest first
_US = r"(?:单元|单|门)"
_R = r"\d{1,5}[A-Z]?"  # room: 501, 1203, 501A
_RS = r"(?:室|号|户)"
_F = rf"(?:(?P<f>{_N})(?:层|楼)-?)"

# Tried in order; the compound (c) is lazy so the dwelling part starts as early as it can,
# and every pattern is anchored at the end so a number inside a compound name ("二期",
# "八一小区") is never taken for a building.
_PATTERNS = [
    # 3-2-501, 3栋2-501, 3号楼-2单元-501室
    re.compile(rf"(?P<c>.*?)(?P<b>{_B})(?:{_BS}-?|-)(?P<u>{_N}){_US}?-(?P<r>{_R}){_RS}?"),
    # 3号楼2单元501室, 三栋二单元501, 3号楼2单元5层501, 3号楼2单元
    re.compile(
        rf"(?P<c>.*?)(?P<b>{_B})(?P<bs>{_BS})-?(?P<u>{_N}){_US}-?{_F}?(?:(?P<r>{_R}){_RS}?)?"
    ),
    # A座1201, 3号楼501室, 3号楼
    re.compile(rf"(?P<c>.*?)(?P<b>{_B})(?P<bs>{_BS})-?{_F}?(?:(?P<r>{_R}){_RS}?)?"),
    # 3-501
    re.compile(rf"(?P<c>.*?)(?P<b>{_B}){_BS}?-(?P<r>{_R}){_RS}?"),
    # 501室, 翠华小区501
    re.compile(rf"(?P<c>.*?){_F}?(?P<r>{_R}){_RS}?"),
]

_DASHED = {0, 3}  # patterns that need a "-" in the text

# Administrative prefixes, outermost first. Names are at least two characters ("城市花园"
# is not a city called 城) and contain no digits; 区 after 小/园/校… is part of a compound.
_PROVINCE = re.compile(r"[^\d\-]{2,7}?(?:特别行政区|自治区|省)")
_CITY = re.compile(r"[^\d\-]{2,8}?(?:自治州|地区|市|盟)")
_DISTRICT = re.compile(r"[^\d\-]{1,8}?(?<![小园校景片厂矿社属住营宿])(?:区|县|旗|市)")
_STREET = re.compile(r"[^\d\-]{2,10}?(?:街道办事处|街道办|街道)")
_TOWN = re.compile(r"[^\d\-]{2,8}?(?:镇|乡)")
_COMMUNITY = re.compile(r"[^\d\-]{2,10}?(?:社区居民委员会|社区居委会|居民委员会|居委会|社区)")
_VILLAGE = re.compile(r"[^\d\-]{2,8}?(?:村民委员会|村委会|村)")
_GRID = re.compile(rf"第?(?:\d+|[{_CN}]+)网格")
_STREET_NUMBER_END = re.compile(r"[路街巷道里弄]$")

_SEPARATORS = " ,，、;；:：-()（）[]【】"
_JUNK = {"", "无", "不详", "未知", "暂无", "空", "NULL", "NONE", "N/A", "NA"}


def chinese_number(text: str) -> int | None:
    """Returns the value of digits or a Chinese numeral 一…九十九 (两 = 2), else None."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        ten_value = _CN_DIGITS.get(tens, -1) if tens else 1
        one_value = _CN_DIGITS.get(ones, -1) if ones else 0
        if ten_value < 0 or one_value < 0:
            return None
        return ten_value * 10 + one_value
    if len(text) == 1 and text in _CN_DIGITS:
        return _CN_DIGITS[text]
    # "一〇一": digit by digit
    if all(char in _CN_DIGITS for char in text):
        return int("".join(str(_CN_DIGITS[char]) for char in text))
    return None


def _building_name(raw: str) -> str:
    if raw.isalpha() and raw.isascii():
        return f"{raw}座"  # lettered buildings: A座, A栋 and A号楼 are all "A座"
    number = chinese_number(raw)
    if number is not None:
        return f"{number}号楼"
    digits = raw.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return f"{int(digits)}{raw[len(digits) :]}号楼" if digits else f"{raw}号楼"


def _room_name(raw: str) -> tuple[str, int | None]:
    digits = raw.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    letter = raw[len(digits) :]
    number = int(digits)
    floor = number // 100 if number >= 100 else None
    return f"{number}{letter}室", floor or None


def clean_address_text(text: str) -> str:
    """Returns the text folded for parsing.

    Full-width to half-width, latin upper case, traditional address words simplified, dash
    variants to "-", spaces between numbers to "-" ("3 2 501"), other spaces removed.
    """
    text = unicodedata.normalize("NFKC", text)
    # str.translate looks every character up in _FOLD (slow on CJK text), and the two
    # substitutions scan the whole text: most addresses need neither, and one search says so.
    if _FOLDED_CHARS.search(text):
        text = text.translate(_FOLD)
    text = text.upper()
    if _SPACES.search(text) is None:
        return text  # no whitespace: strip() and both substitutions would change nothing
    text = _BETWEEN_DIGITS.sub("-", text.strip())
    return _SPACES.sub("", text)


def strip_admin_prefix(text: str) -> str:
    """Returns the text without its province … community prefix.

    A city or district is taken as a prefix only when another administrative level follows
    it (or precedes it), a township only after a higher level, a village only after a
    township: "新城市广场" or "翠华新村" are compounds, not a city and a village.
    """
    pos = _admin_prefix_end(_LEADING_WORDS.match(text)[0])
    if match := _GRID.match(text, pos):
        pos = match.end()
    return text[pos:]


# Every prefix pattern but the grid's reads only characters other than digits and "-", so
# where the prefix ends is decided by the text before the first digit or "-": the same few
# "陕西省西安市雁塔区小寨路街道翠华小区" for thousands of addresses, worked out once each.
_LEADING_WORDS = re.compile(r"[^\d\-]*")


@lru_cache(maxsize=4096)
def _admin_prefix_end(text: str) -> int:
    pos = 0
    had_upper = False
    if match := _PROVINCE.match(text, pos):
        pos, had_upper = match.end(), True
    if (match := _CITY.match(text, pos)) and (
        had_upper or _DISTRICT.match(text, match.end()) or _STREET.match(text, match.end())
    ):
        pos, had_upper = match.end(), True
    if (match := _DISTRICT.match(text, pos)) and (
        had_upper
        or _STREET.match(text, match.end())
        or _TOWN.match(text, match.end())
        or _COMMUNITY.match(text, match.end())
    ):
        pos, had_upper = match.end(), True
    had_town = False
    if match := _STREET.match(text, pos):
        pos = match.end()
    elif had_upper and (match := _TOWN.match(text, pos)):
        pos, had_town = match.end(), True
    match = _COMMUNITY.match(text, pos) or (had_town and _VILLAGE.match(text, pos))
    if match:
        pos = match.end()
    return pos


@lru_cache(maxsize=65536)
def parse_address(text: str) -> AddressParts:
    """Returns the canonical compound, building, unit, room and floor of an address.

    Building "3号楼" (letters: "A座"), unit "2单元", room "501室", floor from the room number
    (leading digits less the last two: 1203 → 12) unless written ("5层501"). The compound is
    what precedes the building once administrative prefixes are stripped, as written but in
    simplified characters.
    Unparseable text gives its cleaned remainder as the compound; empty or junk text ("无",
    "不详") gives empty parts. Results are cached: department files repeat addresses.
    """
    cleaned = clean_address_text(text or "")
    if cleaned.endswith(_NOTE_ENDS):  # the note pattern ends there (cleaned text has no "\n")
        cleaned = _TRAILING_NOTE.sub("", cleaned)
    if cleaned in _JUNK:
        return AddressParts()
    rest = strip_admin_prefix(cleaned)
    has_dash = "-" in rest
    for index, pattern in enumerate(_PATTERNS):
        if index in _DASHED and not has_dash:
            continue  # saves a failed scan of the whole text on the commonest spellings
        match = pattern.fullmatch(rest)
        if match is None:
            continue
        parts = match.groupdict()
        if index == 2 and parts["bs"] == "号" and not parts["r"] and not parts["f"]:
            continue  # "15号" alone is a house number, not building 15
        if index == 4 and parts["c"] and _STREET_NUMBER_END.search(parts["c"]):
            break  # "小寨路12号": a street number, not a room
        compound = _compound_name(parts["c"])
        building = _building_name(parts["b"]) if parts.get("b") else ""
        unit = ""
        if parts.get("u"):
            unit_number = chinese_number(parts["u"])
            unit = f"{unit_number}单元" if unit_number is not None else ""
        room, floor = _room_name(parts["r"]) if parts.get("r") else ("", None)
        if parts.get("f"):
            floor = chinese_number(parts["f"]) or floor
        return AddressParts(compound=compound, building=building, unit=unit, room=room, floor=floor)
    return AddressParts(compound=_compound_name(rest))


def _compound_name(text: str) -> str:
    name = text.strip(_SEPARATORS)
    if name in _JUNK or name.isdigit():
        return ""
    return name if name.isascii() else simplified(name)


def parse_building(text: str) -> str:
    """Returns a building column's value in canonical form ("3", "3栋", "三号楼" → "3号楼")."""
    cleaned = clean_address_text(text)
    match = re.fullmatch(rf"(?P<b>{_B}){_BS}?", cleaned)
    return _building_name(match["b"]) if match else cleaned


def parse_unit(text: str) -> str:
    """Returns a unit column's value in canonical form ("2", "二单元" → "2单元")."""
    cleaned = clean_address_text(text)
    match = re.fullmatch(rf"(?P<u>{_N}){_US}?", cleaned)
    number = chinese_number(match["u"]) if match else None
    return f"{number}单元" if number is not None else cleaned


def parse_room(text: str) -> tuple[str, int | None]:
    """Returns a room column's value in canonical form and its floor ("0501" → "501室", 5)."""
    cleaned = clean_address_text(text)
    match = re.fullmatch(rf"{_F}?(?P<r>{_R}){_RS}?", cleaned)
    if match is None:
        return cleaned, None
    room, floor = _room_name(match["r"])
    if match["f"]:
        floor = chinese_number(match["f"]) or floor
    return room, floor


def compound_key(name: str) -> str:
    """Returns a compound's name as compared: folded (full-width, traditional characters,
    spaces) and without separators around it. Two spellings with one key are one compound."""
    return simplified(clean_address_text(name)).strip(_SEPARATORS)


_COMPOUND_SUFFIXES = ("小区", "花园", "家园", "公寓", "大院", "新村", "苑", "园", "院")
_PHASE = re.compile(rf"第?(?:\d+|[{_CN}]+)期|[东西南北中][区院苑]")


class CompoundResolver:
    """Resolves a compound name as written in a file to its canonical name in the area tree.

    Built from {canonical name: aliases}. Tries, in order: the name or an alias exactly
    (after folding spaces, full-width and traditional characters); the same without a
    generic suffix (翠华 / 翠华小区 / 翠华花园); a known name at the end of a longer one
    (an administrative prefix left in: "西安市翠华小区"); a known name followed by a phase
    or zone ("翠华小区二期"). Anything ambiguous resolves to None rather than to a guess.
    """

    def __init__(self, compounds: dict[str, list[str]]) -> None:
        self._exact: dict[str, str | None] = {}
        self._stems: dict[str, str | None] = {}
        for canonical, aliases in compounds.items():
            self._add(canonical, [canonical, *aliases])
        self._index()

    @classmethod
    def of_names(cls, names: dict[str, list[str]]) -> "CompoundResolver":
        """Returns a resolver whose answers are the keys of `names` (an area's id as text, when
        two compounds of a street share a name), each known by the names listed."""
        resolver = cls({})
        for canonical, written in names.items():
            resolver._add(canonical, written)
        resolver._index()
        return resolver

    def _add(self, canonical: str, names: list[str]) -> None:
        for written in names:
            key = self._key(written)
            if key:
                _add_unambiguous(self._exact, key, canonical)

    def _index(self) -> None:
        self._stems.clear()
        for key, canonical in list(self._exact.items()):
            stem = _stem(key)
            if len(stem) >= 2 and canonical is not None:
                _add_unambiguous(self._stems, stem, canonical)
        self._by_length = sorted(
            ((key, canonical) for key, canonical in self._exact.items() if canonical),
            key=lambda item: -len(item[0]),
        )
        self._cache: dict[str, str | None] = {}

    def _key(self, name: str) -> str:
        return compound_key(name)

    def resolve(self, written: str) -> str | None:
        """Returns the canonical compound name for a written one, or None when unknown."""
        if written in self._cache:
            return self._cache[written]
        result = self._resolve(self._key(written)) if written else None
        self._cache[written] = result
        return result

    def _resolve(self, key: str) -> str | None:
        if not key:
            return None
        if key in self._exact:
            return self._exact[key]
        stem = _stem(key)
        if stem in self._stems:
            return self._stems[stem]
        if stem in self._exact:  # written "翠华小区", known as "翠华"
            return self._exact[stem]
        stripped = strip_admin_prefix(key)
        if stripped != key:
            return self._resolve(stripped)
        fitting = [
            (known, canonical)
            for known, canonical in self._by_length
            if len(known) >= 3 and _contains_compound(key, known)
        ]
        if not fitting:
            return None
        longest = len(fitting[0][0])
        answers = {canonical for known, canonical in fitting if len(known) == longest}
        # Two different compounds fitting equally well would make any answer a guess.
        return answers.pop() if len(answers) == 1 else None


def _contains_compound(key: str, known: str) -> bool:
    """True when `key` is `known` with something before it, or with a phase or zone after."""
    if key.endswith(known):
        return True
    return key.startswith(known) and bool(_PHASE.fullmatch(key[len(known) :]))


def _stem(key: str) -> str:
    for suffix in _COMPOUND_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def _add_unambiguous(index: dict[str, str | None], key: str, canonical: str) -> None:
    # Two compounds sharing a key (both "翠华" once suffixes go) make the key useless: None.
    if key in index and index[key] != canonical:
        index[key] = None
    else:
        index.setdefault(key, canonical)
