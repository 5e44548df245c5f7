"""The full key map, grouped, scrollable; escape (or ? / q) closes it.

The rows come from `csm_tui.ui.keymap.help_rows`, so the help always shows the user's remapped
keys; they are grouped here by what the binding does.
"""

from __future__ import annotations

import re
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from csm_tui.ui.safe_text import clean

# Which group a binding belongs to, by words in its description (short or long form); the first
# group whose pattern matches wins, so "Mark every account" is an action, not a move.
GROUPS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "Act on accounts",
        re.compile(r"\b(log|next step|snooze|enroll|mark|undo)\b", re.IGNORECASE),
    ),
    ("Find", re.compile(r"\b(filter|segment)\b", re.IGNORECASE)),
    (
        "Move",
        re.compile(
            r"\b(next account|previous account|page|first|last|open|back|down|up)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "App",
        re.compile(
            r"\b(sync|portfolio|theme|palette|commands?|help|keys?|quit|leave|export)\b",
            re.IGNORECASE,
        ),
    ),
)
FORM_KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "Next / previous field"),
    ("←/→ ↑/↓", "Choose an option"),
    ("ctrl+s", "Save the form"),
    ("esc", "Cancel (asks first if typed text would be lost)"),
    ("1 / 3 / 7 / d", "Snooze: 1 day, 3 days, a week, until a date"),
)


def grouped(bindings: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The bindings in help groups, keeping their order inside each group; empty groups dropped."""
    groups: dict[str, list[tuple[str, str]]] = {name: [] for name, _ in GROUPS}
    other: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for keys, description in bindings:
        if (keys, description) in seen:
            continue
        seen.add((keys, description))
        for name, pattern in GROUPS:
            if pattern.search(description):
                groups[name].append((keys, description))
                break
        else:
            other.append((keys, description))
    order = ("Move", "Act on accounts", "Find", "App")
    result = [(name, groups[name]) for name in order if groups[name]]
    if other:
        result.append(("Other", other))
    result.append(("In forms", list(FORM_KEYS)))
    return result


def _group_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(width=16, no_wrap=True)
    table.add_column()
    table.add_row(Text(title, style="bold underline"), "")
    for keys, description in rows:
        table.add_row(Text(clean(keys, 16), style="bold"), Text(clean(description, 80)))
    return table


class HelpScreen(ModalScreen[None]):
    """Every key, grouped."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > #box {
        width: 92;
        max-width: 100%;
        height: 90%;
        border: thick $primary 60%;
        border-title-color: $text;
        background: $surface;
    }
    HelpScreen VerticalScroll {
        padding: 0 1;
    }
    HelpScreen .group {
        margin-bottom: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", key_display="esc"),
        Binding("j,down", "scroll('down')", "Scroll", show=False),
        Binding("k,up", "scroll('up')", "Scroll", show=False),
    ]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.bindings = list(bindings)

    def compose(self) -> ComposeResult:
        box = Vertical(id="box")
        box.border_title = "Keys"
        with box, VerticalScroll(id="scroll"):
            for title, rows in grouped(self.bindings):
                yield Static(_group_table(title, rows), classes="group")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#scroll", VerticalScroll).focus()

    def action_scroll(self, direction: str) -> None:
        """Scroll the key map one line."""
        scroll = self.query_one("#scroll", VerticalScroll)
        if direction == "down":
            scroll.scroll_down(animate=False)
        else:
            scroll.scroll_up(animate=False)

    def action_close(self) -> None:
        """Back to where the help was opened."""
        self.dismiss(None)
