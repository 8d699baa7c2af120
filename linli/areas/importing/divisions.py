"""The official statistical division codes (统计用区划代码) and what their structure says.

A code has 12 digits: 2 province, 2 city, 2 district (county), 3 street (township), 3
community (village). An area's level is where its code's digits end; its parent's code is its
own with the last filled segment set to zeros, so a child's code starts with its parent's
prefix. A segment of zeros followed by a filled one is not a code the bureau publishes.
"""

import re

from django.utils.translation import gettext_lazy as _

from linli.areas.models import AreaLevel
from linli.core.errors import BilingualError

# (level, digits of the code that are this level's own prefix)
_PREFIXES = [
    (AreaLevel.CITY, 4),
    (AreaLevel.DISTRICT, 6),
    (AreaLevel.STREET, 9),
    (AreaLevel.COMMUNITY, 12),
]
_SEGMENTS = [(0, 2), (2, 4), (4, 6), (6, 9), (9, 12)]
# The published list names a community's committee; Linli names the community.
_COMMITTEE_SUFFIXES = ("居民委员会", "居委会", "村民委员会", "村委会")


class BadCode(BilingualError):
    """A division code that is malformed or does not fit where it is placed."""


def level_of(code: str) -> str:
    """Returns the level a 12-digit code stands for. Raises BadCode when it is malformed."""
    if not re.fullmatch(r"\d{12}", code):
        raise BadCode("digits", _("A division code has 12 digits."))
    filled = [code[a:b].strip("0") != "" for a, b in _SEGMENTS]
    last = max((i for i, f in enumerate(filled) if f), default=-1)
    if not all(filled[: last + 1]):
        raise BadCode(
            "gap", _("Code %(code)s has an empty segment before a filled one."), {"code": code}
        )
    if last < 1:
        raise BadCode(
            "province",
            _("Code %(code)s is a province: the tree starts at the city."),
            {"code": code},
        )
    return _PREFIXES[last - 1][0]


def parent_code(code: str) -> str | None:
    """Returns the parent's code (None for a city). Expects a well-formed code."""
    level = level_of(code)
    if level == AreaLevel.CITY:
        return None
    index = [lvl for lvl, _n in _PREFIXES].index(level)
    keep = _PREFIXES[index - 1][1]
    return code[:keep] + "0" * (12 - keep)


def prefix_of(code: str) -> str:
    """Returns the digits that identify the area (its children's codes all start with them)."""
    return code[: dict(_PREFIXES)[level_of(code)]]


def community_name(name: str) -> str:
    """Returns the name without the committee suffix the published list adds
    (长延堡社区居委会 → 长延堡社区; 某某村委会 → 某某村)."""
    for suffix in _COMMITTEE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            base = name[: -len(suffix)]
            return (
                base if base.endswith(("社区", "村")) else base + ("村" if "村" in suffix else "")
            )
    return name
