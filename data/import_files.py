"""Reading an import file as a stream of rows, refusing hostile files with a clear reason.

A file is read piece by piece (never whole), so memory stays flat at any size; a CSV
file's lines are split and parsed in C, with Python at work once a piece and once a record,
never once a line. Whatever the bytes, reading ends in rows or in `Invalid` naming the line
(CSV) or object (JSON) and, where there is one, the field: invalid UTF-8, NUL bytes, a line,
field or object over `RECORD_MAX` characters, nesting the parser cannot follow, numbers of
thousands of digits, keys that differ only in case or spaces, a JSON top level that is not
an array. A file is read more than once (checked, then matched and applied), so one that
cannot be rewound (stdin) is first copied to a private temporary file.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import io
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple

from data.entity import ID
from data.errors import Invalid
from data.specs import EntitySpec
from data.validation import FieldError

BOM = "\ufeff"
# The most characters one CSV record (its line or lines) or one JSON object may hold: room
# for any value a field accepts many times over, and for a 10 MB paste to be refused by the
# field's own check (which names its limit), yet a bound on what one row can cost.
RECORD_MAX = 16 * 1024 * 1024
# Nesting the JSON parser cannot follow (it raises RecursionError) is refused; the scan
# that names the field stops at this depth (records are flat: any nesting is refused).
DEPTH_MAX = 64
# A JSON integer longer than this is kept as its text, for the field's check to refuse: the
# int() of 5,000 digits raises ValueError (Python's int-string limit) deep in the parser.
INT_DIGITS_MAX = 32
PIECE = 64 * 1024  # characters (bytes, for a binary file) read at a time

# csv's own limit is process-wide; ours (the record bound, checked first) is the one that
# speaks, naming the line and field.
csv.field_size_limit(RECORD_MAX + 1)

Source = IO[str] | IO[bytes]


# The columns a spec reads


class _Read(NamedTuple):
    """A CSV column import reads: its place in the row, its field, and whether a blank cell
    means no value."""

    at: int
    field: str
    absent_if_blank: bool


@dataclass(frozen=True)
class Columns:
    """How a spec's fields appear in a file: which columns import reads (column -> field),
    which it ignores, which must be in a CSV header, and which mean "no value" when blank."""

    fields: dict[str, str]
    ignored: frozenset[str]
    absent_if_blank: frozenset[str]
    required: tuple[str, ...]

    @classmethod
    def of(cls, spec: EntitySpec[Any, Any]) -> Columns:
        """The columns of ``spec``'s import files."""
        renamed = {
            field: column
            for column, field in spec.import_aliases.items()
            if column in spec.export_columns and field in spec.validators
        }
        # The id is read too: a row that gives one updates that record (exports write it).
        fields = {ID: ID, **{renamed.get(name, name): name for name in spec.validators}}
        required = (spec.natural_key, *sorted(spec.required - {spec.natural_key}))
        return cls(
            fields=fields,
            ignored=frozenset(spec.export_columns) - fields.keys(),
            absent_if_blank=frozenset(
                {ID}
                | {
                    name
                    for name, validator in spec.validators.items()
                    if name not in spec.required and not _accepts_blank(validator)
                }
            ),
            required=tuple(renamed.get(name, name) for name in required),
        )

    def column(self, field_name: str) -> str:
        """The file column that holds ``field_name``."""
        for column, name in self.fields.items():
            if name == field_name:
                return column
        return field_name

    def check(self, names: Iterable[str], *, where: str) -> None:
        """Refuse the file for an unknown column (``where`` names the line or object)."""
        for name in names:
            if name not in self.fields and name not in self.ignored:
                known = ", ".join(self.fields)
                ignored = ", ".join(sorted(self.ignored))
                raise Invalid(
                    {
                        "file": f"{where}: unknown column {name!r}; the columns are {known} "
                        f"(and {ignored}, which are read and ignored)"
                    }
                )

    def reads(self, header: list[str]) -> list[_Read]:
        """For each column of a CSV ``header`` that import reads: where, and into which field."""
        return [
            _Read(at, name, name in self.absent_if_blank)
            for at, column in enumerate(header)
            if (name := self.fields.get(column)) is not None
        ]

    def values(self, cells: Mapping[str, Any]) -> dict[str, Any]:
        """Field -> raw value for one record.

        An empty cell (or JSON null) is no value at all for a field that cannot be empty
        (role, stock, active flag): existing rows keep theirs, new rows get the default.
        """
        values: dict[str, Any] = {}
        for column, raw in cells.items():
            name = self.fields.get(column)
            if name is None or (name in self.absent_if_blank and raw in (None, "")):
                continue
            values[name] = raw
        return values


