"""What every SMS backend takes (SmsMessage) and gives back (SmsResult)."""

import math
from dataclasses import dataclass, field

from django.utils.translation import gettext

from linli.core.masking import mask_phone
from linli.core.phones import InvalidPhone, normalise_phone

# The GSM 03.38 default alphabet: a message written only with these characters is sent in
# 7-bit encoding (160 characters in one SMS, 153 per part of a long one).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the GSM extension table take two septets (an escape and the character).
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def count_segments(text: str) -> int:
    """Returns how many SMS a carrier bills for `text` (0 for an empty text).

    Chinese text is sent as UCS-2: 70 characters fit one SMS, a longer text is split into
    parts of 67 (each part carries a header that joins them again on the phone). Characters
    outside the Basic Multilingual Plane (most emoji) count twice. A text written only in the
    GSM 7-bit alphabet fits 160 characters, or parts of 153. The count is for cost estimates:
    a gateway that adds a signature such as 【邻里】 sends that signature's characters too.
    """
    if not text:
        return 0
    if all(char in _GSM7_BASIC or char in _GSM7_EXTENDED for char in text):
        units = sum(2 if char in _GSM7_EXTENDED else 1 for char in text)
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = UCS2_SINGLE, UCS2_PART
    return 1 if units <= single else math.ceil(units / part)


@dataclass(frozen=True)
class SmsMessage:
    """One text to one mobile number.

    `to` is normalised on creation (+86, spaces and dashes removed); a number that is not a
    Chinese mobile raises InvalidPhone, so a bad number fails where the message is built, not
    inside a backend. `reference` is the caller's own key (for example a contact attempt id)
    and is returned in the result; it is logged, so it must not contain personal data.
    """

    to: str
    text: str
    reference: str = ""
    segments: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        number = normalise_phone(self.to)
        if len(number) != 11 or not number.startswith("1"):
            raise InvalidPhone(
                "not_mobile",
                "短信只能发送到11位手机号",
                "an SMS can only be sent to an 11-digit mobile number",
            )
        if not self.text or not self.text.strip():
            raise ValueError(gettext("The SMS text is empty."))
        object.__setattr__(self, "to", number)
        object.__setattr__(self, "segments", count_segments(self.text))

    @property
    def to_masked(self) -> str:
        """Returns the number as it may appear in logs and results: 138****5678."""
        return mask_phone(self.to)

    def result(
        self, *, accepted: bool, provider_id: str = "", status: str = "", error: str = ""
    ) -> "SmsResult":
        """Returns the SmsResult for this message with the number masked."""
        return SmsResult(
            to_masked=self.to_masked,
            reference=self.reference,
            accepted=accepted,
            provider_id=provider_id,
            status=status,
            error=error,
            segments=self.segments,
        )


@dataclass(frozen=True)
class SmsResult:
    """What a backend did with one message.

    `accepted` means the backend (or the gateway behind it) took the message for delivery; it
    does not mean the phone received it. `provider_id` is the backend's id for the message,
    `status` the gateway's own word for its state, `error` why it was not accepted (never the
    text, never the full number). `segments` is the number of SMS billed (count_segments).
    """

    to_masked: str
    reference: str
    accepted: bool
    provider_id: str = ""
    status: str = ""
    error: str = ""
    segments: int = 0
