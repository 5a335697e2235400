"""Reading an import file at every piece size gives the same rows and the same refusals:
the reader's own test, without a database (the imports themselves: test_transfer.py)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

import data.import_files
import data.import_json
from data.errors import Invalid
from data.import_files import Columns
from data.specs import spec_of
from data.transfer import Format

PRODUCTS = spec_of("products")


# Every piece size, the same reading: the cases cut a CRLF, multi-byte characters, numbers,
# quoted newlines and lines longer than a piece in every place, and hold records at the
# bound (patched to BOUND characters) and one character past it.
BOUND = 100
DEFAULT_PIECE = data.import_files.PIECE
PIECE_SIZES = [*range(1, 18), DEFAULT_PIECE]
PRODUCT_COLUMNS = Columns.of(PRODUCTS)
HEAD = b"sku,name,description,price,stock\r\n"
NOT_UTF8 = "is not UTF-8 text (byte 0x{}); save the file as UTF-8"
NUL = "holds a NUL byte; this is not a text file"
TOO_LONG = f"is longer than {BOUND} characters"

ReadRow = tuple[int, dict[str, Any], dict[str, str]]


@dataclass(frozen=True)
class ReadCase:
    """A file, and the rows then the refusal (if any) every piece size must read from it."""

    name: str
    fmt: Format
    content: bytes
    rows: list[ReadRow]
    refusal: str | None = None
    # A record too long is refused while it is read: at most this many bytes (and a piece)
    # have been read by then.
    read_at_most: int | None = None


def _csv_edge(chars: int) -> bytes:
    """A record on two lines of exactly ``chars`` characters (line ends included)."""
    return b'B-2,Edge,"' + b"y" * 40 + b"\n" + b"z" * (chars - 60) + b'",1.00,1\n'


def _json_edge(chars: int) -> bytes:
    """An object of exactly ``chars`` characters, its last value a description."""
    start = b'{"sku": "E-2", "name": "Edge", "description": "'
    return start + b"d" * (chars - len(start) - 2) + b'"}'


CSV_CASES = [
    ReadCase(
        "csv-line-ends-bom-utf8-blank-lines",
        "csv",
        b"\xef\xbb\xbf" + HEAD + b"A-1,Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac,plain,1.50,3\n"
        b"\r\n"
        b'A-2,Mug,"one\r\ntwo\nthree\rfour",2.00,\r'
        b"A-3,Long," + b"x" * 40 + b",3.00,1\r\n"
        b"\n"
        b"\r"
        b"A-4,Pen \xf0\x9f\x96\x8a,form\x0cfeed \xe2\x80\xa8 sep,4.00,2\n"
        b"A-5,'=1+1,short row\n"
        b"A-6,Last,no end,'=5,6",
        [
            (
                2,
                {
                    "sku": "A-1",
                    "name": "Zoë 日本",
                    "description": "plain",
                    "price": "1.50",
                    "stock": "3",
                },
                {},
            ),
            (
                4,
                {
                    "sku": "A-2",
                    "name": "Mug",
                    "description": "one\r\ntwo\nthree\rfour",
                    "price": "2.00",
                },
                {},
            ),
            (
                8,
                {
                    "sku": "A-3",
                    "name": "Long",
                    "description": "x" * 40,
                    "price": "3.00",
                    "stock": "1",
                },
                {},
            ),
            (
                11,
                {
                    "sku": "A-4",
                    "name": "Pen 🖊",
                    "description": "form\x0cfeed \u2028 sep",
                    "price": "4.00",
                    "stock": "2",
                },
                {},
            ),
            (12, {"sku": "A-5"}, {"row": "has 3 cells but the header names 5 columns"}),
            (
                13,
                {
                    "sku": "A-6",
                    "name": "Last",
                    "description": "no end",
                    "price": "=5",
                    "stock": "6",
                },
                {},
            ),
        ],
    ),
    ReadCase(
        "csv-records-at-the-bound",
        "csv",
        HEAD + b"B-1,Ok,,1.00,1\n" + _csv_edge(BOUND) + b"C-0," + b"n" * 87 + b",,1.00,1\n",
        [
            (2, {"sku": "B-1", "name": "Ok", "description": "", "price": "1.00", "stock": "1"}, {}),
            (
                3,
                {
                    "sku": "B-2",
                    "name": "Edge",
                    "description": "y" * 40 + "\n" + "z" * (BOUND - 60),
                    "price": "1.00",
                    "stock": "1",
                },
                {},
            ),
            (
                5,
                {"sku": "C-0", "name": "n" * 87, "description": "", "price": "1.00", "stock": "1"},
                {},
            ),
        ],
    ),
    ReadCase(
        "csv-multi-line-record-past-the-bound",
        "csv",
        HEAD + b"B-1,Ok,,1.00,1\n" + _csv_edge(BOUND + 1) + b"B-3,After,,1.00,1\n",
        [(2, {"sku": "B-1", "name": "Ok", "description": "", "price": "1.00", "stock": "1"}, {})],
        # its one character too many is its last line end, after the stock cell
        f"line 3: field 'stock': {TOO_LONG}",
    ),
    ReadCase(
        "csv-line-past-the-bound",
        "csv",
        HEAD + b"C-1," + b"n" * 1000 + b",,1.00,1\n",
        [],
        f"line 2: field 'name': {TOO_LONG}",
        read_at_most=len(HEAD) + BOUND + 1,
    ),
    ReadCase(
        "csv-lines-past-the-bound",
        "csv",
        HEAD + b'F-1,Pot,"' + b"ab\n" * 300 + b'",1,1\n',
        [],
        f"line 2: field 'description': {TOO_LONG}",
        read_at_most=len(HEAD) + BOUND + 1,
    ),
    ReadCase(
        "csv-bad-byte",
        "csv",
        HEAD + b"A-1,Pot,,1,1\r\nA-2,\xe6\x97\xa5\xff,,1,1\r\n",
        [(2, {"sku": "A-1", "name": "Pot", "description": "", "price": "1", "stock": "1"}, {})],
        "line 3: field 'name': " + NOT_UTF8.format("ff"),
    ),
    ReadCase(
        "csv-cut-character-in-a-quoted-newline",
        "csv",
        HEAD + b'A-1,Pot,"one\ntwo \xc3(",1,1\n',
        [],
        "line 3: field 'description': " + NOT_UTF8.format("c3"),
    ),
    ReadCase(
        "csv-cut-character-at-the-end",
        "csv",
        HEAD + b"A-1,Pot,caf\xc3",
        [],
        "line 2: field 'description': " + NOT_UTF8.format("c3"),
    ),
    ReadCase(
        "csv-nul",
        "csv",
        HEAD + b'A-1,Pot,,1,1\rA-2,Pan,"two\r\nli\x00nes",1,1\n',
        [(2, {"sku": "A-1", "name": "Pot", "description": "", "price": "1", "stock": "1"}, {})],
        f"line 4: field 'description': {NUL}",
    ),
    ReadCase(
        "csv-not-csv",
        "csv",
        HEAD + b'A-1,Pot,,1,1\n\nA-2,"Pan"x,,1,1\n',
        [(2, {"sku": "A-1", "name": "Pot", "description": "", "price": "1", "stock": "1"}, {})],
        "line 4 is not valid CSV: ',' expected after '\"'",
    ),
]

JSON_CASES = [
    ReadCase(
        "json-line-ends-bom-utf8-blank-lines",
        "json",
        b"\xef\xbb\xbf[\r\n"
        b'{"sku": "J-1", "name": "Zo\xc3\xab \xf0\x9f\x96\x8a", "price": 1.50, "stock": 12345},\r\n'
        b"\r\n"
        b'{"sku": "J-2", "description": "' + b"q" * 30 + b'\\n\\"\xe6\x97\xa5\\""},\n'
        b'\r  {"SKU ": "J-3", "name": "Case", "price": "2"}\r\n'
        b"]\r\n",
        [
            (1, {"sku": "J-1", "name": "Zoë 🖊", "price": Decimal("1.50"), "stock": 12345}, {}),
            (2, {"sku": "J-2", "description": "q" * 30 + '\n"日"'}, {}),
            (3, {"sku": "J-3", "name": "Case", "price": "2"}, {}),
        ],
    ),
    ReadCase(
        "json-object-at-the-bound",
        "json",
        b'[{"sku": "E-1"},\n' + _json_edge(BOUND) + b', {"sku": "E-3"}]',
        [
            (1, {"sku": "E-1"}, {}),
            (2, {"sku": "E-2", "name": "Edge", "description": "d" * (BOUND - 49)}, {}),
            (3, {"sku": "E-3"}, {}),
        ],
    ),
    ReadCase(
        "json-object-past-the-bound",
        "json",
        b'[{"sku": "E-1"},\n' + _json_edge(BOUND + 1) + b', {"sku": "E-3"}]',
        [(1, {"sku": "E-1"}, {})],
        f"object 2 (line 2): field 'description': {TOO_LONG}",
    ),
    ReadCase(
        "json-unending-value",
        "json",
        b'[{"sku": "E-1", "description": "' + b"d" * 1000,
        [],
        f"object 1 (line 1): field 'description': {TOO_LONG}",
        read_at_most=1 + BOUND + 1,
    ),
    ReadCase(
        "json-bad-byte",
        "json",
        b'[\r\n{"sku": "J-1", "name": "Pot"},\r\n{"sku": "J-2", "name": "P\xffn"}]',
        [(1, {"sku": "J-1", "name": "Pot"}, {})],
        "object 2 (line 3): field 'name': " + NOT_UTF8.format("ff"),
    ),
    ReadCase(
        "json-nul",
        "json",
        b'[{"sku": "J-1", "name": "Pot"},\n{"sku": "J-2",\n "name": "P\x00t"}]',
        [(1, {"sku": "J-1", "name": "Pot"}, {})],
        f"object 2 (line 3): field 'name': {NUL}",
    ),
    ReadCase(
        "json-not-json",
        "json",
        b'[{"sku": "J-1", "name": "Pot"},\r\n{"sku": "J-2", "name": }]',
        [(1, {"sku": "J-1", "name": "Pot"}, {})],
        "object 2 (line 2): field 'name': is not valid JSON: Expecting value",
    ),
]


def _read(
    case: ReadCase, source: io.BytesIO | io.StringIO, piece: int
) -> tuple[list[ReadRow], str | None]:
    """The rows read, then the refusal that ended the reading (None if none did)."""
    rows: list[ReadRow] = []
    read = data.import_files.read_csv if case.fmt == "csv" else data.import_json.read_json
    text = data.import_files.Text(source)
    try:
        for row in read(PRODUCT_COLUMNS, text):
            rows.append((row.line, row.values, row.errors))
    except Invalid as refused:
        if case.read_at_most is not None:
            assert text.done_bytes <= case.read_at_most + piece, "read on past the bound"
        return rows, refused.errors["file"]
    return rows, None


@pytest.mark.parametrize("case", CSV_CASES + JSON_CASES, ids=lambda case: case.name)
def test_every_piece_size_reads_the_same_rows_and_refusals(
    monkeypatch: pytest.MonkeyPatch, case: ReadCase
) -> None:
    """Bytes are decoded by the reader; text (where the bytes are UTF-8) comes decoded."""
    monkeypatch.setattr(data.import_files, "RECORD_MAX", BOUND)
    monkeypatch.setattr(data.import_json, "RECORD_MAX", BOUND)
    try:
        text: str | None = case.content.decode()
    except UnicodeDecodeError:
        text = None
    for size in PIECE_SIZES:
        monkeypatch.setattr(data.import_files, "PIECE", size)
        got = _read(case, io.BytesIO(case.content), size)
        assert got == (case.rows, case.refusal), f"bytes, pieces of {size}"
        if text is not None:
            got = _read(case, io.StringIO(text, newline=""), size)
            assert got == (case.rows, case.refusal), f"text, pieces of {size}"
