"""Password hashing with argon2id. Hashes stay in data/; callers only learn "set" or "not set"."""

from __future__ import annotations

from argon2 import PasswordHasher

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (tens of milliseconds: call it off the UI thread)."""
    return _hasher.hash(password)
