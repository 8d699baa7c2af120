"""Masking of personal values for display. Pure functions, applied on the server."""

import re
from collections.abc import Callable

from linli.core.roles import RolePolicy, Visibility
from linli.core.sensitivity import Sensitivity

MASK = "*"
HIDDEN_TEXT = "—"


def mask_name(name: str) -> str:
    """张伟 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜."""
    if not name:
        return ""
    if len(name) == 1:
        return MASK
    if len(name) == 2:
        return name[0] + MASK
    return name[0] + MASK * (len(name) - 2) + name[-1]


def mask_id_number(id_number: str) -> str:
    """610103199001011234 → 6101**********1234 (the form printed on Chinese receipts)."""
    if len(id_number) < 8:
        return MASK * len(id_number)
    return id_number[:4] + MASK * (len(id_number) - 8) + id_number[-4:]


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678; other lengths keep their last four digits."""
    if len(phone) == 11:
        return phone[:3] + MASK * 4 + phone[-4:]
    if len(phone) <= 4:
        return MASK * len(phone)
    return MASK * (len(phone) - 4) + phone[-4:]


def mask_address(building: str, dwelling: str) -> str:
    """Keeps the compound and building, hides the unit and dwelling: 翠华小区3号楼****."""
    return building + (MASK * 4 if dwelling else "")


_LONG_NUMBER = re.compile(r"[0-9０-９][0-9０-９xX\s\-+.Ee]{5,}")


_DIGIT_GROUP = re.compile(r"[0-9０-９]+")


def _looks_identifying(number: str) -> bool:
    """True for a run that may be an ID number or a phone: 7 digits or more, unless it is
    three or more short groups, as a dwelling is written (12-3-2501, 春晓公寓2-1-305)."""
    groups = _DIGIT_GROUP.findall(number)
    digits = sum(len(g) for g in groups)
    if digits < 7:
        return False
    if digits >= 11 or max(len(g) for g in groups) >= 5:
        return True
    return len(groups) <= 2


def _mask_run(match: re.Match[str]) -> str:
    run = match[0]
    if not _looks_identifying(run):
        return run
    trailing = run[len(run.rstrip(" -+.")) :]
    digits = re.sub(r"[^0-9０-９xX]", "", run)
    masked = mask_id_number(digits) if len(digits) >= 15 else mask_phone(digits)
    return masked + trailing


def mask_long_numbers(text: str) -> str:
    """Masks every number in the text that may be an ID number or a phone, in place (a column
    mapped wrongly, a free-text cell, an error's text); an address's numbers and other text
    are kept as they are."""
    if not _LONG_NUMBER.search(text):
        return text
    return _LONG_NUMBER.sub(_mask_run, text)


def present(
    value: str,
    *,
    sensitivity: Sensitivity,
    policy: RolePolicy,
    mask: Callable[[str], str] = mask_name,
) -> str:
    """Returns the value as this role may see it: in clear, through `mask`, or hidden."""
    visibility = policy.visibility(sensitivity)
    if visibility == Visibility.CLEAR:
        return value
    if visibility == Visibility.HIDDEN:
        return HIDDEN_TEXT
    return mask(value)
