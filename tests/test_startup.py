"""Starting the console: its first frame before the data core loads, its rows once it opens.

The console is built by the command line's own `console_app`, or run as ``python -m tui``
under Textual's headless driver, over real databases.
"""

from __future__ import annotations

from typing import Any

import pytest

from data.entities import PRODUCT_NAMES, USER_NAMES, EntityNames
from data.specs import PRODUCTS, USERS, EntitySpec

# The names the first frame and the parser use without the data core


@pytest.mark.parametrize(("names", "spec"), [(USER_NAMES, USERS), (PRODUCT_NAMES, PRODUCTS)])
def test_the_plain_names_agree_with_the_data_core(
    names: EntityNames, spec: EntitySpec[Any, Any]
) -> None:
    assert (names.entity, names.plural) == (spec.entity, spec.plural)
    assert names.sort_fields == tuple(spec.sort_columns)
    assert names.search_fields == tuple(column.key for column in spec.search_columns)
