"""Column inference: what a column holds, from its header and from its values.

A department's headers are abbreviated (证号), in pinyin initials (xm, sfzh), in English,
written with slashes or notes, merged, or missing; a header no synonym knows must not lose a
whole file. So every column is profiled on a sample of its values — ID numbers that pass the
GB 11643 check, phone numbers, dates and their format, Chinese personal names (a known surname,
two to four characters, no digits), addresses (号楼/栋/单元/室, compound names known in the
area tree), sex, residency and relation words, household numbers — and header and content
each vote. The content wins when it is clear; the header decides when the values say nothing
(numbers that could be a building or a unit). A mapping remembered for the source (or given
on the command line) wins over both.

Each column comes back with the field chosen and the reason, for the import preview and for
`linli link`'s mapping line ("96 of 100 values are valid ID numbers").
"""

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.utils.translation import gettext_lazy as _

from linli.core.clock import local_today
from linli.core.errors import Message, both_languages
from linli.registry.importing.addresses import parse_address, simplified
from linli.registry.importing.mapping import _OTHER_PERSON, header_key, match_header
from linli.registry.importing.normalise import (
    _RELATIONS,
    _RESIDENCY_EXACT,
    _parse_phone,
    is_valid_id_number,
    normalise_name,
    parse_birth_date,
)
from linli.registry.importing.records import FIELDS

SAMPLE_VALUES = 200  # non-empty values profiled per column
CLEAR_SHARE = 0.6  # the share of values that makes the content's answer clear

# Surnames by frequency (the top 400 or so cover well over 95% of residents). A name is
# recognised by its surname, so a column of names needs no header.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎"
    "贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧"
    "耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍"
    "华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏"
    "宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈"
    "匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖"
    "练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘"
    "亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信"
    "展阴昝智幸奉植衡富尧闭由"
)
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "令狐",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "百里",
        "呼延",
        "轩辕",
        "万俟",
        "单于",
        "澹台",
    ]
)
_HAN_NAME = re.compile(r"[\u3400-\u9fff]{2,4}")
_MINORITY_NAME = re.compile(r"[\u3400-\u9fff]{1,8}·[\u3400-\u9fff·]{1,12}")
_DIGIT = re.compile(r"\d")
_TIME = re.compile(r"\d{1,2}:\d{2}")
_ID_LIKE = re.compile(r"\d{17}[\dXx]|\d{15}|\d(?:\.\d+)?[Ee]\+?17|\d{15}000")
_HOUSEHOLD = re.compile(r"[A-Za-z0-9\-]{4,24}")
_DWELLING_WORDS = re.compile(r"\d+\s*[号栋幢座]|[一二三四五六七八九十\d]+单元|\d+\s*室|\d{3,4}$")
_DASHED = re.compile(r"\d+-\d+-\d+")
_COMPOUND_END = (
    "小区", "花园", "家园", "苑", "园", "庭", "府", "城", "村", "公寓", "大厦", "广场", "里",
    "坊", "公馆", "名邸", "新村", "佳苑", "社区", "院",
)  # fmt: skip
_SEXES = {"男", "女", "男性", "女性", "M", "F", "MALE", "FEMALE"}
_BUILDING = re.compile(r"[\dA-Za-z一二三四五六七八九十]+\s*(?:号楼|栋|幢|座|号)")
_UNIT = re.compile(r"[\d一二三四五六七八九十]+\s*单元")
_ROOM = re.compile(r"\d{3,4}\s*室?")


@dataclass(frozen=True)
class Reason:
    """Why a column got its field: one gettext_lazy message and its parameters."""

    code: str  # remembered, header, content, both, other_person, unknown, taken
    message: Message
    params: tuple[tuple[str, object], ...] = ()

    @property
    def text(self) -> str:
        """Returns the reason in the active language."""
        text = str(self.message)
        return text % dict(self.params) if self.params else text

    def __str__(self) -> str:
        return both_languages(self.message, dict(self.params) or None)


@dataclass(frozen=True)
class ColumnGuess:
    """One column: its header, the field it holds ("" = ignored) and why."""

    header: str
    field: str
    reason: Reason

    @property
    def inferred(self) -> bool:
        """Returns whether the values decided (the header alone would not have)."""
        return self.reason.code == "content"


