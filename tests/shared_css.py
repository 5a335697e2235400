"""Textual's parsed CSS, shared by every app one test process runs.

Textual parses each app's stylesheet (its own and every widget's DEFAULT_CSS) when the app
starts, and keeps the result only for that app. A test process starts hundreds of consoles
from the same CSS, so about a tenth of a pilot test's CPU went to parsing the same text
again. This keeps the parsed rules for the whole process instead, under Textual's own key
plus the CSS variables they were parsed with (a theme changes those), so what the rules
mean is unchanged: only the second and later parses of the same text are skipped.

Only the tests install it (conftest). A console has one app per process and gains nothing.
"""

from __future__ import annotations

from typing import Any

from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet

_MOST = 512  # distinct (CSS, variables) pairs kept: a run needs about a hundred
_parsed: dict[tuple[Any, ...], list[RuleSet]] = {}


def install() -> None:
    """Make every Stylesheet of this process look up and keep its parses in ``_parsed``."""
    parse_once = Stylesheet._parse_rules
    if getattr(parse_once, "shared", False):
        return

    def parse_shared(
        stylesheet: Stylesheet,
        css: str,
        read_from: Any,
        is_default_rules: bool = False,
        tie_breaker: int = 0,
        scope: str = "",
    ) -> list[RuleSet]:
        # The variables are part of the key: the same CSS under another theme parses to
        # other rules. Textual never changes a parsed RuleSet (it reuses them itself).
        key = (
            css,
            read_from,
            is_default_rules,
            tie_breaker,
            scope,
            tuple(stylesheet._variables.items()),
        )
        rules = _parsed.get(key)
        if rules is None:
            rules = parse_once(stylesheet, css, read_from, is_default_rules, tie_breaker, scope)
            if len(_parsed) >= _MOST:
                _parsed.clear()
            _parsed[key] = rules
        return rules

    parse_shared.shared = True  # type: ignore[attr-defined]
    Stylesheet._parse_rules = parse_shared  # type: ignore[method-assign,assignment]
