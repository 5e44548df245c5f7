"""Since you last looked: the digest's changes since the app was last opened, shown once.

Enter or escape closes it; o opens the highlighted change's account (it dismisses that
account's id, and the app opens the account screen).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from csm_tui.domain.digest import KINDS, Change
from csm_tui.ui.safe_text import clean, fit
from csm_tui.ui.widgets.choice_list import ChoiceList

# What each kind of change is called, in the order of csm_tui.domain.digest.KINDS.
KIND_LABELS = {
    "band_down": "Down a band",
    "escalation": "Escalation",
    "usage_cliff": "Usage cliff",
    "went_quiet": "Gone quiet",
    "detractor": "Detractor",
    "renewal": "Renewal",
    "push_failed": "Push failed",
    "band_up": "Up a band",
}
KIND_STYLES = {
    "band_down": "bold $band-red",
    "escalation": "bold $band-red",
    "push_failed": "$warning",
    "band_up": "$band-green",
}
KIND_WIDTH, ACCOUNT_WIDTH = 12, 24
MAX_ROWS = 300  # a long absence lists the worst first; the count above says how many in all


# The headline's words for each kind: (one, several).
COUNTED = {
    "band_down": ("moved down a band", "moved down a band"),
    "escalation": ("escalation", "escalations"),
    "usage_cliff": ("usage cliff", "usage cliffs"),
    "went_quiet": ("gone quiet", "gone quiet"),
    "detractor": ("detractor", "detractors"),
    "renewal": ("renewal milestone", "renewal milestones"),
    "push_failed": ("failed push", "failed pushes"),
    "band_up": ("moved up a band", "moved up a band"),
}


def headline(changes: tuple[Change, ...] | list[Change], since: date | None) -> Content:
    """'Since Fri 20 Nov: 2 moved down a band · 1 escalation · 3 usage cliffs ...'."""
    counts = Counter(c.kind for c in changes)
    parts = [f"{counts[k]} {COUNTED.get(k, (k, k))[counts[k] != 1]}" for k in KINDS if counts[k]]
    when = since.strftime("%a %d %b") if since else "your last look"
    return Content.assemble((f"Since {when}: ", "bold"), " · ".join(parts) or "nothing new")


def change_line(change: Change, width: int) -> Content:
    """One change on one line of ``width`` cells: its kind, its account and what happened,
    all shown literally."""
    room = max(8, width - KIND_WIDTH - ACCOUNT_WIDTH - 2)
    return Content.assemble(
        (fit(KIND_LABELS.get(change.kind, change.kind), KIND_WIDTH) + " ",
         KIND_STYLES.get(change.kind, "")),
        (fit(clean(change.account) or "Outbox", ACCOUNT_WIDTH) + " ", "bold"),
        fit(clean(change.text), room).rstrip(),
    )  # fmt: skip


class SinceScreen(ModalScreen[str | None]):
    """The changes since the last opening; dismisses an account id to open, or None."""

    DEFAULT_CSS = """
    SinceScreen {
        align: center middle;
    }
    SinceScreen > #box {
        width: 100;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary 60%;
        border-title-color: $text;
        background: $surface;
        padding: 0 1;
    }
    SinceScreen #headline {
        margin-bottom: 1;
    }
    SinceScreen #changes {
        height: auto;
    }
    SinceScreen #hint {
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,escape", "close", "Close", priority=True),
        Binding("o", "open_account", "Open account"),
    ]

    def __init__(self, changes: tuple[Change, ...] | list[Change], since: date | None) -> None:
        super().__init__()
        self.changes = list(changes)
        self.since = since

    def compose(self) -> ComposeResult:
        box = Vertical(id="box")
        box.border_title = "Since you last looked"
        with box:
            yield Static(headline(self.changes, self.since), id="headline")
            # The box's width less its border and padding, the list's scrollbar and padding.
            width = min(100, self.app.size.width) - 8
            yield ChoiceList(
                *(
                    Option(change_line(c, width), id=str(i))
                    for i, c in enumerate(self.changes[:MAX_ROWS])
                ),
                id="changes",
                compact=True,
            )
            more = len(self.changes) - MAX_ROWS
            hint = "enter or escape: close · o: open the account"
            yield Static(
                (f"… and {more:,} more (csm-tui digest lists them all)\n" if more > 0 else "")
                + hint,
                id="hint",
            )
        yield Footer()

    def on_mount(self) -> None:
        changes = self.query_one("#changes", OptionList)
        changes.highlighted = 0 if self.changes else None
        changes.focus()
        self._fit_list()

    def on_resize(self) -> None:
        self._fit_list()

    def _fit_list(self) -> None:
        """The list as tall as the terminal leaves room for, so the hint below stays on screen
        (the footer, the box's border, a two-line headline, the hint and their margins)."""
        room = self.app.size.height - 9
        self.query_one("#changes").styles.max_height = max(3, min(20, room))

    def highlighted_change(self) -> Change | None:
        """The change under the cursor."""
        index = self.query_one("#changes", OptionList).highlighted
        return None if index is None else self.changes[index]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_account":
            change = self.highlighted_change()
            return True if change is not None and change.account_id else None
        return True

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.refresh_bindings()  # "open account" only for a change that names one

    def action_close(self) -> None:
        """Close the panel."""
        self.dismiss(None)

    def action_open_account(self) -> None:
        """Close the panel and open the highlighted change's account."""
        change = self.highlighted_change()
        if change is not None and change.account_id:
            self.dismiss(change.account_id)
