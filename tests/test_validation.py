"""Validation, written once in data/: what a form, the CLI and an import all get."""

from __future__ import annotations

import random
import string
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email

from data.errors import Invalid
from data.specs import spec_of
from data.validation import (
    SPECIAL_USE_DOMAINS,
    FieldError,
    email,
    is_plain_address,
    validate_fields,
)

# The validators each declared field gets (data.entities), as forms, the CLI and import use.
USER_FIELDS = spec_of("users").validators
PRODUCT_FIELDS = spec_of("products").validators
price = PRODUCT_FIELDS["price"]
sku = PRODUCT_FIELDS["sku"]
stock = PRODUCT_FIELDS["stock"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("-1", "must not be negative"),
        ("-0", "must not be negative"),
        ("NaN", "is not a number"),
        ("Infinity", "is not a number"),
        ("1e309", "is not a number"),
        (str(2**63), "must be at most"),
        ("1.005", "more than 2 decimal places"),
        ("12,50", "use a dot"),
        ("1_000", "is not a number"),
        ("", "must not be empty"),
        (1.5, "binary float"),
        (Decimal("NaN"), "finite"),
        (Decimal("-0.00"), "must not be negative"),
        (True, "binary float"),
    ],
)
def test_bad_prices_are_refused_with_a_reason(raw: Any, reason: str) -> None:
    with pytest.raises(FieldError, match=reason):
        price(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.5", "12.50"),
        (" 0 ", "0.00"),
        ("9999999999.99", "9999999999.99"),
        (3, "3.00"),
        ("1.10", "1.10"),
        (".5", "0.50"),
    ],
)
def test_good_prices_become_two_place_decimals(raw: Any, expected: str) -> None:
    assert str(price(raw)) == expected


@pytest.mark.parametrize("raw", ["-3", "1.0", "2147483648", "1e3", "", 2.0, "x"])
def test_bad_stock_is_refused(raw: Any) -> None:
    with pytest.raises(FieldError):
        stock(raw)


def test_stock_bounds() -> None:
    assert stock("0") == 0
    assert stock("2147483647") == 2_147_483_647


def test_sku_is_upper_cased_and_patterned() -> None:
    assert sku(" ab-12.x_y ") == "AB-12.X_Y"
    for bad in ("-lead", "has space", "é1", "A" * 33):
        with pytest.raises(FieldError):
            sku(bad)


