"""Reading a JSON import file one array item at a time (see `data.import_files`).

The parser is the standard library's, run on one item's text at a time from a bounded
buffer. A problem names the object (its place in the array), the line it is on, and the
top-level key it stopped in: found by a small scan of the item's text, done only then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from data.errors import Invalid
from data.import_files import (
    DEPTH_MAX,
    INT_DIGITS_MAX,
    PIECE,
    RECORD_MAX,
    Columns,
    NotText,
    Row,
    Text,
    TooLong,
)


class _Object(dict[str, Any]):
    """A JSON object with its keys folded (case, surrounding spaces); ``twice`` names a
    key that appeared more than once that way."""

    twice: tuple[str, str, str] | None = None


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    found = _Object()
    written: dict[str, str] = {}
    for key, value in pairs:
        name = key.strip().lower()
        if name in found and found.twice is None:
            found.twice = (name, written[name], key)
        written.setdefault(name, key)
        found[name] = value
    return found


def _big_int(digits: str) -> int | str:
    return int(digits) if len(digits) <= INT_DIGITS_MAX else digits


# Decimal for numbers with a fraction: a price of 19.99 must not pass through float.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_big_int, object_pairs_hook=_object)
_SPACE = re.compile(r"[ \t\n\r]*")
# Possessive: the regex engine keeps no state per character of a 16 MB string.
_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[{}\[\]:,]')


def read_json(columns: Columns, text: Text) -> Iterator[Row]:
    """The rows of a JSON array of objects, one object at a time."""
    stream = _JsonStream(text)
    index = 0
    for index, item in enumerate(stream.items(), start=1):
        yield _json_row(columns, item, index)
    if not index:
        raise Invalid({"file": "line 1: the array holds no objects, so nothing to import"})


def _json_row(columns: Columns, item: Any, index: int) -> Row:
    if not isinstance(item, _Object):
        return Row(line=index, values={}, errors={"row": "is not a JSON object"})
    columns.check(item, where=f"object {index}")
    errors = {}
    if item.twice is not None:
        name, first, second = item.twice
        errors[columns.fields.get(name, name)] = (
            f"appears twice in the object (as {first!r} and {second!r}); "
            "keys are read without case or surrounding spaces"
        )
    return Row(line=index, values=columns.values(item), errors=errors)


class _JsonStream:
    """The items of the top-level JSON array, parsed one at a time from a bounded buffer."""

    def __init__(self, text: Text) -> None:
        self.text = text
        self.pieces = text.pieces()
        self.bad: NotText | None = None  # met after the text now in the buffer
        self.buffer = ""
        self.at = 0
        self.eof = False
        self.line_of_buffer = 1  # the line the buffer's first character is on
        self.index = 0

    def items(self) -> Iterator[Any]:
        """Each item of the array, in order; anything else raises `Invalid`."""
        try:
            yield from self._items()
        except TooLong as long:
            where = self._field(long.text)
            raise self._refusal(f"{where}is longer than {RECORD_MAX:,} characters") from None
        except NotText as bad:
            where = self._field(self.buffer[self.at :])
            raise Invalid(
                {"file": f"object {max(self.index, 1)} (line {bad.line}): {where}{bad.reason}"}
            ) from None

    def _items(self) -> Iterator[Any]:
        if self._next_char() != "[":
            start = self.buffer[self.at : self.at + 1]
            what = f"it starts with {start!r}" if start else "it is empty"
            raise Invalid(
                {"file": f"line 1: must hold a JSON array of objects, one per record; {what}"}
            )
        self.at += 1
        if self._next_char() == "]":
            self.at += 1
            self._end()
            return
        while True:
            yield self._item()
            mark = self._next_char()
            if mark == ",":
                self.at += 1
                continue
            if mark == "]":
                self.at += 1
                self._end()
                return
            raise self._refusal("expected ',' or ']' after it")

    def _item(self) -> Any:
        """The item at the next character that is not white space; `TooLong` past
        `RECORD_MAX` characters, known without reading much further (see `_more`)."""
        self.index += 1
        while True:
            self._next_char()
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.at)
            except RecursionError:
                raise self._refusal(f"{self._deep_field()}is nested too deeply") from None
            except json.JSONDecodeError as error:
                if len(self.buffer) - self.at > RECORD_MAX:
                    raise self._too_long() from None
                if self._more():
                    continue
                where = self.buffer[self.at : error.pos]
                raise self._refusal(f"{self._field(where)}is not valid JSON: {error.msg}") from None
            if end - self.at > RECORD_MAX:
                raise self._too_long()
            if end == len(self.buffer) and self._more():
                continue  # a number may go on in the next piece
            self.at = end
            self._trim()
            return value

    def _too_long(self) -> TooLong:
        return TooLong(self.buffer[self.at : self.at + RECORD_MAX + 1])

    def _deep_field(self) -> str:
        """``"field 'x': "`` for the key whose value the parser recursed too deeply into."""
        return _field_at(self.buffer[self.at :], stop_deeper_than=DEPTH_MAX)

    def _field(self, partial: str) -> str:
        """``"field 'x': "`` for the key of the top-level object ``partial`` stopped in."""
        if not self.index:  # still in the first piece: the array's bracket comes first
            partial = partial.lstrip(" \t\r\n").removeprefix("[")
        return _field_at(partial)

    def _refusal(self, reason: str) -> Invalid:
        line = self.line_of_buffer + self.buffer.count("\n", 0, self.at)
        return Invalid({"file": f"object {max(self.index, 1)} (line {line}): {reason}"})

    def _next_char(self) -> str:
        """The next character that is not white space (read on if needed), "" at the end."""
        while True:
            self.at = _SPACE.match(self.buffer, self.at).end()  # type: ignore[union-attr]
            if self.at < len(self.buffer) or not self._more():
                return self.buffer[self.at : self.at + 1]

    def _more(self) -> bool:
        """Read on into the buffer; False at the end of the file."""
        if self.bad is not None:
            raise self.bad
        if self.eof:
            return False
        self._trim()
        # Read at least as much again as the item read so far holds, so a long item is
        # parsed a few times (each time twice as long), not once per piece; but not much
        # past the bound on it.
        have = len(self.buffer) - self.at
        wanted = max(min(have, RECORD_MAX + 1 - have), 1)
        got = 0
        parts = [self.buffer]
        try:
            for piece in self.pieces:
                parts.append(piece)
                got += len(piece)
                if got >= wanted:
                    break
            else:
                self.eof = True
        except NotText as bad:
            # Parse what came before the bad byte first: it may end this item and others,
            # and the refusal names the item the byte is in.
            self.bad = bad
        self.buffer = "".join(parts)
        if not got and self.bad is not None:
            raise self.bad
        return got > 0

    def _trim(self) -> None:
        if self.at > PIECE:
            self.line_of_buffer += self.buffer.count("\n", 0, self.at)
            self.buffer = self.buffer[self.at :]
            self.at = 0

    def _end(self) -> None:
        if self._next_char():
            raise self._refusal("the file goes on after the array's closing ']'")


def _field_at(partial: str, *, stop_deeper_than: int | None = None) -> str:
    """``"field 'x': "`` for the last key of the top-level object in ``partial`` (or the
    one whose value nests deeper than ``stop_deeper_than``), "" if there is none."""
    key, depth, expect_key = "", 0, False
    for token in _TOKEN.finditer(partial):
        mark = token.group()
        if mark in "{[":
            depth += 1
            expect_key = mark == "{" and depth == 1
            if stop_deeper_than is not None and depth > stop_deeper_than:
                break
        elif mark in "}]":
            depth -= 1
        elif mark == ",":
            expect_key = depth == 1
        elif mark != ":" and expect_key:
            key = _unquoted(mark)
            expect_key = False
    return f"field {key.strip().lower()!r}: " if key else ""


def _unquoted(token: str) -> str:
    try:
        value = json.loads(token)
    except ValueError:
        return token.strip('"')
    return value if isinstance(value, str) else token


__all__ = ["read_json"]
