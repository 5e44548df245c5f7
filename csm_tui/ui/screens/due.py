"""The due queue (d): every next step due today or overdue, across the book, to close the day.

c (or space) marks the step under the cursor done, e retitles it, w reschedules it, enter opens
its account, x exports the queue as CSV, escape goes back; u (the app's) undoes. The app reads
the steps (DueStepsRequested) and shows them here (``show_steps``); each change is posted as a
StepChangeRequested, written with its one outbox item, and the queue is read again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from csm_tui.domain.when import parse_due
from csm_tui.ui.keymap import DUE_BINDINGS
from csm_tui.ui.messages import (
    DueStepsRequested,
    ExportRequested,
    OpenAccountRequested,
    ScreenSettled,
    StepChangeRequested,
)
from csm_tui.ui.safe_text import clean, safe
from csm_tui.ui.screens.next_step import TITLE_MAX, due_phrase

# What the table shows, in its order; the export writes the same columns under the same names.
DUE_VIEW_HEADERS = ("Due", "Days late", "Account", "Next step")
DUE_VIEW_COLUMNS = ("due_date", "days_late", "account", "title")


def late_text(days_late: int) -> str:
    """'today', '1 day', '12 days'."""
    if days_late <= 0:
        return "today"
    return "1 day" if days_late == 1 else f"{days_late} days"


class StepFieldScreen(ModalScreen[str | date | None]):
    """One field about a step (its title, or its due day): enter saves, escape cancels."""

    DEFAULT_CSS = """
    StepFieldScreen {
        align: center middle;
    }
    StepFieldScreen > #form {
        width: 64;
        max-width: 100%;
        height: auto;
        border: thick $primary 60%;
        background: $surface;
        padding: 0 1;
    }
    StepFieldScreen #hint {
        height: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    StepFieldScreen #hint.-error {
        color: $error;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        label: str,
        value: str,
        read: Callable[[str], tuple[str | date, str]],
        placeholder: str = "",
    ) -> None:
        """``read`` turns the text into (value, what it reads back as) or raises ValueError."""
        super().__init__()
        self.form_title = title
        self.label = label
        self.value = value
        self.read = read
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        form = Vertical(id="form")
        form.border_title = safe(self.form_title, max_len=58)
        with form:
            yield Label(self.label)
            yield Input(self.value, id="field", placeholder=self.placeholder, select_on_focus=False)
            yield Static("", id="hint")

    def on_mount(self) -> None:
        self.query_one("#field", Input).focus()
        self._check(self.value)
        self.post_message(ScreenSettled())

    @on(Input.Changed, "#field")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, text: str, submitted: bool = False) -> str | date | None:
        hint = self.query_one("#hint", Static)
        if not text.strip() and not submitted:  # nothing typed yet: no error, the forms taken
            hint.update(Text(f"e.g. {self.placeholder}" if self.placeholder else ""))
            hint.set_class(False, "-error")
            return None
        try:
            value, reads = self.read(text)
        except ValueError as exc:
            hint.update(Text(clean(exc, 200)))
            hint.set_class(True, "-error")
            return None
        hint.update(Text(reads))
        hint.set_class(False, "-error")
        return value

    @on(Input.Submitted, "#field")
    def _submitted(self, event: Input.Submitted) -> None:
        value = self._check(event.value, submitted=True)
        if value is not None:
            self.dismiss(value)

    def action_cancel(self) -> None:
        """Close without a change."""
        self.dismiss(None)


def read_title(text: str) -> tuple[str, str]:
    """A step's new title, or ValueError."""
    title = " ".join(text.split())
    if not title:
        raise ValueError("A next step needs a title.")
    if len(title) > TITLE_MAX:
        raise ValueError(f"At most {TITLE_MAX} characters, please.")
    return title, "enter saves, escape cancels"


def read_due(today: date) -> Callable[[str], tuple[date, str]]:
    """A reader of a step's new due day: not before ``today``."""

    def read(text: str) -> tuple[date, str]:
        day = parse_due(text, today)
        if day < today:
            raise ValueError(f"{day.isoformat()} has passed: choose today or later.")
        return day, due_phrase(day, today)

    return read


