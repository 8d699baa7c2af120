"""Writes of passes, one module per topic.

- `keys`: the Ed25519 signing keys (first key, rotation, retirement).
- `issuing`: policies; issuing to a person or to an area; reissuing, changing the holder,
  revoking (and the hook the health app calls when someone goes under monitoring).
"""
