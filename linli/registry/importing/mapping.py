"""Column mapping: which header of a department's file holds which canonical field.

Every department names its columns differently (姓名 / 受检者姓名 / 业主姓名 …). SYNONYMS lists
the spellings seen in real files, best first; `suggest_mapping` proposes a mapping the data
steward then corrects, and a mapping remembered for the same source wins next time.
An upload's mapping comes from inference.py, where these headers are one vote and the
columns' values the other.
"""

import re
import unicodedata
from functools import lru_cache

from django.utils.translation import gettext_lazy as _

from linli.registry.importing.records import FIELDS, RowError

# Canonical field → header spellings, best first. The canonical field name itself is always a
# spelling too, so a file Linli exported comes back mapped.
SYNONYMS: dict[str, list[str]] = {
    "name": [
        "姓名",
        "居民姓名",
        "人员姓名",
        "受检者姓名",
        "受检人姓名",
        "被检测人姓名",
        "业主姓名",
        "住户姓名",
        "成员姓名",
        "户主姓名",
        "户主",
        "名字",
        "name",
        "fullname",
        "full name",
        "xm",
    ],
    "id_number": [
        "身份证号",
        "身份证号码",
        "公民身份号码",
        "公民身份证号码",
        "居民身份证号码",
        "居民身份证号",
        "身份证件号码",
        "证件号码",
        "证件号",
        "身份证",
        "身份证件号",
        "idnumber",
        "idno",
        "idcard",
        "id",
        "id no",
        "id card no",
        "identity card",
        "citizen id",
        "sfzh",
        "sfzhm",
        "zjhm",
    ],
    "phone": [
        "手机",
        "手机号",
        "手机号码",
        "联系电话",
        "本人电话",
        "本人手机",
        "电话",
        "电话号码",
        "联系方式",
        "移动电话",
        "mobile",
        "phone",
        "tel",
        "telephone",
        "mobile no",
        "phone number",
        "contact number",
        "tel no",
        "lxdh",
        "sjh",
        "sjhm",
        "lxfs",
    ],
    "address": [
        "住址",
        "现住址",
        "现居住地址",
        "居住地址",
        "家庭住址",
        "家庭地址",
        "户籍地址",
        "户籍地",
        "房号",
        "地址",
        "详细地址",
        "现居地",
        "address",
        "home address",
        "residential address",
        "zz",
        "xzz",
        "jtzz",
        "dz",
    ],
    "compound": [
        "小区",
        "小区名称",
        "小区名",
        "所在小区",
        "居住小区",
        "compound",
        "xq",
        "xqmc",
        "estate",
    ],
    "building": ["楼栋", "楼号", "栋", "楼栋号", "栋号", "幢", "楼", "building"],
    "unit": ["单元", "单元号", "unit"],
    "room": ["房间号", "门牌号", "室", "房间", "户室号", "室号", "room"],
    "sex": ["性别", "sex", "gender", "xb"],
    "birth_date": [
        "出生日期",
        "csrq",
        "date of birth",
        "birth date",
        "出生年月",
        "出生年月日",
        "出生时间",
        "生日",
        "birthdate",
        "birthday",
        "dateofbirth",
        "dob",
    ],
    "residency": [
        "户籍类型",
        "人员类型",
        "居住类型",
        "户口类型",
        "人口类型",
        "人员类别",
        "居民类型",
        "residency",
        "rylx",
        "hjlx",
        "residency type",
    ],
    "relation": [
        "与户主关系",
        "与户主的关系",
        "户主关系",
        "关系",
        "家庭关系",
        "户内关系",
        "relation",
        "relationship",
        "yhzgx",
        "relation to head",
    ],
    "household_number": [
        "户号",
        "户编号",
        "户籍户号",
        "householdnumber",
        "household no",
        "hh",
    ],
}

# Headers that name somebody else's data ("紧急联系人电话", "户主身份证号"): a containment
# match through them would file another person's phone or ID under this row's resident.
_OTHER_PERSON = ("联系人", "紧急", "监护", "父亲", "母亲", "配偶", "户主", "家属", "代办")

_ANNOTATION = re.compile(r"[(\[【<（《].*?[)\]】>）》]")
_DECORATION = re.compile(r"[\s_\-:：*＊#.。、/\\|'\"]+")