def _accepts_blank(validator: Any) -> bool:
    try:
        validator("")
    except FieldError:
        return False
    return True


@dataclass(frozen=True)
class Row:
    """One record of the file: where it starts, its fields' raw values, reading problems."""

    line: int
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


# Text, piece by piece


class TooLong(Exception):
    """The record being read passed `RECORD_MAX`; ``text`` is what was read of it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class NotText(Exception):
    """Bytes that are not UTF-8 (or a NUL byte) on ``line``; ``text`` is the record read up
    to them (`Text` leaves it empty: the reader knows where its record starts)."""

    def __init__(self, line: int, reason: str, text: str = "") -> None:
        super().__init__()
        self.text = text
        self.line = line
        self.reason = reason


class Text:
    """A file's text in pieces of at most `PIECE` characters (one more when a CR waits for
    the LF that may follow it), with the line the next piece starts on and the bytes read.

    No piece ends between the CR and LF of a line end, so counting lines piece by piece is
    exact. A binary source is decoded here, so a bad byte is pinned to its line: the text
    before it comes as a piece of its own and the next one raises `NotText`, so a reader
    names the record the byte is in, not one before it. A leading byte-order mark is
    dropped. Bounding a record is the reader's job: only it knows where records end.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.binary = isinstance(source.read(0), bytes)
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.line = 1
        self.done_bytes = 0
        self.total_bytes = _size(source)
        self._first = True

    def pieces(self) -> Iterator[str]:
        """The text, piece by piece; after the text before a bad byte, `NotText`."""
        held = ""  # a CR ending the last read: its LF may start the next one
        while True:
            raw = self.source.read(PIECE)
            final = not raw
            text, bad = self._decode(raw, final=final)
            if self._first and text:
                self._first = False
                text = text.removeprefix(BOM)
            text = held + text
            held = ""
            if not (final or bad) and text.endswith("\r"):
                held, text = "\r", text[:-1]
            if text:
                self.line += line_ends(text)
                yield text
            if bad:
                raise NotText(self.line, bad)
            if final:
                return

    def _decode(self, raw: str | bytes, *, final: bool) -> tuple[str, str]:
        """The text of ``raw`` up to any bad byte, and what is wrong with that byte."""
        self.done_bytes += len(raw)
        bad = ""
        if isinstance(raw, str):
            text = raw
        else:
            try:
                text = self.decoder.decode(raw, final=final)
            except UnicodeDecodeError as error:
                # error.object is the bytes held from the last read and these
                text = error.object[: error.start].decode("utf-8", errors="replace")
                byte = error.object[error.start : error.start + 1].hex()
                bad = f"is not UTF-8 text (byte 0x{byte}); save the file as UTF-8"
        if "\0" in text:
            text = text[: text.index("\0")]
            bad = "holds a NUL byte; this is not a text file"
        return text, bad


def _size(source: Source) -> int | None:
    try:
        return os.fstat(source.fileno()).st_size
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


@contextmanager
def rewindable(source: Source) -> Iterator[Source]:
    """``source`` if it can be read again from where it stands, else a private temporary
    copy of it (stdin, a pipe) from its start, removed afterwards."""
    try:
        seekable = source.seekable()
    except (OSError, ValueError):
        seekable = False
    if seekable:
        yield source
        return
    binary = isinstance(source.read(0), bytes)
    mode = "w+b" if binary else "w+"
    encoding = None if binary else "utf-8"
    with tempfile.TemporaryFile(mode, encoding=encoding, newline=None if binary else "") as copy:
        shutil.copyfileobj(source, copy)
        copy.seek(0)
        yield copy


# CSV


