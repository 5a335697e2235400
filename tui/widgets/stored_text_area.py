"""The multi-line editor of stored text: see `tui.widgets.stored_text` for why it draws
what it holds made visible. Apart from it because only forms use it, and Textual's TextArea
takes a while to import, which the console's first frame need not wait for."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import TextArea

from tui.text import visible_lines


class StoredTextArea(TextArea):
    """A `TextArea` drawing each line as `visible_lines` shows it (tabs and breaks kept)."""

    def get_line(self, line_index: int) -> Text:
        """The line as drawn: every steering or hidden character made visible."""
        return Text(visible_lines(self.document.get_line(line_index)), end="", no_wrap=True)


__all__ = ["StoredTextArea"]
