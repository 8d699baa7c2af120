"""Phone numbers as Chinese residents and department files write them."""

import re

from django.utils.translation import gettext_lazy as _

from linli.core.errors import BilingualError

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")
# Compiled once: imports normalise every distinct phone of every file.
_SEPARATORS = re.compile(r"[\s\-()（）]")
_COUNTRY_PREFIX = re.compile(r"^(\+86|0086|86(?=1\d{10}$))")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{9,11}")


class InvalidPhone(BilingualError):
    """Raised with a code and a gettext message (core.errors.BilingualError)."""


def normalise_phone(raw: object) -> str:
    """Returns an 11-digit mobile number or a landline with its area code (digits only).

    Accepts +86 / 0086 prefixes, spaces, dashes and brackets. Raises InvalidPhone.
    """
    if (
        type(raw) is str
        and len(raw) == 11
        and raw.isascii()
        and raw.isdigit()
        and raw[0] == "1"
        and raw[1] in "3456789"
    ):
        return raw  # the commonest cell, a plain mobile number: nothing to clean
    text = "" if raw is None else str(raw).translate(_FULLWIDTH).strip()
    if text.endswith(".0"):  # a phone that passed through an Excel float
        text = text[:-2]
    digits = _SEPARATORS.sub("", text)
    if not digits:
        raise InvalidPhone("empty", _("phone number is empty"))
    digits = _COUNTRY_PREFIX.sub("", digits)
    if not digits.isdigit():
        raise InvalidPhone("format", _("phone number has non-digits"))
    if _MOBILE.fullmatch(digits):
        return digits
    if _LANDLINE.fullmatch(digits):
        return digits
    raise InvalidPhone(
        "format", _("phone must be an 11-digit mobile or a landline with its area code")
    )
