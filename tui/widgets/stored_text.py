"""Editors that hold stored text as it is but draw it as `tui.text.visible` shows it.

Textual's Input and TextArea draw their value as a Rich ``Text``, which stops markup but
passes escapes straight to the terminal: a name holding an OSC 52 clipboard write, loaded
into a form, wrote it to the pty (measured; issue 5, item 16). Replacing the value itself
with its visible form would change stored bytes the admin never touched, so the value stays
as stored and only its drawing is made visible. `visible` maps one character to one, so
every position in the value is the same position in what is drawn.

The multi-line editor is in `tui.widgets.stored_text_area`: only forms use it, and Textual's
TextArea takes a while to import, which the console's first frame need not wait for.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.expand_tabs import expand_tabs_inline
from textual.widgets import Input

from tui.text import visible


class StoredTextInput(Input):
    """An `Input` that never writes a control, bidi or invisible character to the terminal.

    A value typed, pasted or loaded with an ESC shows ``␛`` where the ESC is; the validator
    then names the character, so the admin can see what to delete.
    """

    @property
    def _value(self) -> Text:
        # Textual 8.2.8 draws (and measures) the value through this property.
        if self.password:
            return super()._value
        return Text(visible(self.value), no_wrap=True, overflow="ignore", end="")

    def _position_to_cell(self, position: int) -> int:
        # The cursor's cell, measured on what is drawn: a control character takes no cell
        # in the value but one as its picture.
        if self.password:
            return super()._position_to_cell(position)
        return cell_len(expand_tabs_inline(visible(self.value[:position]), 4))


__all__ = ["StoredTextInput"]
