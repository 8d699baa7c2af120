"""Fixtures shared by the standing security probes."""

# Community B with one object of every kind, as the URL walk of tests/test_jurisdiction_urls.py
# builds it: the download walk reuses it so a new route is covered the day it is added.
from tests.test_jurisdiction_urls import world_b  # noqa: F401