class DueScreen(Screen[None]):
    """Every next step due today or overdue, across the book; close the day from here."""

    DEFAULT_CSS = """
    DueScreen #due-title {
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text;
    }
    DueScreen #due-table {
        height: 1fr;
    }
    DueScreen #due-empty {
        padding: 1 2;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [*DUE_BINDINGS]

    def __init__(self, today: date) -> None:
        super().__init__(id="due")
        self.today = today
        self.steps: list[dict[str, object]] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text("Due queue · reading…"), id="due-title")
        table: DataTable[Text] = DataTable(id="due-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="due-empty")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.table
        for header in DUE_VIEW_HEADERS:
            table.add_column(header, key=header)
        self.query_one("#due-empty").display = False
        table.focus()
        self.post_message(DueStepsRequested())

    @property
    def table(self) -> DataTable[Text]:
        """The steps' table."""
        return self.query_one("#due-table", DataTable)

    def show_steps(self, steps: list[dict[str, object]]) -> None:
        """Show ``steps`` (store.due.due_steps), the cursor kept on the same step or place, or
        on the one step that came back (an undo)."""
        table = self.table
        current = self.current
        keep_id = current["step_id"] if current else None
        keep_row = table.cursor_row
        before = {str(s["step_id"]) for s in self.steps}
        self.steps = list(steps)
        table.clear()
        for step in self.steps:
            late = int(str(step["days_late"]))
            table.add_row(
                Text(str(step["due_date"])),
                Text(late_text(late), style="bold" if late > 0 else ""),
                safe(step["account"], max_len=24),  # the step's title gets the room
                safe(step["title"], max_len=120),
                key=str(step["step_id"]),
            )
        ids = [str(s["step_id"]) for s in self.steps]
        back = [i for i in ids if i not in before]
        if self.loaded and len(back) == 1:
            keep_id = back[0]  # a step back in the queue (undo): the cursor goes to it
        if keep_id in ids:
            table.move_cursor(row=ids.index(str(keep_id)))
        elif self.steps:
            table.move_cursor(row=min(keep_row, len(self.steps) - 1))
        overdue = sum(1 for s in self.steps if int(str(s["days_late"])) > 0)
        self.query_one("#due-title", Static).update(
            Text(f"Due queue · {len(self.steps)} due by {self.today:%a %d %b} · {overdue} overdue")
        )
        empty = self.query_one("#due-empty", Static)
        empty.update(Text("Nothing due: every next step is on time. Escape goes back."))
        empty.display = not self.steps
        table.display = bool(self.steps)
        if not self.loaded:
            self.loaded = True
            self.post_message(ScreenSettled())  # the keys typed behind the d act on these rows

    @property
    def current(self) -> dict[str, object] | None:
        """The step under the cursor (None: the queue is empty)."""
        if not self.steps:
            return None
        row = self.table.cursor_row
        return self.steps[row] if 0 <= row < len(self.steps) else None

    def _step(self) -> dict[str, object] | None:
        step = self.current
        if step is None:
            self.notify("No step here: nothing is due.", severity="warning")
        return step

    def action_complete(self) -> None:
        """Mark the step under the cursor done."""
        if step := self._step():
            self.post_message(
                StepChangeRequested(str(step["step_id"]), str(step["account_id"]), done=True)
            )

    def action_retitle(self) -> None:
        """Ask for the step's new title."""
        if not (step := self._step()):
            return
        step_id, account_id = str(step["step_id"]), str(step["account_id"])

        def answered(title: str | date | None) -> None:
            if isinstance(title, str):
                self.post_message(StepChangeRequested(step_id, account_id, title=title))

        form = StepFieldScreen(
            f"Retitle · {clean(step['account'], 40)}", "Title", str(step["title"]), read_title
        )
        self.app.push_screen(form, answered)

    def action_reschedule(self) -> None:
        """Ask for the step's new due day."""
        if not (step := self._step()):
            return
        step_id, account_id = str(step["step_id"]), str(step["account_id"])

        def answered(day: str | date | None) -> None:
            if isinstance(day, date):
                self.post_message(StepChangeRequested(step_id, account_id, due=day))

        form = StepFieldScreen(
            f"Reschedule · {clean(step['title'], 40)}",
            "Due",
            "",
            read_due(self.today),
            placeholder="fri, +3d, next week, dec 15, 2026-12-01",
        )
        self.app.push_screen(form, answered)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_account()

    def action_open_account(self) -> None:
        """Open the account of the step under the cursor."""
        if step := self._step():
            self.post_message(OpenAccountRequested(str(step["account_id"])))

    def action_export(self) -> None:
        """Export the queue as shown, as CSV."""
        self.post_message(
            ExportRequested("due-queue", DUE_VIEW_HEADERS, DUE_VIEW_COLUMNS, list(self.steps))
        )

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_back(self) -> None:
        self.dismiss()
