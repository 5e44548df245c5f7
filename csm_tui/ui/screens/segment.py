"""Pick a segment of the book (or all accounts).

Dismisses the chosen segment's name, None for "All accounts", and ``current`` unchanged on
escape (so cancelling never changes the view).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList
from textual.widgets.option_list import Option

from csm_tui.ui.messages import ScreenSettled
from csm_tui.ui.safe_text import safe
from csm_tui.ui.widgets.choice_list import ChoiceList

ALL_ACCOUNTS = "All accounts"


class SegmentScreen(ModalScreen[str | None]):
    """A list of segments with the current one highlighted."""

    DEFAULT_CSS = """
    SegmentScreen {
        align: center middle;
    }
    SegmentScreen > #box {
        width: 50;
        max-width: 100%;
        height: auto;
        max-height: 80%;
        border: thick $primary 60%;
        border-title-color: $text;
        background: $surface;
    }
    SegmentScreen OptionList {
        height: auto;
        max-height: 20;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
    ]

    def __init__(self, segments: list[str], current: str | None) -> None:
        super().__init__()
        self.segments = list(dict.fromkeys(segments))
        self.current = current

    def compose(self) -> ComposeResult:
        box = Vertical(id="box")
        box.border_title = "Segment"
        # The current choice is marked with a dot; ids are positions, since names are untrusted.
        all_mark = "● " if self.current not in self.segments else "  "
        options = [Option(Text(all_mark) + Text(ALL_ACCOUNTS, style="italic"), id="all")]
        for n, name in enumerate(self.segments):
            mark = "● " if name == self.current else "  "
            options.append(Option(Text(mark) + safe(name, max_len=60), id=f"s{n}"))
        with box:
            yield ChoiceList(*options, id="segments", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        found = self.query_one("#segments", OptionList)
        if self.current in self.segments:
            found.highlighted = self.segments.index(self.current) + 1
        else:
            found.highlighted = 0
        self.set_focus(found)
        self.post_message(ScreenSettled())  # the keys typed behind the f come here now

    @on(OptionList.OptionSelected, "#segments")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        if option_id.startswith("s"):
            self.dismiss(self.segments[int(option_id[1:])])
        else:
            self.dismiss(None)

    def action_cursor(self, direction: str) -> None:
        """j / k move like the arrows."""
        found = self.query_one("#segments", OptionList)
        if direction == "down":
            found.action_cursor_down()
        else:
            found.action_cursor_up()

    def action_cancel(self) -> None:
        """Keep the current segment."""
        self.dismiss(self.current)
