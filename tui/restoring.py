"""The question a restore asks before it runs: the console's dialog and the command line's
prompt say the same, and reading it loads no Textual."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from data.entity import counted
from tui.text import shown, visible

if TYPE_CHECKING:
    from data.audit import RestorePlan

# A value longer than this is cut in the restore question: the entry dialog shows it whole.
RESTORE_VALUE_WIDTH = 28
RESTORE_FIELDS_SHOWN = 10


def restore_question(plan: RestorePlan) -> tuple[str, str]:
    """The confirm dialog's title and text for ``plan``: the record, each field that
    changes back (now → after), and the later changes a restore goes back over."""
    entry, what = plan.entry, plan.label
    if plan.effect == "recreate":
        title = f"Bring back {what}?"
        lead = f"It was deleted; it comes back as it was before entry {entry.id}:"
    elif plan.effect == "delete":
        title = f"Delete {what}?"
        lead = f"It did not exist before entry {entry.id} ({entry.action}); it is deleted:"
    else:
        title = f"Restore {what}?"
        lead = f"These fields go back to their values before entry {entry.id}:"
    lines = [lead]
    for name, now, after in plan.changes[:RESTORE_FIELDS_SHOWN]:
        lines.append(f"  {name}: {value_text(now)} → {value_text(after)}")
    hidden = len(plan.changes) - RESTORE_FIELDS_SHOWN
    if hidden > 0:
        lines.append(f"  … and {hidden} more")
    latest = plan.latest
    if plan.later and latest is not None:
        changes = counted(plan.later, "later change")
        lines.append(
            f"Changed since: {changes}, the latest by {latest.actor} (entry {latest.id}, "
            f"{latest.action}). Restoring goes back over them."
        )
    lines.append("The restore is audited: restore its own entry to go back.")
    return title, "\n".join(lines)


def value_text(value: Any) -> str:
    """A stored value as one short line of text for a question ("-" for none)."""
    if value is None:
        return "-"
    text = visible(shown(value))  # one line: a stored line break shows as a stand-in
    if len(text) > RESTORE_VALUE_WIDTH:
        return text[: RESTORE_VALUE_WIDTH - 1] + "…"
    return text


__all__ = ["restore_question", "value_text"]
