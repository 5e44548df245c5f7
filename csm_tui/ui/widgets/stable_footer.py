"""A Footer that rebuilds its keys only when the keys it shows change.

Textual's Footer recomposes (a new widget per key) every time its screen's bindings are
announced, e.g. each time a modal closes. With twenty keys that is tens of milliseconds of UI
thread, right when a saved action's row and detail should appear; most of the time the keys are
the very same ones, so the rebuild is skipped.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class StableFooter(Footer):
    """Footer that skips rebuilding when the shown keys are the same as last time."""

    _shown_keys: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """Rebuild only for a different set of shown keys (or their enabled state)."""
        keys = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )
        if keys == self._shown_keys and self._bindings_ready and self.children:
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown_keys = keys
        super().bindings_changed(screen)
