"""When a frame reaches the driver: the timestamp every console figure is built on.

Textual hands each finished frame to ``App._display`` (private, but Textual is pinned at
8.2.8). With a terminal driver it encodes the frame into escape sequences there and writes
them; with the headless driver it returns without either. `stamp_frames` wraps it to do
the encoding anyway, so a headless frame costs what a real one does short of the final
``write`` to the terminal, and then calls back with ``perf_counter_ns`` and ``time_ns``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import RenderableType
from textual._compositor import CompositorUpdate
from textual.app import App
from textual.screen import Screen

# (app, perf_counter_ns, time_ns) for every frame that reached the driver.
FrameCallback = Callable[[App[Any], int, int], None]


def stamp_frames(app: App[Any], on_frame: FrameCallback) -> None:
    """Call ``on_frame`` after every frame ``app`` displays (this instance only)."""
    original = app._display

    def display(screen: Screen[Any], renderable: RenderableType | None) -> None:
        original(screen, renderable)
        if _displayed(app, renderable):
            on_frame(app, time.perf_counter_ns(), time.time_ns())

    # An instance attribute: Screen calls ``app._display(...)``, which finds it first.
    setattr(app, "_display", display)  # noqa: B010 - mypy refuses assigning to a method


def stamp_every_app(on_frame: FrameCallback) -> None:
    """Call ``on_frame`` after every frame of any app in this process.

    For start-up, where the app is built by code we do not control (``tui.cli.main``).
    """
    original = App._display

    def display(self: App[Any], screen: Screen[Any], renderable: RenderableType | None) -> None:
        original(self, screen, renderable)
        if _displayed(self, renderable):
            on_frame(self, time.perf_counter_ns(), time.time_ns())

    setattr(App, "_display", display)  # noqa: B010 - as above


def _displayed(app: App[Any], renderable: RenderableType | None) -> bool:
    """Whether ``_display`` really put out a frame, after encoding it as a terminal would."""
    # The same early returns as App._display: nothing to show, or inside a batch update.
    if renderable is None or app._batch_count:
        return False
    # Headless, App._display skipped the encoding a terminal driver pays for: pay it here.
    if app.is_headless and isinstance(renderable, CompositorUpdate):
        renderable.render_segments(app.console)
    return True
