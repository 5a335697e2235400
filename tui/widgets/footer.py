"""Textual's Footer, without the key widgets it leaves behind on every recompose, and
without restyling each key twice as it mounts."""

from __future__ import annotations

from collections.abc import Iterator

from textual.widget import Widget
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey


class Footer(TextualFooter):
    """The footer every screen shows.

    Each recompose (every screen switch and every change of the keys on offer) data-binds
    the new key widgets to the footer's ``compact`` reactive. Textual 8.2.8 forgets a
    removed key's binding only when ``compact`` changes, which it never does here, so each
    switch and back kept ~3,800 objects alive for good: memory crept up through a session,
    and the cyclic collector's full passes over them grew to 60-96 ms, each a frozen key
    press. A bare Textual app with two modes and a Footer shows the same.
    """

    def compose(self) -> Iterator[Widget]:
        """Textual's keys, born with the footer's ``compact`` instead of their own default.

        A FooterKey starts compact (its reactive's default) and the data binding makes it
        match the footer once mounted: two style passes per key, ~15 keys, on every focus
        change and screen switch. Measured on the console tests: a tenth of their CPU.
        """
        for widget in super().compose():
            # The command palette's key is not bound to the footer: it stays as Textual has it.
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget

    async def recompose(self) -> None:
        """Recompose, then drop the bindings of the key widgets that are gone."""
        await super().recompose()
        # Textual keeps reactive watchers in this attribute (textual/reactive.py, _watch).
        bindings: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for watchers in bindings.values():
            watchers[:] = [
                (node, callback)
                for node, callback in watchers
                if getattr(node, "is_attached", True)
            ]
