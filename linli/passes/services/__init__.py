"""Writes of passes, one module per topic.

- `keys`: the Ed25519 signing keys (first key, rotation, retirement).
"""
