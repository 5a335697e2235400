"""What a record table asks the data core, and the functions that answer it.

A `Query` is what the admin chose to see (search, sort, filters); the table turns it into
keyset page requests. The fetchers run in the table's thread workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from data.records import Count, Page, PageRequest

# Reads one page of records for a request.
PageFetcher = Callable[[PageRequest], Page[Any]]
# Counts the records matching a search and filters.
CountFetcher = Callable[[str, tuple[tuple[str, Any], ...]], Count]


class Query(NamedTuple):
    """What the table shows: search text, sort column and direction, fixed filters.

    ``filter_label`` says what the filters keep, for the admin (``owner: ann@example.com``).
    """

    search: str = ""
    sort: str = "id"
    descending: bool = False
    filters: tuple[tuple[str, Any], ...] = ()
    filter_label: str = ""

    def request(self, **cursor: Any) -> PageRequest:
        """A page request for this query, positioned by ``cursor`` keywords."""
        return PageRequest(
            search=self.search,
            sort=self.sort,
            descending=self.descending,
            filters=self.filters,
            **cursor,
        )


__all__ = ["CountFetcher", "PageFetcher", "Query"]