@dataclass(frozen=True)
class _Evidence:
    field: str
    hits: int
    total: int
    message: Message
    extra: tuple[tuple[str, object], ...] = ()

    @property
    def share(self) -> float:
        return self.hits / self.total if self.total else 0.0


# The reasons the content gives, one per field.
_CONTENT_MESSAGES: dict[str, Message] = {
    "id_number": _("%(hits)s of %(total)s values are valid ID numbers"),
    "phone": _("%(hits)s of %(total)s values are phone numbers"),
    "name": _("%(hits)s of %(total)s values look like Chinese personal names"),
    "birth_date": _("%(hits)s of %(total)s values are dates of birth (%(format)s)"),
    "sex": _("%(hits)s of %(total)s values are a sex (男/女)"),
    "address": _("%(hits)s of %(total)s values are addresses (building, unit, room)"),
    "compound": _("%(hits)s of %(total)s values are names of compounds"),
    "building": _("%(hits)s of %(total)s values are buildings (号楼/栋)"),
    "unit": _("%(hits)s of %(total)s values are units (单元)"),
    "room": _("%(hits)s of %(total)s values are room numbers"),
    "residency": _("%(hits)s of %(total)s values are residency words (户籍/常住/流动)"),
    "relation": _("%(hits)s of %(total)s values are relations to the head (户主/配偶/子女)"),
    "household_number": _("%(hits)s of %(total)s values are household numbers shared by rows"),
}
_HEADER = _("the header is a known name for this field")
_BOTH = _("the header and the values agree")
_REMEMBERED = _("remembered for this source")
_OTHER = _("the header names another person's data: left out")
_UNKNOWN = _("neither the header nor the values say what this column holds")
_TAKEN = _("another column holds this field more clearly")


def _name_like(value: str) -> bool:
    if _DIGIT.search(value):
        return False
    name = normalise_name(value)
    if not name:
        return False
    if "·" in name:
        return bool(_MINORITY_NAME.fullmatch(name))
    if not _HAN_NAME.fullmatch(name):
        return False
    if name[:2] in COMPOUND_SURNAMES:
        return len(name) >= 3
    return name[0] in SURNAMES


def _date_format(value: str) -> str | None:
    """Returns how a date is written ("YYYY-MM-DD") or None when it is not a full date."""
    text = value.strip()
    if len(text) < 8 or isinstance(parse_birth_date(text), str):
        return None
    if text.isdigit():
        return "YYYYMMDD" if len(text) == 8 else None
    if "年" in text:
        return "YYYY年M月D日"
    separator = next((c for c in text[4:6] if c in "-/."), "-")
    return f"YYYY{separator}MM{separator}DD"


def _digits(value: str) -> int:
    return sum(char.isdigit() for char in value)


def _id_like(value: str) -> bool:
    # Cheap test first: parsing a cell that cannot be an ID number costs an exception.
    if _digits(value) < 14:
        return False
    return is_valid_id_number(value) or bool(_ID_LIKE.fullmatch(value.replace(" ", "")))


def _valid_id(value: str) -> bool:
    return _digits(value) >= 15 and is_valid_id_number(value)


def _phone_like(value: str) -> bool:
    if _digits(value) < 7:
        return False
    return isinstance(_parse_phone(value), str) and not _valid_id(value)


def _relation_like(value: str) -> bool:
    text = re.sub(r"[\s()（）]", "", value)
    if text in _RELATIONS or text.lower() in _RELATIONS:
        return True
    return (
        len(text) <= 4
        and not _DIGIT.search(text)
        and any(word in text for word in ("祖", "孙", "媳", "婿", "之子", "之女", "儿", "侄"))
    )


def _residency_like(value: str) -> bool:
    text = re.sub(r"\s", "", value)
    if text in _RESIDENCY_EXACT or text.lower() in _RESIDENCY_EXACT:
        return True
    return len(text) <= 8 and any(
        word in text for word in ("户籍", "常住", "流动", "暂住", "外来", "本地", "人户分离")
    )


def _compound_like(value: str, known: frozenset[str]) -> bool:
    text = simplified(re.sub(r"\s", "", value))
    if not text or _DIGIT.search(text) or len(text) > 16:
        return False
    return text in known or text.endswith(_COMPOUND_END)


