"""Phone numbers as Chinese residents and department files write them."""

import re

from linli.core.errors import BilingualError

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")


class InvalidPhone(BilingualError):
    """Raised with a code and a message in Chinese and English."""


def normalise_phone(raw: object) -> str:
    """Returns an 11-digit mobile number or a landline with its area code (digits only).

    Accepts +86 / 0086 prefixes, spaces, dashes and brackets. Raises InvalidPhone.
    """
    text = "" if raw is None else str(raw).translate(_FULLWIDTH).strip()
    if text.endswith(".0"):  # a phone that passed through an Excel float
        text = text[:-2]
    digits = re.sub(r"[\s\-()（）]", "", text)
    if not digits:
        raise InvalidPhone("empty", "电话号码为空", "phone number is empty")
    digits = re.sub(r"^(\+86|0086|86(?=1\d{10}$))", "", digits)
    if not digits.isdigit():
        raise InvalidPhone("format", "电话号码含有非数字字符", "phone number has non-digits")
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return digits
    if re.fullmatch(r"0\d{9,11}", digits):
        return digits
    raise InvalidPhone(
        "format",
        "电话号码应为11位手机号或带区号的固定电话",
        "phone must be an 11-digit mobile or a landline with its area code",
    )
