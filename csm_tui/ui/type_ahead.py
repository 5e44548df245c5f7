"""Keys typed while a screen is on its way: held, then delivered in order once it has focus.

Textual sends a key to the widget focused when the key is taken from the app's queue. After a
key that opens a screen (``l``: the log-touch form), the screen comes a message (and a read of
the contacts) later, and the keys typed meanwhile went to the list below, or to a screen with no
focused field yet: "hello" typed right behind ``l`` was lost, its ``l`` opened a second form.
The app holds those keys from the request (``OpensScreen``) until the screen says it is ready
(``ScreenSettled``), then hands them on in the order they were typed; a paste waits with them.
"""

from __future__ import annotations

from textual import events

HOLD_LIMIT = 2.0  # seconds: a screen that never settles (a failed read) gives the keys back


class TypeAhead:
    """The keys held while a screen opens."""

    def __init__(self) -> None:
        self._held: list[events.Key | events.Paste] | None = None

    @property
    def holding(self) -> bool:
        """True between a screen's request and its settling."""
        return self._held is not None

    def start(self) -> None:
        """Hold the keys from now on (a no-op while already holding)."""
        if self._held is None:
            self._held = []

    def hold(self, event: events.Key | events.Paste) -> None:
        """Keep a key (or a paste) for the screen on its way."""
        assert self._held is not None
        self._held.append(event)

    def release(self) -> list[events.Key | events.Paste]:
        """Stop holding; the keys held, oldest first."""
        held, self._held = self._held or [], None
        return held
