"""Reads of passes, one module per topic (`keys`: what gates verify with)."""
