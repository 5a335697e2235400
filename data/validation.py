"""Field validation, written once and used by the console's forms, the CLI and import.

Each validator takes what a person typed (or a file held) and returns the clean value to
store, or raises `FieldError` with a message that fits beside the field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from data.errors import Invalid
from data.numbers import DECIMAL_TEXT, ID_MAX, WHOLE_TEXT, whole_number

EMAIL_MAX = 254  # RFC 5321's path limit: the most any address can be
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9._-]*")
_TRUE = frozenset({"true", "yes", "y", "1", "on", "active"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "inactive"})

Validator = Callable[[Any], Any]


class FieldError(ValueError):
    """A value refused for one field; the message is shown beside that field."""


def validate_fields(
    validators: Mapping[str, Validator],
    values: Mapping[str, Any],
    *,
    required: Collection[str] = (),
) -> dict[str, Any]:
    """Validate every given field, collecting all errors before raising `Invalid` once."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in required:
        if field not in values:
            errors[field] = "is required"
    for field, raw in values.items():
        validator = validators.get(field)
        if validator is None:
            errors[field] = "is not a field that can be set"
            continue
        try:
            clean[field] = validator(raw)
        except FieldError as error:
            errors[field] = str(error)
    if errors:
        raise Invalid(errors)
    return clean


def control_characters(text: str, *, allowed: str = "") -> list[str]:
    """The control characters (C0, DEL, C1) in ``text`` that are not in ``allowed``."""
    # Every control character is unprintable, and str.isprintable runs in C: most values are
    # printable, so an import of 100,000 rows skips a Python loop over each character.
    if text.isprintable():
        return []
    return [ch for ch in text if unicodedata.category(ch) == "Cc" and ch not in allowed]


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise FieldError("must be text")
    return raw


def _single_line(raw: Any, *, max_length: int) -> str:
    text = _text(raw)
    # Length first: a 10 MB paste is refused before any other work or any database call.
    if len(text) > max_length * 2 + 64:
        raise FieldError(f"is too long (at most {max_length} characters)")
    # Surrounding whitespace (a tab or newline pasted from a spreadsheet cell) is trimmed;
    # a control character inside the value is refused.
    text = text.strip()
    bad = control_characters(text)
    if bad:
        raise FieldError(
            f"contains a control character ({_describe(bad[0])}); only printable text is allowed"
        )
    if len(text) > max_length:
        raise FieldError(f"is too long ({len(text)} characters, at most {max_length})")
    return text


def _describe(ch: str) -> str:
    names = {"\x1b": "ESC", "\r": "CR", "\n": "newline", "\t": "tab", "\x00": "NUL", "\x7f": "DEL"}
    return names.get(ch, f"U+{ord(ch):04X}")


def required_text(max_length: int) -> Validator:
    """A trimmed, non-empty single line of at most ``max_length`` characters."""

    def validate(raw: Any) -> str:
        text = _single_line(raw, max_length=max_length)
        if not text:
            raise FieldError("must not be empty")
        return text

    return validate


def multiline_text(max_length: int) -> Validator:
    """Free text (newlines and tabs allowed, other controls not), trimmed, possibly empty."""

    def validate(raw: Any) -> str:
        text = _text(raw)
        if len(text) > max_length * 2 + 64:
            raise FieldError(f"is too long (at most {max_length} characters)")
        text = text.replace("\r\n", "\n")
        bad = control_characters(text, allowed="\n\t")
        if bad:
            raise FieldError(f"contains a control character ({_describe(bad[0])})")
        text = text.strip()
        if len(text) > max_length:
            raise FieldError(f"is too long ({len(text)} characters, at most {max_length})")
        return text

    return validate


# email-validator is thorough and costly: importing it compiles its Unicode expressions
# (~70 ms, which the console's first rows would wait for), and it judges each domain through
# IDNA and special-use rules. Nearly every address is plain ASCII in a shape the library
# certainly accepts and returns unchanged but for case: a dot-atom local part (RFC 5322
# atext, as the library defines it) at a domain of labels of letters, digits and inner
# hyphens, each of at most 63 characters, with no "--" anywhere (the library's IDNA rules
# judge those), at most 253 in all, ending in a label of letters, not a special-use name.
# Such an address is judged here; everything else by the library. tests/test_validation.py
# holds the shape against the library on generated addresses and the names against its list.
_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]"
_PLAIN_LOCAL_PART = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
DOMAIN_MAX = 253  # RFC 1035's, as email-validator counts it
# email-validator's SPECIAL_USE_DOMAIN_NAMES (2.4): no address at these, or below them.
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")


def email(raw: Any) -> str:
    """A deliverable-looking address, normalised: trimmed and lower case (unique that way)."""
    text = _single_line(raw, max_length=EMAIL_MAX)
    if not text:
        raise FieldError("must not be empty")
    if is_plain_address(text):
        return text.lower()
    from email_validator import EmailNotValidError, validate_email

    try:
        validated = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise FieldError(f"is not a valid address: {error}") from None
    return validated.normalized.lower()


def is_plain_address(value: Any) -> bool:
    """Whether ``value`` is an address in the plain shape above, which `email` accepts
    without asking email-validator: a stored address checked for free."""
    if not isinstance(value, str) or not value.isascii() or len(value) > EMAIL_MAX:
        return False
    local_part, at, domain = value.partition("@")
    if not at or len(domain) > DOMAIN_MAX or "--" in domain:
        return False
    if _PLAIN_LOCAL_PART.fullmatch(local_part) is None or not _PLAIN_DOMAIN.fullmatch(domain):
        return False
    lowered = domain.lower()
    return not any(lowered == name or lowered.endswith("." + name) for name in SPECIAL_USE_DOMAINS)


