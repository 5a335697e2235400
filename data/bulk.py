"""Writing many rows in one unit of work (import, seed) at close to the database's own pace.

`execute_many` runs one statement for many rows through the driver's executemany. Core's
executemany builds, fills and type-processes a parameter dictionary per row: on an import
of 100,000 users and their audit entries that cost as long as SQLite's own inserts (5.1x
raw sqlite3 executemany in all, against 3.5x this way). Here SQLAlchemy still compiles the
statement for the connection's dialect and its types still convert every value, but each
column's conversion is looked up once, values shared by every row (the import's time, the
actor) are converted once, and each row becomes the driver's parameters with C-level tuple
and dict operations. Errors pass through SQLAlchemy as with any statement, so
`translate_errors` sees them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, Update

from models import Base

Processor = Callable[[Any], Any]

LOOKUP_BATCH = 500  # keys per IN (...): far below every backend's parameter limit
SQLITE_BULK_CACHE_KIB = 64 * 1024


def in_batches(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``values`` in slices of `LOOKUP_BATCH`, for ``IN (...)`` lookups."""
    for start in range(0, len(values), LOOKUP_BATCH):
        yield values[start : start + LOOKUP_BATCH]


def table_of(model: type[Base]) -> Table:
    """The Core table ``model`` is mapped to."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class _CollectionPause:
    """Pauses of Python's cyclic garbage collector that nest and overlap across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pauses = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._pauses == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._pauses += 1
        try:
            yield
        finally:
            with self._lock:
                self._pauses -= 1
                if self._pauses == 0 and self._resume:
                    gc.enable()


# An import holds a few small objects per row (the file's rows, their verdicts, the report)
# until it ends. Each full collection walks all of them, and at 100,000 rows the collector
# ran 11 of those: 1.2 s of CPU, a quarter of the import. What an import builds holds no
# reference cycles to reclaim early; collection resumes when the last pause ends (and only
# if it was on before the first), and catches up then.
cycle_collection_paused = _CollectionPause()