def header_key(header: str) -> str:
    """Returns the header folded for matching.

    Full-width characters become half-width, latin letters lower case, and spaces,
    punctuation, required-field asterisks, trailing colons and bracketed notes such as
    "(必填)" or "（18位）" are removed.
    """
    text = unicodedata.normalize("NFKC", header).casefold()
    text = _ANNOTATION.sub("", text)
    return _DECORATION.sub("", text)


def _build_exact() -> dict[str, tuple[str, int]]:
    exact: dict[str, tuple[str, int]] = {}
    for field_name, spellings in SYNONYMS.items():
        for rank, spelling in enumerate([*spellings, field_name]):
            exact.setdefault(header_key(spelling), (field_name, rank))
    return exact


_EXACT = _build_exact()
# Containment matches only for Chinese spellings of two or more characters: "id" inside a
# latin header, or "室" inside "科室", says nothing.
_CONTAINED = sorted(
    (
        (key, field_name)
        for key, (field_name, _rank) in _EXACT.items()
        if len(key) >= 2 and not key.isascii()
    ),
    key=lambda item: -len(item[0]),
)
_CONTAINED_RANK = 1000  # any exact spelling beats any containment match


@lru_cache(maxsize=4096)
def match_header(header: str) -> tuple[str, int] | None:
    """Returns (field, rank) for a header that names a canonical field, else None.

    Lower ranks are better: exact spellings rank by their place in SYNONYMS, a header that
    merely contains a spelling ("居民身份证号码（必填）") ranks after every exact one.
    """
    key = header_key(header)
    if not key:
        return None
    if key in _EXACT:
        return _EXACT[key]
    if any(marker in key for marker in _OTHER_PERSON):
        return None
    for spelling, field_name in _CONTAINED:
        if spelling in key:
            return field_name, _CONTAINED_RANK + len(key) - len(spelling)
    return None


def count_known_headers(cells: list[str]) -> int:
    """Returns how many cells of a row read as known header spellings (for header detection)."""
    return sum(1 for cell in cells if cell and match_header(cell) is not None)


def suggest_mapping(headers: list[str], remembered: dict[str, str] | None = None) -> dict[str, str]:
    """Returns header → field for every header ("" = ignore the column).

    A mapping remembered from the same source wins over synonyms, including a remembered ""
    (the steward chose to ignore that column); remembered headers match however they are
    decorated (spaces, colons, full-width). No field is given to two headers: the best
    spelling wins, and between equals the leftmost header.
    """
    remembered = remembered or {}
    # Next month's file may write the same header with a space or a colon more.
    remembered_by_key = {header_key(header): field for header, field in remembered.items()}
    mapping = dict.fromkeys(headers, "")
    taken: set[str] = set()
    decided: set[str] = set()
    for header in headers:
        field_name = remembered.get(header, remembered_by_key.get(header_key(header)))
        if field_name is not None:
            decided.add(header)
            if field_name in FIELDS and field_name not in taken:
                mapping[header] = field_name
                taken.add(field_name)
    candidates = []
    for position, header in enumerate(headers):
        if header in decided:
            continue
        matched = match_header(header)
        if matched is not None:
            candidates.append((matched[1], position, header, matched[0]))
    for _rank, _position, header, field_name in sorted(candidates):
        if field_name not in taken and not mapping[header]:
            mapping[header] = field_name
            taken.add(field_name)
    return mapping


def validate_mapping(mapping: dict[str, str]) -> list[RowError]:
    """Returns the problems that stop an import with this mapping (empty when it can run).

    A name or an ID number column is required (a row with a valid ID number and no name
    links to the person with that ID); a field may be mapped only once and must be one of FIELDS.
    A whole address next to compound/building/unit/room columns is fine (the columns win).
    """
    problems: list[RowError] = []
    seen: dict[str, str] = {}
    for header, field_name in mapping.items():
        if not field_name:
            continue
        if field_name not in FIELDS:
            problems.append(
                RowError(
                    field_name,
                    "unknown_field",
                    _("column “%(header)s” is mapped to an unknown field “%(field)s”"),
                    (("header", header), ("field", field_name)),
                )
            )
        elif field_name in seen:
            problems.append(
                RowError(
                    field_name,
                    "duplicate_field",
                    _("columns “%(first)s” and “%(header)s” are both mapped to “%(field)s”"),
                    (("first", seen[field_name]), ("header", header), ("field", field_name)),
                )
            )
        else:
            seen[field_name] = header
    if "name" not in seen and "id_number" not in seen:
        problems.append(
            RowError(
                "name",
                "name_column_missing",
                _("no column is mapped to the name or the ID number: one of them is required"),
            )
        )
    return problems