def _address_like(value: str, known: frozenset[str]) -> bool:
    if not _DIGIT.search(value) and not any(char in value for char in "栋幢单元室号楼"):
        return any(name and name in value for name in known) and len(value) > 4
    if _TIME.search(value) or _date_format(value):
        return False  # "2022-11-10" reads as building 2022, unit 11, room 10
    parts = parse_address(value)
    if parts.building and (parts.room or parts.unit):
        return True
    # A dwelling names two parts at least ("3号楼501", "2单元501室"); "3号楼" alone is a
    # building column.
    if len(_DWELLING_WORDS.findall(value)) >= 2 or _DASHED.search(value):
        return True
    return any(name and name in value for name in known) and len(value) > 4


def _profile(values: Sequence[str], known: frozenset[str]) -> list[_Evidence]:
    """Returns what the values say, one piece of evidence per field they might be."""
    total = len(values)
    distinct = set(values)
    found: list[_Evidence] = []

    def count(test: Callable[[str], object]) -> int:
        memo = {value: test(value) for value in distinct}
        return sum(1 for value in values if memo[value])

    def add(field: str, hits: int, **extra: object) -> None:
        if hits:
            message = _CONTENT_MESSAGES[field]
            found.append(_Evidence(field, hits, total, message, tuple(extra.items())))

    valid_ids = count(_valid_id)
    id_like = count(_id_like)
    # An ID column with Excel damage or typos still holds ID numbers; the reason counts only
    # the valid ones.
    if valid_ids:
        found.append(
            _Evidence(
                "id_number", id_like, total, _CONTENT_MESSAGES["id_number"], (("valid", valid_ids),)
            )
        )
    add("phone", count(_phone_like))
    many = total < 20 or len(distinct) >= 0.3 * total  # names are mostly distinct
    if many:
        add("name", count(_name_like))
    formats = Counter(f for f in map(_date_format, values) if f)
    timed = sum(1 for value in values if _TIME.search(value))
    if formats and timed < 0.2 * total:
        this_year = local_today().year
        recent = sum(
            1 for value in values if value[:4].isdigit() and int(value[:4]) >= this_year - 1
        )
        if recent < 0.5 * total:
            add("birth_date", sum(formats.values()), format=formats.most_common(1)[0][0])
    add("sex", count(lambda v: v.strip().upper() in _SEXES))
    add("address", count(lambda v: _address_like(v, known)))
    few = len(distinct) <= max(40, total // 5)
    if few:
        add("relation", count(_relation_like))
        add("residency", count(_residency_like))
        compounds = {v for v in distinct if _compound_like(v, known)}
        # A nickname ("翠华") is the stem of a full name in the same column ("翠华小区").
        stems = {
            v for v in distinct if not _DIGIT.search(v) and any(c.startswith(v) for c in compounds)
        }
        if compounds:
            hits = sum(1 for value in values if value in compounds or value in stems)
            add("compound", hits)
        add("building", count(lambda v: bool(_BUILDING.fullmatch(v.strip()))))
        add("unit", count(lambda v: bool(_UNIT.fullmatch(v.strip()))))
    add("room", count(lambda v: bool(_ROOM.fullmatch(v.strip())) and v.strip().endswith("室")))
    if len(distinct) <= 0.8 * total:
        add(
            "household_number",
            count(
                lambda v: (
                    bool(_HOUSEHOLD.fullmatch(v))
                    and sum(c.isdigit() for c in v) >= 4
                    and not _valid_id(v)
                    and not _phone_like(v)
                )
            ),
        )
    return found


# When two fields are equally clear, the likelier one: 女 is a sex more often than a child.
_PREFERENCE = {field: rank for rank, field in enumerate(FIELDS)}
_PREFERENCE.update({"sex": -1, "address": 2})


def content_vote(values: Sequence[str], known: frozenset[str] = frozenset()) -> _Evidence | None:
    """Returns the field the values clearly hold (the best share at least CLEAR_SHARE), or
    None when they do not say."""
    evidence = [e for e in _profile(values, known) if e.share >= CLEAR_SHARE]
    if not evidence:
        return None
    return max(evidence, key=lambda e: (round(e.share, 2), -_PREFERENCE.get(e.field, 99)))


def _sample(rows: Sequence[Sequence[str]], position: int) -> list[str]:
    values = []
    for row in rows:
        if position < len(row):
            value = row[position].strip()
            if value:
                values.append(value)
                if len(values) >= SAMPLE_VALUES:
                    break
    return values


@lru_cache(maxsize=4096)
def _names_another_person(header: str) -> bool:
    key = header_key(header)
    return any(marker in key for marker in _OTHER_PERSON)


def infer_columns(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    remembered: Mapping[str, str] | None = None,
    known_compounds: Iterable[str] = (),
) -> list[ColumnGuess]:
    """Returns each column's field and the reason, in the order of the headers.

    `remembered` (header → field, "" to ignore) is the mapping confirmed for this source or
    given on the command line: it wins, matched however the header is decorated. Then every
    other column is scored: the header's vote (a known spelling), the content's vote (the
    field most of its sample values are, when clearly so); where they disagree, clear content
    wins. No field goes to two columns: remembered first, then columns where header and
    content agree, then content alone, then header alone, the clearer first.
    """
    remembered = dict(remembered or {})
    remembered_by_key = {header_key(h): f for h, f in remembered.items()}
    known = frozenset(simplified(name) for name in known_compounds if name)
    decided: dict[int, ColumnGuess] = {}
    taken: set[str] = set()
    candidates: list[tuple[tuple, int, str, Reason]] = []
    for position, header in enumerate(headers):
        field = remembered.get(header, remembered_by_key.get(header_key(header)))
        if field is not None:
            field = field if field in FIELDS and field not in taken else ""
            taken.add(field)
            decided[position] = ColumnGuess(header, field, Reason("remembered", _REMEMBERED))
            continue
        matched = match_header(header)
        if matched is None and _names_another_person(header):
            decided[position] = ColumnGuess(header, "", Reason("other_person", _OTHER))
            continue
        vote = content_vote(_sample(rows, position), known)
        if matched is not None and vote is not None and vote.field == matched[0]:
            candidates.append(
                # The better spelling first: 姓名 over 户主姓名 when both hold names.
                ((0, matched[1], -vote.share), position, vote.field, Reason("both", _BOTH))
            )
        elif vote is not None and (matched is None or not _header_refines(matched[0], vote.field)):
            hits = dict(vote.extra).get("valid", vote.hits)
            extra = tuple((k, v) for k, v in vote.extra if k != "valid")
            reason = Reason(
                "content", vote.message, (("hits", hits), ("total", vote.total), *extra)
            )
            candidates.append(((1, -vote.share, position), position, vote.field, reason))
        elif matched is not None:
            candidates.append(
                ((2, matched[1], position), position, matched[0], Reason("header", _HEADER))
            )
    taken.discard("")
    for _order, position, field, reason in sorted(candidates):
        if position in decided:
            continue
        if field in taken:
            decided[position] = ColumnGuess(headers[position], "", Reason("taken", _TAKEN))
            continue
        taken.add(field)
        decided[position] = ColumnGuess(headers[position], field, reason)
    return [
        decided.get(position) or ColumnGuess(header, "", Reason("unknown", _UNKNOWN))
        for position, header in enumerate(headers)
    ]


def _header_refines(header_field: str, content_field: str) -> bool:
    """Returns whether the header names a part the content also fits: a room column holding
    "3-2-501", an address column holding only compound names. The header is more precise."""
    address_parts = {"address", "compound", "building", "unit", "room"}
    return header_field in address_parts and content_field in address_parts


def mapping_of(guesses: Iterable[ColumnGuess]) -> dict[str, str]:
    """Returns header → field of the guesses ("" = ignore)."""
    return {guess.header: guess.field for guess in guesses}


def describe(file_name: str, guesses: Sequence[ColumnGuess]) -> str:
    """Returns the mapping as one line for `linli link`: each mapped column with its field,
    the reason after the columns the values decided (in Chinese and English)."""
    parts = []
    for guess in guesses:
        if not guess.field:
            continue
        text = f"{guess.header}→{guess.field}"
        if guess.inferred:
            text += f" ({guess.reason})"
        parts.append(text)
    ignored = [g.header for g in guesses if not g.field]
    line = f"{file_name}: " + "; ".join(parts or ["-"])
    if ignored:
        line += " | ignored: " + ", ".join(ignored)
    return line
