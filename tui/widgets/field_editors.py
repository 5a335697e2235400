"""The widgets that edit one form field each: which widget a field's kind gets, and how a
value is read from it and put back.

`make_editor` is the one place that decides which widget edits a field: a new kind of field
is a new branch there, and the form follows.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from rich.text import Text
from textual.validation import Validator
from textual.widget import Widget
from textual.widgets import Input, Select, Switch, TextArea
from textual.widgets.select import InvalidSelectValueError

from tui.views import FieldSpec
from tui.widgets.relation_picker import RelationPicker
from tui.widgets.stored_text import StoredTextInput
from tui.widgets.stored_text_area import StoredTextArea


def make_editor(spec: FieldSpec, value: Any, *, check: Validator | None, new: bool) -> Widget:
    """The widget that edits one field, named after it so events say which field moved."""
    options: dict[str, Any] = {"id": f"field-{spec.name}", "name": spec.name}
    options["classes"] = "form--editor"
    if spec.kind == "select":
        choices = [(Text(choice), choice) for choice in spec.choices()]
        if value not in spec.choices():  # stored by another tool: nothing chosen until fixed
            return Select(choices, allow_blank=True, compact=True, **options)
        return Select(choices, value=value, allow_blank=False, compact=True, **options)
    if spec.kind == "switch":
        return Switch(value is True, **options)
    if spec.kind == "relation":
        return RelationPicker(spec.to, str(value), placeholder=spec.placeholder, **options)
    if spec.kind == "multiline":
        return StoredTextArea(str(value), compact=True, placeholder=spec.placeholder, **options)
    return StoredTextInput(
        str(value),
        placeholder=spec.placeholder,
        validators=[check] if check is not None else None,
        # A new record's empty fields are not wrong yet; "is required" comes on save.
        valid_empty=new,
        compact=True,
        **options,
    )


def read_editor(editor: Widget) -> Any:
    """What the admin has put in a field, as typed."""
    if isinstance(editor, TextArea):
        return editor.text
    if isinstance(editor, (Input, Select, Switch, RelationPicker)):
        return editor.value
    raise TypeError(f"not a form editor: {editor!r}")


def write_editor(editor: Widget, value: Any) -> None:
    """Put a stored value back into a field."""
    if isinstance(editor, TextArea):
        editor.load_text(str(value))
    elif isinstance(editor, Switch):
        editor.value = bool(value)
    elif isinstance(editor, (Input, RelationPicker)):
        editor.value = str(value)
    elif isinstance(editor, Select):
        # A value another tool stored outside the choices cannot be chosen: the select
        # keeps what it holds (the form's note names the problem).
        with suppress(InvalidSelectValueError):
            editor.value = value


__all__ = ["make_editor", "read_editor", "write_editor"]
