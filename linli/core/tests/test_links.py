import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.signing import b62_encode

from linli.core import links
from linli.core.links import (
    ExpiredLink,
    InvalidLink,
    LinkError,
    make_token,
    read_token,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
URL_SAFE = re.compile(r"[0-9A-Za-z._-]+")


def _token(subject="1000000", purpose="screening", max_age=DAY, now=NOW):
    return make_token(purpose=purpose, subject=subject, max_age=max_age, now=now)


@pytest.mark.parametrize(
    "subject",
    [
        "0",
        "7",
        "1000000",
        "999999999999",
        "张三丰",
        "007",
        "a.b_c-d",
        "f47ac10b-58cc-4372-a567-0e02b3c479d4",
        "F47AC10B-58CC-4372-A567-0E02B3C479D4",  # not canonical: kept as text, letter case and all
    ],
)
def test_round_trip(subject):
    """read_token() returns the subject make_token() was given, numeric or not."""
    token = _token(subject)
    assert URL_SAFE.fullmatch(token)
    assert read_token(token, purpose="screening", now=NOW) == subject


@pytest.mark.parametrize(("subject", "limit"), [("1000000", 34), ("999999999", 36), ("2" * 18, 44)])
def test_keys_make_short_tokens(subject, limit):
    """A primary key up to a billion gives a token of at most 36 characters, a UUID 53."""
    assert len(_token(subject)) <= limit <= 60


def test_subject_is_encoded_in_base62():
    """A numeric subject is written in base 62 before the expiry and the signature."""
    subject, expires, signature = _token("1000000").split(".")
    assert subject == b62_encode(1_000_000) == "4C92"
    assert expires == b62_encode(int((NOW + DAY).timestamp()))
    assert len(signature) == 22


def test_any_altered_character_is_refused():
    """Changing any one character of the token makes it invalid."""
    token = _token()
    for position, char in enumerate(token):
        if char == ".":
            continue
        replacement = "B" if char != "B" else "C"
        altered = token[:position] + replacement + token[position + 1 :]
        with pytest.raises(InvalidLink):
            read_token(altered, purpose="screening", now=NOW)


def test_a_later_expiry_cannot_be_grafted_on():
    """Moving the expiry forward breaks the signature."""
    subject, _, signature = _token().split(".")
    later = b62_encode(int((NOW + 30 * DAY).timestamp()))
    with pytest.raises(InvalidLink):
        read_token(f"{subject}.{later}.{signature}", purpose="screening", now=NOW)


def test_a_token_for_one_purpose_is_refused_for_another():
    """The purpose salts the signature: a screening link does not open another page."""
    with pytest.raises(InvalidLink):
        read_token(_token(purpose="screening"), purpose="pass", now=NOW)


def test_a_token_signed_with_another_key_is_refused_unless_it_is_a_fallback(settings):
    """After SECRET_KEY rotates, old links work only while the old key is a fallback."""
    token = _token()
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(InvalidLink):
        read_token(token, purpose="screening", now=NOW)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert read_token(token, purpose="screening", now=NOW) == "1000000"


def test_a_link_expires_after_max_age():
    """The link works until max_age has passed, then raises ExpiredLink with its subject."""
    token = _token(max_age=timedelta(hours=2))
    assert read_token(token, purpose="screening", now=NOW + timedelta(minutes=119)) == "1000000"
    with pytest.raises(ExpiredLink) as expired:
        read_token(token, purpose="screening", now=NOW + timedelta(hours=2))
    assert expired.value.subject == "1000000"
    assert expired.value.expired_at == NOW + timedelta(hours=2)
    assert expired.value.code == "expired"


def test_the_clock_defaults_to_the_current_time(monkeypatch):
    """Without `now`, make_token() and read_token() use time.time()."""
    clock = [NOW.timestamp()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    token = make_token(purpose="screening", subject="42", max_age=timedelta(minutes=5))
    assert read_token(token, purpose="screening") == "42"
    clock[0] += 5 * 60
    with pytest.raises(ExpiredLink):
        read_token(token, purpose="screening")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "   ",
        "abc",
        "4C92.1mE7Rq",
        "...",
        "4C92..x",
        "_!!.1mE7Rq.AbCdEfGhIjKlMnOpQrStUv",
        "🙂.a.b",
    ],
)
def test_garbage_is_invalid(token):
    """A malformed token raises InvalidLink, never another exception."""
    with pytest.raises(InvalidLink):
        read_token(token, purpose="screening", now=NOW)


@pytest.mark.parametrize(
    "value",
    ["4C92", "4C92.", "4C92.!!", ".1mE7Rq", "-.1mE7Rq", "-" + "z" * 23 + ".1mE7Rq", "_!!.1"],
)
def test_a_signed_value_that_is_no_token_is_invalid(value):
    """Even with a good signature, a value that does not decode raises InvalidLink."""
    token = links._signer("screening").sign(value)
    with pytest.raises(InvalidLink):
        read_token(token, purpose="screening", now=NOW)


def test_whitespace_around_a_token_is_ignored():
    """A token pasted with spaces or a newline still reads."""
    assert read_token(f" {_token()}\n", purpose="screening", now=NOW) == "1000000"


def test_errors_speak_chinese_and_english():
    """Both errors carry a code and a message in Chinese and English."""
    invalid = InvalidLink()
    assert (invalid.code, invalid.zh, invalid.en) == (
        "invalid",
        "链接无效，请打开短信中的完整链接",
        "this link is not valid; open the whole link from the SMS",
    )
    assert str(invalid) == f"{invalid.zh} / {invalid.en}"
    expired = ExpiredLink(subject="1", expired_at=NOW)
    assert "链接已过期" in str(expired) and "expired" in str(expired)
    assert isinstance(invalid, LinkError) and isinstance(expired, LinkError)


@pytest.mark.parametrize(
    ("purpose", "subject", "max_age"),
    [("", "1", DAY), ("screening", "", DAY), ("screening", "1", timedelta(0))],
)
def test_make_token_refuses_missing_arguments(purpose, subject, max_age):
    """An empty purpose or subject, or a max_age that is not positive, raises ValueError."""
    with pytest.raises(ValueError):
        make_token(purpose=purpose, subject=subject, max_age=max_age, now=NOW)


def test_now_must_be_aware():
    """A naive `now` is refused rather than read in an unknown time zone."""
    with pytest.raises(ValueError, match="aware"):
        _token(now=datetime(2026, 3, 1, 8, 0))
