"""Pagination that stays fast on large jurisdictions."""

from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import QuerySet


class CappedPaginator(Paginator):
    """Counts matching rows only up to `cap`.

    An exact COUNT over a street's or a city's 100,000+ residents costs more than the page
    itself; past the cap the list says "more than 10,000" and asks to narrow the search (the
    home page keeps the exact totals per area).
    """

    cap = 10_000

    @cached_property
    def count(self) -> int:
        """Returns the number of rows, or cap + 1 when there are more than `cap`."""
        rows = self.object_list
        if isinstance(rows, QuerySet):
            return rows[: self.cap + 1].count()
        return min(len(rows), self.cap + 1)

    @property
    def is_capped(self) -> bool:
        """Returns whether the list has more rows than the count shows."""
        return self.count > self.cap