def choice(choices: Callable[[], Collection[str]]) -> Validator:
    """One of ``choices()`` (read when first checked: they may come from a model), any case."""

    def validate(raw: Any) -> str:
        allowed = choices()
        text = _single_line(raw, max_length=max(map(len, allowed), default=0) + 16).lower()
        if text not in allowed:
            raise FieldError(f"must be one of {', '.join(allowed)}")
        return text

    return validate


def flag(raw: Any) -> bool:
    """A yes/no value: a bool, or text such as true/false, yes/no, 1/0."""
    if isinstance(raw, bool):
        return raw
    text = _single_line(raw, max_length=16).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldError("must be yes or no (true/false, 1/0)")


def money(maximum: Decimal) -> Validator:
    """Money: a finite Decimal from 0 to ``maximum`` with at most 2 decimal places."""

    def validate(raw: Any) -> Decimal:
        return _money(raw, maximum)

    return validate


def _money(raw: Any, maximum: Decimal) -> Decimal:
    if isinstance(raw, (bool, float)):
        raise FieldError("must be given as text or a Decimal, not a binary float")
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, Decimal):
        value = raw
    else:
        text = _single_line(raw, max_length=32)
        if not text:
            raise FieldError("must not be empty")
        if text.startswith("-"):
            raise FieldError("must not be negative")
        _refuse_other_digits(text)
        if "," in text:
            raise FieldError("use a dot for decimals and no thousands separator, e.g. 1234.50")
        if not DECIMAL_TEXT.fullmatch(text):
            raise FieldError("is not a number (e.g. 19.99)")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise FieldError("is not a number (e.g. 19.99)") from None
    if not value.is_finite():
        raise FieldError("must be a finite number")
    if value.is_signed():
        raise FieldError("must not be negative")
    if value > maximum:
        raise FieldError(f"must be at most {maximum:,}")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise FieldError("has more than 2 decimal places")
    return value.quantize(Decimal("0.01"))


def _refuse_other_digits(text: str) -> None:
    """Refuse digits other than ASCII 0-9, which ``int()`` and ``Decimal()`` would read."""
    other = next((ch for ch in text if ch.isdigit() and not ch.isascii()), None)
    if other is not None:
        raise FieldError(f"must be written with digits 0-9, not {other} (U+{ord(other):04X})")


def count(maximum: int) -> Validator:
    """A whole count from 0 to ``maximum``."""

    def validate(raw: Any) -> int:
        return _count(raw, maximum)

    return validate


def _count(raw: Any, maximum: int) -> int:
    if isinstance(raw, (bool, float)):
        raise FieldError("must be a whole number")
    if isinstance(raw, int):
        value = raw
    else:
        # Room for any number someone might type (2**63 is 19 digits): a big number is
        # refused as too big, not as "too long".
        text = _single_line(raw, max_length=32)
        if not text:
            raise FieldError("must not be empty")
        if text.startswith("-"):
            raise FieldError("must not be negative")
        _refuse_other_digits(text)
        if not WHOLE_TEXT.fullmatch(text):
            raise FieldError("must be a whole number")
        value = int(text)
    if value < 0:
        raise FieldError("must not be negative")
    if value > maximum:
        raise FieldError(f"must be at most {maximum:,}")
    return value


def code(max_length: int) -> Validator:
    """A code such as a SKU: letters, digits, ``- _ .``, stored upper case."""

    def validate(raw: Any) -> str:
        text = _single_line(raw, max_length=max_length).upper()
        if not text:
            raise FieldError("must not be empty")
        if not CODE_PATTERN.fullmatch(text):
            raise FieldError(
                "may hold only letters, digits, '-', '_' and '.', starting with a letter or digit"
            )
        return text

    return validate


def reference(noun: str, key_name: str, key: Validator) -> Validator:
    """A record of another entity: its id, its natural key (checked by ``key``, looked up
    when saving), or none (empty or ``-``). ``noun`` and ``key_name`` name them in messages:
    ``must be a user id or email``."""
    wrong = f"must be a {noun} id or {key_name}"

    def validate(raw: Any) -> int | str | None:
        if raw is None:
            return None
        if isinstance(raw, bool):
            raise FieldError(wrong)
        if isinstance(raw, int):
            return _record_id(raw, noun, wrong)
        text = _single_line(raw, max_length=REFERENCE_MAX)
        if not text or text == "-":
            return None
        number = whole_number(text)
        if number is not None:
            return _record_id(number, noun, wrong)
        _refuse_other_digits(text)
        checked_key: str = key(text)
        return checked_key

    return validate


# Room for any natural key (an email is the longest, 254): the key's own validator says more.
REFERENCE_MAX = EMAIL_MAX


def _record_id(value: int, noun: str, wrong: str) -> int:
    if value <= 0:
        raise FieldError(wrong)
    # Bigger than any id a database column holds: said here, before a driver (SQLite's
    # 64-bit integers) fails on the lookup with an error nobody can act on.
    if value > ID_MAX:
        raise FieldError(f"no {noun} has id {value} (ids are at most {ID_MAX:,})")
    return value


def password(raw: Any) -> str:
    """A new password: 8 to 1024 characters, no NUL. Never trimmed: spaces may be meant."""
    text = _text(raw)
    if len(text) > PASSWORD_MAX:
        raise FieldError(f"is too long (at most {PASSWORD_MAX} characters)")
    if len(text) < PASSWORD_MIN:
        raise FieldError(f"is too short (at least {PASSWORD_MIN} characters)")
    if "\x00" in text:
        raise FieldError("contains a NUL character")
    return text
