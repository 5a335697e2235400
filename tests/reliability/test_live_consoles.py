"""Two real consoles on one SQLite file, each on its own pseudo-terminal: what one deletes
leaves the other's screen on its own, with a note naming who deleted it, and the other's
count follows; no key is pressed in the watching console."""

from __future__ import annotations

from pathlib import Path

from tests.console_support import demo_database
from tests.reliability.support_input import Terminal


def test_a_delete_in_one_console_shows_in_the_other(tmp_path: Path) -> None:
    """Console A deletes user 1; console B, untouched, drops the row and says who did it."""
    path = tmp_path / "live.db"
    demo_database(path, users=10, products=0).dispose()
    url = f"sqlite:///{path}"
    watching, deleting = Terminal(url), Terminal(url)
    try:
        watching.wait_for(b"of 10")
        deleting.wait_for(b"of 10")
        mark = len(watching.output)
        deleting.press(b"d", b"Delete this user?")
        deleting.press(b"y", b"Deleted user 1")
        # Nothing was typed into the watching console since `mark`.
        watching.wait_for(b"user 1 deleted by ", since=mark)
        watching.wait_for(b"of 9", since=mark)
        assert deleting.quit() == 0
        assert watching.quit() == 0
    finally:
        watching.close()
        deleting.close()
