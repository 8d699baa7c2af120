"""Chinese text made speakable by espeak-ng's Mandarin voice: numbers written out in Chinese
(37.3 → 三十七点三, keys to press digit by digit: 请按1 → 请按一), then pinyin with tone
numbers (pypinyin), which the `cmn-latn-pinyin` voice pronounces with the right tones where
plain `cmn` reads the tone digits aloud.
"""

import re

from pypinyin import Style, lazy_pinyin

_DIGITS = "零一二三四五六七八九"
_UNITS = ["", "十", "百", "千"]
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# After these, numbers are keys to press or codes: read digit by digit.
_DIGIT_BY_DIGIT_BEFORE = ("按", "拨", "输入")


def digits_zh(text: str) -> str:
    """ "375" → 三七五, "37.5" → 三七点五."""
    return "".join("点" if ch == "." else _DIGITS[int(ch)] for ch in text)


def _below_10000(n: int) -> str:
    out: list[str] = []
    zero = False
    for position in range(3, -1, -1):
        digit = n // 10**position % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[digit] + _UNITS[position])
    return "".join(out)


def integer_zh(n: int) -> str:
    """14 → 十四, 105 → 一百零五, 20000 → 二万; 0 → 零."""
    if n == 0:
        return "零"
    if n < 0:
        return "负" + integer_zh(-n)
    parts: list[str] = []
    for unit, size in (("亿", 10**8), ("万", 10**4), ("", 1)):
        chunk = n // size % 10000 if size < 10**8 else n // size
        if chunk:
            if parts and chunk < 1000:
                parts.append("零")
            parts.append((integer_zh(chunk) if chunk >= 10000 else _below_10000(chunk)) + unit)
        elif parts and parts[-1] != "零":
            parts.append("零")
    text = "".join(parts).rstrip("零")
    # 10–19 are said 十…, not 一十….
    return text[1:] if text.startswith("一十") else text


def number_zh(text: str) -> str:
    """37.3 → 三十七点三 (the decimals are read digit by digit)."""
    whole, _, decimals = text.partition(".")
    spoken = integer_zh(int(whole))
    return spoken + ("点" + digits_zh(decimals) if decimals else "")


def speakable(text: str) -> str:
    """Writes the numbers of a text in Chinese characters: keys to press and long codes
    (dates as 20220105, phone numbers) digit by digit, a year before 年 digit by digit,
    quantities as numbers (14天 → 十四天, 37.3 → 三十七点三)."""
    text = text.replace("℃", "度").replace("°C", "度").replace("%", "")

    def replace(match: re.Match) -> str:
        value = match.group(0)
        before = text[: match.start()].rstrip()
        after = text[match.end() :]
        if before.endswith(_DIGIT_BY_DIGIT_BEFORE):
            return digits_zh(value)
        if len(value) >= 5 and "." not in value:
            return digits_zh(value)
        if len(value) > 1 and value.startswith("0") and "." not in value:
            return digits_zh(value)
        if len(value) == 4 and after.startswith("年"):
            return digits_zh(value)
        return number_zh(value)

    return _NUMBER.sub(replace, text)


# Words pypinyin reads with the wrong pronunciation in this domain.
PINYIN_OVERRIDES = {
    "重听": "chong2 ting1",
    "咽痛": "yan1 tong4",
    "咽喉": "yan1 hou2",
}
_OVERRIDE = re.compile("|".join(map(re.escape, PINYIN_OVERRIDES)))
PAUSE = re.compile(r"[，、；：,;:—…~\-]+")
STOP = re.compile(r"[。！？!?.]+")


def _punctuation(segment: str) -> str:
    """Keeps pauses as ASCII punctuation espeak understands; drops everything else that is not
    Chinese (brackets, quotes, Latin letters that the pinyin voice would misread)."""
    out = []
    for ch in segment:
        if STOP.fullmatch(ch):
            out.append(". ")
        elif PAUSE.fullmatch(ch):
            out.append(", ")
        elif ch.isspace():
            out.append(" ")
    return "".join(out)


def to_pinyin(text: str) -> str:
    """Returns the text as pinyin with tone numbers (neutral tone 5), punctuation kept as
    pauses: "请按1。" → "qing3 an4 yi1. "."""
    text = speakable(text)
    words: list[str] = []
    position = 0
    chunks: list[tuple[str, bool]] = []
    for match in _OVERRIDE.finditer(text):
        chunks.append((text[position : match.start()], False))
        chunks.append((match.group(0), True))
        position = match.end()
    chunks.append((text[position:], False))
    for chunk, fixed in chunks:
        if fixed:
            words.append(PINYIN_OVERRIDES[chunk])
            continue
        for item in lazy_pinyin(chunk, style=Style.TONE3, neutral_tone_with_five=True):
            if re.fullmatch(r"[a-zü]+[1-5]", item):
                words.append(item)
            else:
                pause = _punctuation(item)
                if pause.strip() and words:
                    words[-1] += pause.rstrip()
    return " ".join(words).strip()
