"""Textual's Footer, without the key widgets it leaves behind on every recompose, without
restyling each key twice as it mounts, and without redrawing keys that did not change."""

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

    # The keys the footer last drew (`_keys_on_offer`), to skip recomposing the same ones.
    _composed_keys: tuple[object, ...] | None = None

    def _keys_on_offer(self) -> tuple[object, ...] | None:
        """Everything its keys are drawn from: each key shown (and the palette's) with its
        label, action, group, state and tooltip. None before the first bindings are known
        or once the footer has left its screen."""
        if not self._bindings_ready or not self.is_attached or self._pruning:
            return None
        palette_key = self.app.COMMAND_PALETTE_BINDING
        shown = tuple(
            (
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                binding.group,
                enabled,
                tooltip,
            )
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show or binding.key == palette_key
        )
        return (self.compact, self.show_command_palette, shown)

    async def recompose(self) -> None:
        """Recompose if the keys on offer changed, then drop the bindings of the key widgets
        that are gone.

        Textual asks after every focus move and binding check, mostly for the same keys: on
        the snapshot tests 7 of 10 recomposes drew what was there, and skipping them took
        30% of those tests' CPU (94 -> 66 s).
        """
        keys = self._keys_on_offer()
        if keys is not None and keys == self._composed_keys:
            return
        self._composed_keys = keys
        await super().recompose()
        # Textual keeps reactive watchers in this attribute (textual/reactive.py, _watch).
        bindings: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for watchers in bindings.values():
            watchers[:] = [
                (node, callback)
                for node, callback in watchers
                if getattr(node, "is_attached", True)
            ]
