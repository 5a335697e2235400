"""Keeping a database URL's secrets out of every line shown: its password, whatever its
shape, and any query parameter that names a password or a secret.

A password typed into a URL is not always encoded: ``postgresql://u:p@ss@host/db``,
``mysql://u:p:a:ss@host/db`` and ``postgresql://u:p ss@host/db`` are all typed by real
admins. SQLAlchemy took the first ``@`` of ``p@ss@host`` as the end of the password, so
``ss@host`` became the host and was printed in every message that named it. Here the
password runs to the last ``@`` that a host follows, and when in doubt more is masked,
never less. Importing this module loads neither SQLAlchemy nor Textual.
"""

from __future__ import annotations

import re

MASK = "***"

# A host (a name, an IPv4 address or a bracketed IPv6 one) and an optional port, then the
# end of the authority: a path, a query, a fragment, a space, a quote or the end. Typos
# (``:port``, an unclosed ``[::1``) count too: such a URL is masked as well as a good one.
_HOST = r"(?:\[[^\]\s/?#@]*\]?|[\w.~%-]*)(?::[^\s/?#@]*)?(?=[/?#\s\"'<>),;\]]|$)"
_HEAD = r"(?P<head>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)"
# ``scheme://user:password@host`` in any text. The password runs to the last ``@`` on the
# line that a host follows: ``p@ss W0rd@host`` is one password (a space ends a host, so
# the first ``@`` would seem to end it too). Where a line holds a URL and then an email
# address, more is masked than the password: never less. It never crosses ``://``, which
# starts another URL; that, and a scheme starting only where a run of scheme characters
# starts (the lookbehind), keeps the scan linear (a 10 MB value is not tried from each of
# its characters).
_URL_PASSWORD = rf"{_HEAD}(?P<password>(?:(?!://)[^\n])*)@(?={_HOST})"
# The same in a URL as configured, which is one URL: its password holds no ``/``, ``?`` or
# ``#`` ahead of an ``@`` (so an ``@`` in the path or query is not taken for its end).
_TYPED_PASSWORD = rf"{_HEAD}(?P<password>[^/?#\n]*)@(?={_HOST})"
# A parameter whose name holds password, passwd, pwd or secret (``?sslpassword=``,
# ``&my_secret=``, ``?PASSWORD=``, libpq's ``password=`` keyword): its value, to the next
# parameter. An unencoded space may be part of the value, so the rest of the line is
# masked rather than risk showing a password's tail.
_SECRET_PARAMETER = (
    r"(?i)(?P<head>(?<![^\s?&;,(])[\w.-]*(?:pass(?:word|wd)|pwd|secret)[\w.-]*=)"
    r"(?:'[^'\n]*'?|\"[^\"\n]*\"?|[^&#\n]*)"
)


def redact(text: str) -> str:
    """``text`` with every URL password and secret parameter in it replaced by ``***``."""
    # Without an "@" there is no URL password, without an "=" no parameter: most text
    # (a SQLite path, a message) is returned as it is, and the patterns are compiled (by
    # `re`, once) only for text that may hold a secret.
    masked = re.sub(_URL_PASSWORD, rf"\g<head>{MASK}@", text) if "@" in text else text
    return re.sub(_SECRET_PARAMETER, rf"\g<head>{MASK}", masked) if "=" in masked else masked


def holds_secret(text: str) -> bool:
    """Whether ``text`` (a URL as typed) carries a password or a secret parameter."""
    return redact(text) != text


def encode_at_signs(url: str) -> str:
    """``url`` with each ``@`` in its password and in its query percent-encoded, so that a
    parser reads the password the admin meant (``p@ss``, ``?password=p@ss``) rather than
    ending it at the first ``@`` and taking the rest for the host."""
    found = re.match(_TYPED_PASSWORD, url)
    if found is not None:
        head = f"{found['head']}{found['password'].replace('@', '%40')}@"
        rest = url[found.end("password") + 1 :]
    else:
        scheme, separator, rest = url.partition("://")
        if not separator:
            return url
        head = scheme + separator
    # The host and path hold no "?": an "@" after it is a query value's.
    before, mark, query = rest.partition("?")
    return f"{head}{before}{mark}{query.replace('@', '%40')}"


__all__ = ["MASK", "encode_at_signs", "holds_secret", "redact"]
