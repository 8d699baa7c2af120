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


def test_keyed_hash_is_hmac_sha256_of_kind_and_value(settings):
    """The precomputed-pad construction gives exactly the standard library's HMAC-SHA256,
    for short keys and for keys longer than a SHA-256 block (which HMAC hashes first), so
    hashes stored by earlier versions still match."""
    import hashlib
    import hmac

    for key in ("k", "a-32-character-key-for-the-tests", "x" * 65, "长密钥" * 30):
        settings.LINLI_HASH_KEY = key
        for kind, value in (("id", "11010519491231002X"), ("phone", "13812345678")):
            expected = hmac.new(key.encode(), f"{kind}:{value}".encode(), hashlib.sha256)
            assert identifiers.keyed_hash(kind, value) == expected.hexdigest()