@contextmanager
def roomy_sqlite_cache(session: Session) -> Iterator[None]:
    """On SQLite, let the page cache hold the growing indexes for a bulk write (seed, import).

    With the default 2 MB cache every insert into a random spot of an index (email, name,
    SKU) spills pages, and 100,000 rows take half as long again. The old size is put back:
    the connection returns to the pool afterwards.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")
    try:
        yield
    finally:
        # Best effort: a failed restore must not hide the error that ended the write.
        with suppress(SQLAlchemyError):
            connection.exec_driver_sql(f"PRAGMA cache_size = {before}")


def execute_many(
    session: Session,
    statement: Insert | Update,
    rows: Sequence[Sequence[Any]],
    *,
    columns: Sequence[str],
    constants: Mapping[str, Any],
) -> int:
    """Run ``statement`` once per row in ``session``'s transaction; return the rows matched.

    Each row holds the values of ``columns`` in that order; ``constants`` are the same for
    every row. The names are the statement's bound parameters: column names for the
    VALUES or SET clause, and the names of any `bindparam` in a WHERE clause.

    Python-side column defaults are not run (Core runs them per row): a statement that
    would need one is refused with `ValueError`, so a model's new default cannot be skipped
    silently. Give such columns a value, once in ``constants`` or per row.
    """
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(
        dialect=dialect, column_keys=[*columns, *constants], for_executemany=True
    )
    assert isinstance(compiled, SQLCompiler)
    skipped = [column.key for column in (*compiled.insert_prefetch, *compiled.update_prefetch)]
    if skipped:
        raise ValueError(f"give a value for {', '.join(skipped)}: their defaults run in Python")
    processors = {name: _bind_processor(compiled, name, dialect) for name in compiled.binds}
    converting = [
        _Conversion(index, process, process(None))
        for index, name in enumerate(columns)
        if (process := processors[name]) is not None
    ]
    fixed: dict[str, Any] = {}
    for name, value in constants.items():
        process = processors[name]
        fixed[name] = value if process is None else process(value)
    parameters = _driver_parameters(compiled, rows, columns, converting, fixed)
    if isinstance(statement, Insert) and dialect.name == "sqlite" and compiled.positional:
        per_row = len(compiled.positiontup or ())
        return _insert_by_pages(connection, compiled.string, parameters, per_row=per_row)
    result = connection.exec_driver_sql(compiled.string, parameters)
    return int(result.rowcount)


def _insert_by_pages(
    connection: Connection, sql: str, parameters: list[Any], *, per_row: int
) -> int:
    """SQLite: one ``INSERT ... VALUES (...), (...), ...`` per page of rows.

    Under executemany SQLite runs the statement once per row, and an FTS5 search index kept
    by triggers flushes after every statement: 100,000 users took 8.5 s of CPU row by row
    against 2.8 s in statements of 1,000 rows (1.2 s and 1.1 s without such an index). The
    page is SQLAlchemy's own for its multi-row inserts, within SQLite's parameter limit.
    """
    head, _, one_row = sql.rpartition(" VALUES ")
    if not (head and one_row.startswith("(") and one_row.endswith(")")):
        raise ValueError(f"not a single-row INSERT ... VALUES (...): {sql}")
    dialect = connection.dialect
    page = min(
        dialect.insertmanyvalues_page_size, dialect.insertmanyvalues_max_parameters // per_row
    )
    page = max(page, 1)
    inserted = 0
    for start in range(0, len(parameters), page):
        rows = parameters[start : start + page]
        page_sql = f"{head} VALUES {', '.join([one_row] * len(rows))}"
        result = connection.exec_driver_sql(page_sql, tuple(chain.from_iterable(rows)))
        inserted += int(result.rowcount)
    return inserted


def _bind_processor(compiled: SQLCompiler, name: str, dialect: Dialect) -> Processor | None:
    # The dialect's own conversion for the parameter's type (a SQLite boolean becomes 0/1,
    # JSON becomes text, an aware UTC time becomes naive): what Core would apply per row.
    bound_type = compiled.binds[name].type
    return bound_type.dialect_impl(dialect).bind_processor(dialect)


def _driver_parameters(
    compiled: SQLCompiler,
    rows: Sequence[Sequence[Any]],
    columns: Sequence[str],
    converting: list[_Conversion],
    fixed: Mapping[str, Any],
) -> list[Any]:
    """Each row as the driver takes it: a tuple in the SQL's order, or a dict by name."""
    if converting:
        rows = [_converted(row, converting) for row in rows]
    if not compiled.positional:
        names = [compiled.escaped_bind_names.get(name, name) for name in columns]
        constants = {compiled.escaped_bind_names.get(name, name): v for name, v in fixed.items()}
        return [{**constants, **dict(zip(names, row, strict=True))} for row in rows]
    # Positional: pick the SQL's order out of (row values..., constants...) in C.
    fixed_names = list(fixed)
    fixed_values = tuple(fixed.values())
    where = {name: index for index, name in enumerate([*columns, *fixed_names])}
    order = [where[name] for name in compiled.positiontup or ()]
    if len(order) == 1:  # itemgetter of one index returns the value, not a tuple
        return [((*row, *fixed_values)[order[0]],) for row in rows]
    pick = itemgetter(*order)
    return [pick((*row, *fixed_values)) for row in rows]


class _Conversion(NamedTuple):
    """A per-row value's bind processor, and what it makes of None (worked out once: a
    create's audit entry has no old values, and JSON would encode that per row)."""

    position: int
    process: Processor
    none: Any


def _converted(row: Sequence[Any], converting: list[_Conversion]) -> list[Any]:
    values = list(row)
    for position, process, none in converting:
        value = values[position]
        values[position] = none if value is None else process(value)
    return values
