"""What every form (log a touch, plan a next step, snooze) shares: tab and shift+tab move the
focus as the key arrives, so that the keys typed right behind a tab go to the field it moved to
(as a plain binding, tab took effect only once the focused field had passed it up, and the next
keys went to the old field)."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

Result = TypeVar("Result")


class FormScreen(ModalScreen[Result]):
    """A modal form whose tab and shift+tab are priority bindings."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_field", "Next field", show=False, priority=True),
        Binding("shift+tab", "previous_field", "Previous field", show=False, priority=True),
    ]

    def action_next_field(self) -> None:
        """Focus the next field (tab)."""
        self.focus_next()

    def action_previous_field(self) -> None:
        """Focus the previous field (shift+tab)."""
        self.focus_previous()
