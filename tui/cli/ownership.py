"""Whether the top-level packages ``tui``, ``data`` and ``models`` are AccessGuard's own.

Their names are common: a PyPI distribution called ``data`` or ``tui`` installed next to
AccessGuard overwrites its files (it then died with a SyntaxError), and a folder of that name
earlier on the path shadows them. Each of AccessGuard's packages holds `MARK` in its
``__init__.py`` and lies beside the others; this checks both before anything imports them.
It only finds the packages (`importlib.util.find_spec` runs none of their code) and reads
three short files, about 1 ms; importing importlib.metadata alone takes about 50 ms.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGES = ("tui", "data", "models")
# The line each package's __init__.py carries; a stranger's does not.
MARK = "# AccessGuard's own package: tui.cli.ownership looks for this line."
FIX = (
    "install AccessGuard in an environment of its own: pipx install accessguard "
    "(or uv tool install accessguard), as the README says"
)


def foreign_package() -> str | None:
    """One line naming the first package that is not AccessGuard's and the fix, else None."""
    # Where AccessGuard's packages are: beside this one's (tui/cli/ownership.py).
    home = Path(__file__).resolve().parent.parent.parent
    for name in PACKAGES:
        where = _init_file(name)
        if where is None or where.parent.parent != home or not _marked(where):
            found = f" at {where.parent}" if where is not None else ""
            return (
                f"accessguard: the package {name!r}{found} is not AccessGuard's (another "
                f"distribution of that name replaced or shadows it); {FIX}"
            )
    return None


def _init_file(name: str) -> Path | None:
    """The ``__init__.py`` the import system would load for ``name``, without loading it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith("__init__.py"):
        return None
    return Path(spec.origin).resolve()


def _marked(init_file: Path) -> bool:
    try:
        return MARK in init_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
