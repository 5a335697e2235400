"""Choosing the record a relation names (a product's owner) by typing part of it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, OptionList
from textual.worker import get_current_worker

from data.database import Database
from data.entities import entity_named
from data.paging import SEARCH_MAX
from data.records import PageRequest
from tui.text import safe
from tui.widgets.stored_text import StoredTextInput
from tui.workers import ReportsWorkerFailures

if TYPE_CHECKING:
    from tui.app import AccessGuardApp


class RelationPicker(ReportsWorkerFailures, Widget):
    """An input that searches the related entity (``to``) as you type and offers the
    matches under it.

    ``down`` / ``up`` move through the matches (showing them at once if the search is
    still waiting), ``enter`` picks one, ``escape`` hides them. Picking fills in the record's
    natural key (a user's email); `value` is whatever the input holds, so a key typed in
    full works too, and anything else is refused by the data core when the form saves.
    """

    DEFAULT_CSS = """
    RelationPicker {
        height: auto;
    }
    RelationPicker > OptionList {
        display: none;
        height: auto;
        max-height: 6;
        border: none;
        padding: 0;
        background: $panel;
        &.-open {
            display: block;
        }
        &:ansi > .option-list--option-highlighted {
            text-style: reverse;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "move(1)", "Next match", show=False, id="relation.next"),
        Binding("up", "move(-1)", "Previous match", show=False, id="relation.previous"),
        Binding("escape", "close", "Hide matches", show=False, id="relation.close"),
    ]

    DEBOUNCE_SECONDS = 0.15
    LIMIT = 6

    class Changed(Message):
        """The text in the picker changed (typed or picked)."""

        def __init__(self, picker: RelationPicker, value: str) -> None:
            super().__init__()
            self.picker = picker
            self.value = value

        @property
        def control(self) -> RelationPicker:
            """The picker that changed."""
            return self.picker

    class Picked(Message):
        """A record was chosen from the matches."""

        def __init__(self, picker: RelationPicker, record: Any) -> None:
            super().__init__()
            self.picker = picker
            self.record = record

        @property
        def control(self) -> RelationPicker:
            """The picker that picked."""
            return self.picker

    class MatchesFound(Message, bubble=False):
        """A search finished: the records matching ``query`` (the picker's own message)."""

        def __init__(self, query: str, records: tuple[Any, ...]) -> None:
            super().__init__()
            self.query = query
            self.records = records

    def __init__(
        self,
        to: str,
        value: str = "",
        *,
        placeholder: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.target = entity_named(to)
        # Built here rather than in compose so `value` works before the picker is mounted.
        self.input = StoredTextInput(
            value, placeholder=placeholder, compact=True, classes="relation--input"
        )
        self.matches = OptionList(compact=True, classes="relation--matches")
        self.matches.can_focus = False  # focus stays in the input; keys move the highlight
        self._records: tuple[Any, ...] = ()
        self._timer: Timer | None = None
        self._query = ""  # the newest search asked for; older answers are dropped
        self._settled = value.strip()  # text written by a pick or by code: not a search
        self._highlight_first = False

    @property
    def value(self) -> str:
        """The chosen (or typed) key, or "" for none."""
        return self.input.value.strip()

    @value.setter
    def value(self, key: str) -> None:
        self._settled = key.strip()
        self.input.value = key
        self._close()

    def compose(self) -> ComposeResult:
        """The input, and the matches under it."""
        yield self.input
        yield self.matches

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focusing the picker focuses its input."""
        self.input.focus(scroll_visible)
        return self

    @on(Input.Changed, ".relation--input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self, self.value))
        self._cancel_timer()
        text = self.value
        if not text or text == self._settled or len(text) > SEARCH_MAX:
            self._query = ""
            self._close()
            return
        self._settled = ""
        self._query = text
        # Debounced: a search per keystroke would queue needless queries on a slow link.
        self._timer = self.set_timer(self.DEBOUNCE_SECONDS, self._search_now)

    @on(Input.Submitted, ".relation--input")
    def _submitted(self, event: Input.Submitted) -> None:
        index = self.matches.highlighted
        if self._is_open() and index is not None and index < len(self._records):
            event.stop()
            self._pick(self._records[index])

    @on(OptionList.OptionSelected, ".relation--matches")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_index < len(self._records):
            self._pick(self._records[event.option_index])

    def on_relation_picker_matches_found(self, event: RelationPicker.MatchesFound) -> None:
        """Show the matches, unless a newer search has been asked for since."""
        if event.query != self._query or event.query != self.value:
            return
        # The admin may have moved to a match already, and Enter is on its way: a newer
        # answer (the debounced search arriving after `down`) keeps the highlight on them.
        chosen = self._highlighted_record()
        self._records = event.records
        self.matches.clear_options()
        if event.records:
            self.matches.add_options(safe(self._described(record)) for record in event.records)
        else:
            missing = f"no {self.target.entity} matches {event.query!r}"
            self.matches.add_option(safe(missing, "italic"))
            self.matches.disable_option_at_index(0)
        self.matches.add_class("-open")
        ids = [record.id for record in event.records]
        if chosen is not None and chosen.id in ids:
            self.matches.highlighted = ids.index(chosen.id)
        elif self._highlight_first and event.records:
            self.matches.highlighted = 0
        self._highlight_first = False
        self.matches.scroll_visible()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape hides the matches only while they show; otherwise it belongs to the form."""
        if action == "close":
            return self._is_open()
        return True

    def action_move(self, step: int) -> None:
        """Move through the matches, or search at once if none are showing yet."""
        if not self._is_open():
            self._highlight_first = True
            self._search_now()
        elif step > 0:
            self.matches.action_cursor_down()
        else:
            self.matches.action_cursor_up()

    def action_close(self) -> None:
        """Hide the matches and forget any pending search."""
        self._cancel_timer()
        self._query = ""
        self._close()

    def _search_now(self) -> None:
        self._cancel_timer()
        text = self.value
        if not text or len(text) > SEARCH_MAX:
            return
        self._query = text
        self._search(self._database(), text)

    @work(
        thread=True,
        exclusive=True,
        group="relation-search",
        exit_on_error=False,
        description="Searching for the record a relation names",
    )
    def _search(self, db: Database, text: str) -> None:
        page = db.table(self.target.plural).page(PageRequest(search=text, limit=self.LIMIT))
        if get_current_worker().is_cancelled:
            return
        self.post_message(self.MatchesFound(text, page.records))

    def _described(self, record: Any) -> str:
        """``Ana Lima <ana@example.com>``: the display field, and the key it is picked by."""
        shown = getattr(record, self.target.display_field)
        return f"{shown} <{self._key(record)}>"

    def _key(self, record: Any) -> str:
        return str(getattr(record, self.target.natural_key))

    def _pick(self, record: Any) -> None:
        self.value = self._key(record)
        self.input.cursor_position = len(self.input.value)
        self.post_message(self.Picked(self, record))

    def _highlighted_record(self) -> Any | None:
        index = self.matches.highlighted
        if self._is_open() and index is not None and index < len(self._records):
            return self._records[index]
        return None

    def _is_open(self) -> bool:
        return self.matches.has_class("-open")

    def _close(self) -> None:
        self._highlight_first = False
        self.matches.remove_class("-open")
        self.matches.clear_options()
        self._records = ()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _database(self) -> Database:
        return cast("AccessGuardApp", self.app).db


__all__ = ["RelationPicker"]
