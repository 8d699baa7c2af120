from datetime import date

import pytest

from linli.core.idnumbers import InvalidIdNumber, check_character, make_id_number, parse_id_number

VALID = "11010519491231002X"  # the GB 11643 standard's own example


def test_standard_example_is_valid():
    """The standard's example number passes MOD 11-2 and yields its birth date and sex."""
    parsed = parse_id_number(VALID)
    assert parsed.value == VALID
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "F"
    assert parsed.region_code == "110105"


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",
        " 110105 1949 1231 002X ",
        "１１０１０５１９４９１２３１００２Ｘ",
        "110105-19491231-002X",
    ],
)
def test_messy_forms_normalise(raw):
    """Lower-case x, spaces, dashes and full-width digits are accepted and normalised."""
    assert parse_id_number(raw).value == VALID


def test_fifteen_digit_number_is_upgraded():
    """A first-generation 15-digit number gains 19 in its year and a computed check digit."""
    parsed = parse_id_number("110105491231002")
    assert parsed.upgraded_from_15
    assert parsed.value == "11010519491231002" + check_character("11010519491231002")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("6.10103E+17", "excel_scientific"),
        ("1.10105E17", "excel_scientific"),
        ("110105194912310000", "excel_rounded"),
        ("110105194912310021", "checksum"),
        ("11010519491331002X", "birth_date"),
        ("1101051949123100", "format"),
        ("ABCDEFGHIJKLMNOPQR", "format"),
    ],
)
def test_damaged_numbers_are_refused_with_a_reason(raw, code):
    """Excel damage, bad dates, wrong check digits and bad formats are refused, never fixed."""
    with pytest.raises(InvalidIdNumber) as error:
        parse_id_number(raw)
    assert error.value.code == code
    assert error.value.zh and error.value.en


def test_trailing_000_is_refused_even_with_a_valid_check_digit():
    """Excel zeroes the last digits of a number; one such number in eleven still passes the
    check digit, so a trailing 000 is never accepted."""
    first17 = "61010319900101100"
    assert check_character(first17) == "0"
    with pytest.raises(InvalidIdNumber) as error:
        parse_id_number(first17 + "0")
    assert error.value.code == "excel_rounded"


def test_made_numbers_are_valid():
    """The generator used by the demo and the tests makes numbers the validator accepts."""
    for sequence in range(1000):
        number = make_id_number("610113", date(1990, 1, 1), sequence)
        assert parse_id_number(number).value == number


def test_check_character_matches_the_standard_formula():
    """The table-driven check digit is the GB 11643 MOD 11-2 sum, for every digit at every
    position; anything but 17 digits raises ValueError."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    for position in range(17):
        for digit in "0123456789":
            first17 = "1" * position + digit + "3" * (16 - position)
            total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
            assert check_character(first17) == "10X98765432"[total % 11]
    for bad in ("1101051949123100", "11010519491231002X", "1101051949123100A"):
        with pytest.raises(ValueError):
            check_character(bad)


@pytest.mark.parametrize("raw", ["11010519491231002 ", "11010519491231002-"])
def test_eighteen_characters_ending_in_a_separator_are_cleaned_first(raw):
    """17 digits and a space or dash are 18 characters but not a number: the separator is
    removed, leaving 17 digits."""
    with pytest.raises(InvalidIdNumber) as error:
        parse_id_number(raw)
    assert error.value.code == "format"
