"""Textual's Footer, without the key widgets it leaves behind on every recompose."""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """The footer every screen shows.

    Each recompose (every screen switch and every change of the keys on offer) data-binds
    the new key widgets to the footer's ``compact`` reactive. Textual 8.2.8 forgets a
    removed key's binding only when ``compact`` changes, which it never does here, so each
    switch and back kept ~3,800 objects alive for good: memory crept up through a session,
    and the cyclic collector's full passes over them grew to 60-96 ms, each a frozen key
    press. A bare Textual app with two modes and a Footer shows the same.
    """

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
