"""Validation, written once in data/: what a form, the CLI and an import all get."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from email_validator import EmailNotValidError, validate_email

from data.errors import Invalid
from data.specs import spec_of
from data.validation import FieldError, email, validate_fields

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


# Addresses whose domains the email check has seen before take a shorter path; every one of
# these must get email-validator's own verdict either way.
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
def test_email_gives_the_library_verdict_whether_or_not_the_domain_was_seen(text: str) -> None:
    expected = _library_verdict(text)
    domain = text.rpartition("@")[2]
    assert _our_verdict(text) == expected  # first sight of the domain, maybe
    for local in ("first", "Second.Person", "o'neil"):
        _our_verdict(f"{local}@{domain}")  # the domain seen, with other local parts
    assert _our_verdict(text) == expected
    assert _our_verdict(f"{text.partition('@')[0]}@{domain.upper()}") == _library_verdict(
        f"{text.partition('@')[0]}@{domain.upper()}"
    )
