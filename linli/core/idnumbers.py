"""Resident identity card numbers (公民身份号码, GB 11643-1999).

One validator for the whole product: the registry, imports and search all call
`parse_id_number`. It accepts what people and spreadsheets actually produce (full-width
digits, a lower-case x, spaces, 15-digit first-generation numbers) and refuses what
Excel damaged (scientific notation, the last digits zeroed by float rounding).
"""

import re
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy as _

from linli.core.clock import local_today
from linli.core.errors import BilingualError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Each position's digit → digit × weight, so the check sum is 17 dictionary lookups in C
# (map) instead of 17 int() calls in a generator: imports check every distinct number.
_WEIGHTED = tuple({str(digit): digit * weight for digit in range(10)} for weight in _WEIGHTS)
_CHECK_CHARS = "10X98765432"
_FULLWIDTH = str.maketrans("０１２３４５６７８９ＸｘＸ", "0123456789XXX")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_SEPARATORS = re.compile(r"[\s\-]")
_FIFTEEN_DIGITS = re.compile(r"\d{15}")
_EIGHTEEN = re.compile(r"\d{17}[\dX]")


class InvalidIdNumber(BilingualError):
    """Raised with a code and a gettext message (core.errors.BilingualError)."""


@dataclass(frozen=True)
class IdNumber:
    value: str  # normalised 18 characters
    birth_date: date
    sex: str  # "M" or "F"
    region_code: str  # first six digits: the county of first registration
    upgraded_from_15: bool = False


def check_character(first17: str) -> str:
    """Returns the MOD 11-2 check character for the first 17 digits.

    Raises ValueError unless given exactly 17 digits.
    """
    if len(first17) != 17:
        raise ValueError(f"expected 17 digits, got {len(first17)}")
    try:
        total = sum(map(dict.__getitem__, _WEIGHTED, first17))
    except KeyError:
        # Other Unicode digits (Arabic-Indic "١" passes the format check's \d) count by their
        # value, as int() reads them; anything else raises ValueError.
        total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_raw(raw: object) -> str:
    """Returns the raw cell as an upper-case string without spaces or full-width digits."""
    if (
        type(raw) is str
        and len(raw) == 18
        and raw.isascii()
        and raw[:17].isdigit()
        and raw[17] in "0123456789Xx"
    ):
        # The commonest cell by far, already clean: nothing to translate or strip (an ASCII
        # string has no full-width digits or spaces among 17 digits), only "x" to upper-case.
        return raw.upper()
    text = "" if raw is None else str(raw)
    return _SEPARATORS.sub("", text.translate(_FULLWIDTH)).upper()


def parse_id_number(raw: object) -> IdNumber:
    """Returns the validated, normalised ID number.

    Raises InvalidIdNumber (codes: empty, excel_scientific, excel_rounded, format,
    birth_date, checksum).
    """
    text = normalise_raw(raw)
    upgraded = False
    if not (
        len(text) == 18 and text.isascii() and text[:17].isdigit() and text[17] in "0123456789X"
    ):
        # Anything but 17 ASCII digits and a check character (which pass every test below
        # this one): refuse it, or upgrade a 15-digit number.
        text, upgraded = _eighteen_characters(text)
    try:
        birth = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        birth = None
    if birth is None or birth.year < 1880 or birth > local_today():
        raise InvalidIdNumber("birth_date", _("ID number has an invalid birth date"))
    if text.endswith("000") and not upgraded:
        # Excel keeps 15 significant digits: an 18-digit number typed as a number ends in 000.
        # One damaged number in eleven still passes the check digit, and two of them could
        # join two people, so a trailing 000 is never accepted (a genuine one is rare).
        raise InvalidIdNumber(
            "excel_rounded", _("ID number's last digits were zeroed by Excel; export it as text")
        )
    if check_character(text[:17]) != text[17]:
        raise InvalidIdNumber("checksum", _("ID number check digit is wrong"))
    sex = "M" if int(text[16]) % 2 == 1 else "F"
    return IdNumber(
        value=text, birth_date=birth, sex=sex, region_code=text[:6], upgraded_from_15=upgraded
    )


def _eighteen_characters(text: str) -> tuple[str, bool]:
    """Returns the number as 18 characters and whether it was upgraded from 15 digits."""
    if not text:
        raise InvalidIdNumber("empty", _("ID number is empty"))
    if _SCIENTIFIC.match(text):
        raise InvalidIdNumber(
            "excel_scientific",
            _("ID number was turned into scientific notation by Excel; export it as text"),
        )
    upgraded = False
    if _FIFTEEN_DIGITS.fullmatch(text):
        # First-generation numbers: two-digit year (all 19xx) and no check character.
        text = text[:6] + "19" + text[6:]
        text = text + check_character(text)
        upgraded = True
    if not _EIGHTEEN.fullmatch(text):
        raise InvalidIdNumber(
            "format", _("ID number must be 18 characters (the last may be X) or 15 digits")
        )
    return text, upgraded


def make_id_number(region_code: str, birth_date: date, sequence: int) -> str:
    """Returns a valid 18-character number; used by the demo generator and tests.

    Raises ValueError for a sequence outside 0–999 (it would silently repeat a number).
    """
    if not 0 <= sequence < 1000:
        raise ValueError("sequence must be 0–999")
    first17 = f"{region_code}{birth_date:%Y%m%d}{sequence:03d}"
    number = first17 + check_character(first17)
    if number.endswith("000"):
        # The validator refuses a trailing 000 (Excel damage); take the next number of the
        # same sex instead.
        return make_id_number(region_code, birth_date, (sequence + 2) % 1000)
    return number