@pytest.mark.parametrize(
    "name",
    [
        "a\x1b[2Jb",
        "evil\x1b]0;pwn\x07",
        "nul\x00x",
        "del\x7fx",
        "c1\x9bx",
        "two\rlines",
        "two\nlines",
    ],
)
def test_control_characters_inside_single_line_fields_are_refused(name: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate_fields(USER_FIELDS, {"name": name})
    assert "control character" in refused.value.errors["name"]


def test_markup_like_text_is_plain_text_and_accepted() -> None:
    clean = validate_fields(USER_FIELDS, {"name": "[bold]x[/] [@click=app.quit] ["})
    assert clean["name"] == "[bold]x[/] [@click=app.quit] ["


def test_a_huge_value_is_refused_by_length() -> None:
    with pytest.raises(Invalid) as refused:
        validate_fields(PRODUCT_FIELDS, {"name": "x" * 10_000_000})
    assert "too long" in refused.value.errors["name"]


def test_description_allows_newlines_and_tabs_only() -> None:
    clean = validate_fields(PRODUCT_FIELDS, {"description": "line 1\r\n\tline 2"})
    assert clean["description"] == "line 1\n\tline 2"
    with pytest.raises(Invalid):
        validate_fields(PRODUCT_FIELDS, {"description": "bell\x07"})


def test_email_is_checked_by_a_real_validator_and_normalised() -> None:
    assert validate_fields(USER_FIELDS, {"email": " Ünï@Bücher.DE "})["email"] == "ünï@bücher.de"
    for bad in ("no-at-sign", "a@b", "a..b@example.com", "a@example..com"):
        with pytest.raises(Invalid) as refused:
            validate_fields(USER_FIELDS, {"email": bad})
        assert "email" in refused.value.errors


def test_missing_required_and_unknown_fields_are_named() -> None:
    with pytest.raises(Invalid) as refused:
        validate_fields(
            USER_FIELDS, {"name": "A", "password_hash": "x"}, required=("name", "email")
        )
    assert refused.value.errors == {
        "email": "is required",
        "password_hash": "is not a field that can be set",
    }


def test_role_and_flags() -> None:
    clean = validate_fields(USER_FIELDS, {"role": "ADMIN", "is_active": "no"})
    assert clean == {"role": "admin", "is_active": False}
    with pytest.raises(Invalid):
        validate_fields(USER_FIELDS, {"role": "root"})


# Plain addresses take a shorter path than email-validator (data.validation); every one of
# these must get the library's own verdict either way.
_ADDRESSES = [
    "plain@example.com",
    "Mixed.Case+Tag@Example.COM",
    "o'brien@example.ie",
    "x!#$%&'*+/=?^_`{|}~-y@example.org",
    "INFO@example.com",  # a mailbox name the library lower-cases itself
    "a.b.c@sub.domain.example.co.uk",
    "a" * 64 + "@example.com",
    "a" * 70 + "@example.com",  # longer than RFC 5321's local part: accepted unless strict
    "a" * 241 + "@example.com",  # 253 characters
    "a" * 242 + "@example.com",  # 254 characters: the longest address
    "user@" + "d" * 63 + ".example.com",
    "user@" + "d" * 64 + ".example.com",  # a label longer than DNS allows
    "josé@example.com",
    "user@bücher.example",
    "user@xn--bcher-kva.example",  # the same domain in IDNA ASCII
    "user@XN--BCHER-KVA.example",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a b@example.com",
    '"quoted"@example.com',
    "Display Name <user@example.com>",
    "a@@example.com",
    "a@b@example.com",
    "a@example",
    "a@localhost",
    "a@foo.test",
    "a@printer.local",
    "a@site.onion",
    "a@10.in-addr.arpa",
    "a@-example.com",
    "a@example-.com",
    "a@exa_mple.com",
    "a@123.456",
    "a@example.c0m",
    "a@example.com.",
    "a@.example.com",
    "a@[127.0.0.1]",
    "a@",
    "@example.com",
    "a@example..com",
]


def _library_verdict(text: str) -> str:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        return f"is not a valid address: {error}"


def _our_verdict(text: str) -> str:
    try:
        return str(email(text))
    except FieldError as error:
        return str(error)


@pytest.mark.parametrize("text", _ADDRESSES)
def test_email_gives_the_library_verdict(text: str) -> None:
    assert _our_verdict(text) == _library_verdict(text)
    upper = f"{text.partition('@')[0]}@{text.rpartition('@')[2].upper()}"
    assert _our_verdict(upper) == _library_verdict(upper)


def _generated_addresses(count: int, seed: int) -> Iterator[str]:
    """Addresses near every edge of the plain shape: lengths about the limits, hyphens and
    "--", digits and letters in the last label, special-use names, IDNA, odd characters."""
    chance = random.Random(seed)
    tame_local = string.ascii_letters + string.digits + "._+-'"
    wild_local = tame_local + "!#$%&*/=?^`{|}~" + ' "@(é'
    tame_label = string.ascii_lowercase + string.digits + "-"
    wild_label = tame_label + string.ascii_uppercase + "-" * 4 + "_é"
    tops = ["com", "org", "IO", "c", "c0m", "123", "x-y", "a1", "é", *SPECIAL_USE_DOMAINS]

    def text(alphabets: tuple[str, str], lengths: list[int]) -> str:
        alphabet = alphabets[chance.random() < 0.3]  # mostly tame: plain is the common case
        return "".join(chance.choices(alphabet, k=chance.choice(lengths)))

    for _ in range(count):
        local = text((tame_local, wild_local), [1, 2, 5, 12, 64, 70])
        labels = [
            text((tame_label, wild_label), [1, 2, 4, 9, 62, 63, 64])
            for _ in range(chance.choice([0, 1, 1, 2, 3]))
        ]
        if chance.random() < 0.1:
            labels.append("xn--" + "".join(chance.choices(string.ascii_lowercase, k=6)))
        if chance.random() < 0.3:
            top = chance.choice(tops)
        else:
            top = "".join(chance.choices(string.ascii_letters, k=chance.choice([2, 3, 6, 63, 64])))
        address = f"{local}@{'.'.join([*labels, top])}"
        if chance.random() < 0.05:  # about the total limits: 253 after the @, 254 in all
            address = "x" * chance.choice([185, 190, 192, 194, 196]) + address[-60:]
        yield address


def test_the_plain_shape_is_only_ever_what_the_library_accepts_unchanged() -> None:
    """`is_plain_address` skips email-validator: on 20,000 addresses around its edges, every
    one it passes the library accepts, as the same text but for case."""
    plain = refused = 0
    for address in _generated_addresses(20_000, seed=15):
        verdict = _library_verdict(address)
        if is_plain_address(address):
            plain += 1
            assert verdict == address.lower(), address
        elif verdict.startswith("is not a valid address"):
            refused += 1
    # Both sides of the line were reached, often: the check above could have failed.
    assert plain > 2_000, plain
    assert refused > 2_000, refused


def test_the_special_use_names_are_the_librarys() -> None:
    assert set(SPECIAL_USE_DOMAINS) == set(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def test_a_plain_address_is_judged_without_importing_the_library() -> None:
    """The console's first rows check their addresses before the library could load."""
    code = (
        "import sys; from data.validation import email; "
        "assert email(' Ana.B+x@Mail.Example.COM ') == 'ana.b+x@mail.example.com'; "
        "print('email_validator' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"
