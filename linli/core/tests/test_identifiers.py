from linli.core import identifiers


def test_sealed_identifier_round_trips_and_hides_the_value():
    """The ciphertext opens to the value, differs each time, and never contains it."""
    first = identifiers.seal("id", "11010519491231002X", "1101**********002X")
    second = identifiers.seal("id", "11010519491231002X", "1101**********002X")
    assert identifiers.decrypt(first.encrypted) == "11010519491231002X"
    assert first.encrypted != second.encrypted
    assert "11010519491231002X" not in first.encrypted
    assert first.hashed == second.hashed


def test_keyed_hash_separates_kinds_and_depends_on_the_key(settings):
    """The same digits hash differently as an ID and as a phone, and under another key."""
    as_id = identifiers.keyed_hash("id", "13812345678")
    assert as_id != identifiers.keyed_hash("phone", "13812345678")
    settings.LINLI_HASH_KEY = "another-key"
    assert identifiers.keyed_hash("id", "13812345678") != as_id
