import pytest

from linli.core.phones import InvalidPhone, normalise_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("13812345678.0", "13812345678"),
        ("(029) 8888-1234", "02988881234"),
        ("１３８１２３４５６７８", "13812345678"),
    ],
)
def test_phone_forms_normalise(raw, expected):
    """Country prefixes, separators, Excel floats and full-width digits are normalised."""
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "1381234567a", "23812345678"])
def test_bad_phones_are_refused(raw):
    """Numbers that are neither a mobile nor a landline with area code are refused."""
    with pytest.raises(InvalidPhone):
        normalise_phone(raw)