def read_csv(columns: Columns, text: Text) -> Iterator[Row]:
    """The rows of a CSV file, the first line naming the columns."""
    # csv.reader rather than DictReader: DictReader skips blank lines out of sight, which
    # would make the line numbers in the report point at the wrong place.
    lines = _Lines(text)
    reader = csv.reader(lines, strict=True)
    names: list[str] = []
    try:
        first = next(reader, None)
        if first is None:
            raise Invalid({"file": "is empty; the first line must name the columns"})
        names = _header(first)
        _check_header(columns, names)
        reads = columns.reads(names)
        lines.row_start = reader.line_num
        rows = 0
        for cells in reader:
            if any(cells):
                rows += 1
                yield _csv_row(columns, names, reads, cells, lines.row_start + 1)
            lines.row_start = reader.line_num
        if not rows:
            raise Invalid({"file": "line 1: the header names the columns but no rows follow"})
    except csv.Error as error:
        raise Invalid({"file": f"line {lines.row_start + 1} is not valid CSV: {error}"}) from None
    except TooLong as long:
        # The reader holds the field it stopped in (four bytes a character): let it go
        # before the record is parsed again to name that field.
        del reader
        where = _csv_field(long.text, names)
        reason = f"{where}is longer than {RECORD_MAX:,} characters"
        raise Invalid({"file": f"line {lines.row_start + 1}: {reason}"}) from None
    except NotText as bad:
        raise Invalid(
            {"file": f"line {bad.line}: {_csv_field(bad.text, names)}{bad.reason}"}
        ) from None


