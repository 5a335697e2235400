"""CI's check of what a pytest run did, from its junit report (not from its exit status).

usage: check_junit.py JUNIT_XML STARTED_EPOCH [FLOORS_FILE]

Fails unless the report was written by this run (after STARTED_EPOCH), nothing failed,
errored or was skipped, and, given FLOORS_FILE ("total N" and "BACKEND N" lines), at least N
tests passed in all and on each backend (a test id naming it: ``test_x[postgresql]``).
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

BACKENDS = ("sqlite", "postgresql", "mysql")


def fail(message: str) -> None:
    print(f"FAIL: {message}", file=sys.stderr)
    raise SystemExit(1)


def main(path: Path, started: float, floors_file: Path | None) -> None:
    if not path.is_file():
        fail(f"the test command wrote no {path}: it ran no tests")
    if path.stat().st_mtime < started:
        fail(f"{path} is older than this run: the test command did not write it")
    outcomes: Counter[str] = Counter()
    passed_on: Counter[str] = Counter()
    skipped: list[str] = []
    for case in ElementTree.parse(path).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case} & {"failure", "error", "skipped"}
        outcome = kinds.pop() if kinds else "passed"
        outcomes[outcome] += 1
        if outcome == "skipped":
            skipped.append(name)
        if outcome == "passed":
            ids = re.search(r"\[(.*)\]$", case.get("name") or "")
            for backend in BACKENDS:
                if ids and backend in re.split(r"[-_\[\],]", ids.group(1)):
                    passed_on[backend] += 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(outcomes.items()))
    on = ", ".join(f"{passed_on[b]} on {b}" for b in BACKENDS)
    print(f"{path}: {summary or 'no tests'}; passed {on}")
    if outcomes["failure"] or outcomes["error"]:
        fail(f"{outcomes['failure']} failed and {outcomes['error']} errored")
    if skipped:
        fail(f"{len(skipped)} skipped (CI has servers and root: nothing may skip): {skipped[:5]}")
    if floors_file is None:
        if not outcomes["passed"]:
            fail("no test passed")
        return
    for line in floors_file.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        what, number = line.split()
        ran = outcomes["passed"] if what == "total" else passed_on[what]
        if ran < int(number):
            where = "in all" if what == "total" else f"on {what}"
            fail(f"{ran} tests passed {where}; {floors_file} expects at least {number}")


if __name__ == "__main__":
    floors = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    main(Path(sys.argv[1]), float(sys.argv[2]), floors)
