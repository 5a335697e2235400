"""Loaded at start-up by a console the signal tests run with this folder on PYTHONPATH.

With ``AG_HOLD_LOCK`` set, the console's audit insert about record ``AG_HOLD_RECORD`` waits
(its record's own row already written, in the same transaction) for a shared lock on the file
``AG_HOLD_LOCK``, which the test holds exclusively until it lets the write go. It touches
``AG_HOLD_LOCK.reached`` first, so the test knows the write is in flight. A lock, not a timed
delay: the test decides when the write goes on, whatever this machine's speed.
"""

from __future__ import annotations

import os

if os.environ.get("AG_HOLD_LOCK"):
    import fcntl
    from pathlib import Path
    from typing import Any

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _LOCK = Path(os.environ["AG_HOLD_LOCK"])
    _RECORD = int(os.environ["AG_HOLD_RECORD"])

    def _hold(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_: Any
    ) -> None:
        if not statement.startswith("INSERT INTO audit_entries"):
            return
        rows = getattr(context, "compiled_parameters", None) or []
        if not any(row.get("record_id") == _RECORD for row in rows):
            return
        _LOCK.with_name(_LOCK.name + ".reached").touch()
        with _LOCK.open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)  # waits here until the test lets go

    event.listen(Engine, "before_cursor_execute", _hold)
