"""Base45 (RFC 9285), the encoding the EU Digital COVID Certificate puts in its QR codes.

Its 45 characters are exactly the QR code's alphanumeric set, which packs 11 bits into two
characters: base45 text costs 1.5 characters a byte there, while base64 would force the byte
mode (8 bits a character), so the same pass needs a smaller, coarser code.
"""

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUES = {char: value for value, char in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """Raised for text that is not base45."""


def b45encode(data: bytes) -> str:
    """Returns the base45 text of `data`: each pair of bytes as three characters (least
    significant first), a last odd byte as two."""
    out = []
    for i in range(0, len(data) - 1, 2):
        value = data[i] * 256 + data[i + 1]
        value, c = divmod(value, 45)
        e, d = divmod(value, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Returns the bytes of base45 text. Raises Base45Error for a character outside the
    alphabet, a dangling character, or a group worth more than its bytes can hold."""
    try:
        values = [_VALUES[char] for char in text]
    except KeyError:
        raise Base45Error("not a base45 character") from None
    if len(values) % 3 == 1:
        raise Base45Error("base45 text cannot end with a single character")
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        if len(group) == 3:
            value = group[0] + group[1] * 45 + group[2] * 45 * 45
            if value > 0xFFFF:
                raise Base45Error("base45 group out of range")
            out += bytes(divmod(value, 256))
        else:
            value = group[0] + group[1] * 45
            if value > 0xFF:
                raise Base45Error("base45 group out of range")
            out.append(value)
    return bytes(out)