def line_ends(text: str) -> int:
    """How many lines end in ``text``: LF, CRLF or a lone CR (as csv and open() count)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


# A line and its end: LF, CRLF or a lone CR (a classic Mac line end).
_LINE = re.compile(r"[^\r\n]*+(?:\r\n?|\n)")
# str.splitlines (three times faster) also ends a line at these, which csv reads as data.
_OTHER_BREAKS = re.compile("[\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def _split(text: str) -> list[str]:
    """``text``, which ends at a line end, as its lines with their ends."""
    return _LINE.findall(text) if _OTHER_BREAKS.search(text) else text.splitlines(True)


class _Lines:
    """A `Text` as lines for csv.reader, a list of them at a time: the reader iterates in C,
    and this runs once a piece, splitting it with the lines' ends kept and joining a line
    cut by a piece's end with its rest.

    It keeps the record the reader is in to `RECORD_MAX` characters. ``row_start`` (the
    reader's ``line_num`` after its last row, set by `read_csv`) says where that record
    starts. Between two lists the reader has read every line of the first and wants more
    for its record, so the text of that record is known exactly there: a line that would
    carry it past the bound is never handed over, and a line longer than a piece is
    refused while it is joined, so at most about a piece more than the bound is held.
    """

    def __init__(self, text: Text) -> None:
        self.text = text
        self.row_start = 0  # lines read before the record the reader is in
        self._handed = 0  # lines handed to the reader
        self._record: list[str] = []  # the reader's record, up to the lines handed
        self._record_chars = 0
        self._rest: list[str] = []  # a line begun in a piece, its end not read yet
        self._rest_chars = 0

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._lists())

    def _lists(self) -> Iterator[list[str]]:
        pieces = self.text.pieces()
        while True:
            try:
                piece = next(pieces, None)
            except NotText as bad:
                bad.text = "".join([*self._record, *self._rest])
                raise
            if piece is None:
                break
            cut = max(piece.rfind("\n"), piece.rfind("\r")) + 1
            if cut:
                lines = _split(piece[:cut] if cut < len(piece) else piece)
                chars = cut
                if self._rest:
                    self._rest.append(lines[0])
                    lines[0] = "".join(self._rest)
                    chars += self._rest_chars
                    self._rest, self._rest_chars = [], 0
                yield from self._hand(lines, chars)
            if cut < len(piece):
                self._rest.append(piece[cut:])
                self._rest_chars += len(piece) - cut
                if self._record_chars + self._rest_chars > RECORD_MAX:
                    raise TooLong("".join([*self._record, *self._rest]))
        if self._rest:
            yield from self._hand(["".join(self._rest)], self._rest_chars)

    def _hand(self, lines: list[str], chars: int) -> Iterator[list[str]]:
        """``lines`` (``chars`` characters), in as many lists as the bound needs: one, but
        near the bound only the lines the reader's record has room for, and then the rest
        once it says where that record ends."""
        while lines:
            room = RECORD_MAX - self._record_chars
            later: list[str] = []
            if chars > room:
                ends = list(itertools.accumulate(map(len, lines)))
                fit = bisect.bisect_right(ends, room)
                if not fit:  # the next line is the record's own: it wants it to go on
                    raise TooLong("".join([*self._record, lines[0]]))
                lines, later, chars = lines[:fit], lines[fit:], chars - ends[fit - 1]
            yield lines
            self._read(lines)
            lines = later

    def _read(self, lines: list[str]) -> None:
        """The reader read ``lines`` and wants more: keep the text of its record."""
        first = self._handed
        self._handed += len(lines)
        if self.row_start >= self._handed:  # it starts a record
            self._record, self._record_chars = [], 0
        elif self.row_start > first:  # its record starts after the first of these lines
            tail = "".join(lines[self.row_start - first :])
            self._record, self._record_chars = [tail], len(tail)
        else:  # its record goes on through these lines
            whole = "".join(lines)
            self._record.append(whole)
            self._record_chars += len(whole)


def _csv_field(partial: str, names: list[str]) -> str:
    """``"field 'x': "`` for the column a partial CSV record stopped in, if it can tell."""
    if not names:
        return ""
    try:
        flat = partial[:RECORD_MAX].replace("\n", " ").replace("\r", " ")
        cells = next(csv.reader([flat]), [""])
    except csv.Error:
        return ""
    at = max(len(cells) - 1, 0)
    return f"field {names[at]!r}: " if at < len(names) else f"cell {at + 1}: "


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    if names and names[0].startswith(BOM):
        names[0] = names[0][len(BOM) :].strip()
    return names


def _check_header(columns: Columns, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise Invalid(
                {
                    "file": f"line 1: column {name!r} appears twice in the header "
                    "(names are read without case or surrounding spaces)"
                }
            )
        seen.add(name)
    columns.check(names, where="line 1")
    for name in columns.required:
        if name not in seen:
            needed = ", ".join(columns.required)
            raise Invalid({"file": f"line 1: the header has no {name!r} column (needed: {needed})"})


def _csv_row(
    columns: Columns, names: list[str], reads: list[_Read], cells: list[str], line: int
) -> Row:
    if len(cells) != len(names):
        error = f"has {len(cells)} cells but the header names {len(names)} columns"
        # Keep the key if the row has one, so the report says which record this was.
        key_column = columns.required[0]
        key_at = names.index(key_column)
        key = {columns.fields[key_column]: cells[key_at]} if key_at < len(cells) else {}
        return Row(line=line, values=key, errors={"row": error})
    # What `Columns.values` does for a JSON object, with the header's work done once: this
    # runs for every line of a file that may hold a million.
    values: dict[str, Any] = {}
    for at, name, absent_if_blank in reads:
        cell = cells[at]
        if cell:
            values[name] = restore(cell) if cell[0] == "'" else cell
        elif not absent_if_blank:
            values[name] = cell
    return Row(line=line, values=values)


# A cell starting with one of these is run as a formula by spreadsheets (a tab or CR can
# hide one from a quick look), so export defuses it with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Defuse a would-be formula with a leading apostrophe.

    Text that already starts with apostrophes before a formula character gets one more,
    so `restore` (which removes exactly one) gives back every text exactly.
    """
    return "'" + text if text.lstrip("'").startswith(FORMULA_STARTS) else text


def restore(text: str) -> str:
    """Undo `neutralise`: drop one leading apostrophe that defuses a formula."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text


__all__ = [
    "BOM",
    "DEPTH_MAX",
    "FORMULA_STARTS",
    "RECORD_MAX",
    "Columns",
    "NotText",
    "Row",
    "Text",
    "TooLong",
    "neutralise",
    "read_csv",
    "restore",
    "rewindable",
]
