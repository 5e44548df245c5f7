"""The next-step form: a title and an optional due day. Dismisses a `NextStepDraft` or None."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Static

from csm_tui.domain.when import parse_due
from csm_tui.ui.drafts import NextStepDraft
from csm_tui.ui.messages import ScreenSettled
from csm_tui.ui.safe_text import clean, safe
from csm_tui.ui.screens.confirm import ConfirmScreen
from csm_tui.ui.screens.form import FormScreen

TITLE_MAX = 200


def due_phrase(day: date, today: date) -> str:
    """'Fri 27 Nov (in 4 days)': the day as it reads back to the user."""
    ahead = (day - today).days
    words = {0: "today", 1: "tomorrow"}.get(ahead, f"in {ahead} days")
    return f"{day:%a %d %b} ({words})"


class NextStepScreen(FormScreen[NextStepDraft | None]):
    """Plan what happens next with one account."""

    DEFAULT_CSS = """
    NextStepScreen {
        align: center middle;
    }
    NextStepScreen > #form {
        width: 70;
        max-width: 100%;
        height: auto;
        border: thick $primary 60%;
        border-title-color: $text;
        background: $surface;
        padding: 1 1 0 1;
    }
    NextStepScreen .row {
        height: auto;
        margin-bottom: 1;
    }
    NextStepScreen .row > Label {
        width: 7;
        color: $text-muted;
    }
    NextStepScreen #title {
        width: 1fr;
    }
    NextStepScreen #due {
        width: 24;
    }
    NextStepScreen #due-hint {
        width: 1fr;
        height: 1;
        padding-left: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    NextStepScreen #due-hint.-error, NextStepScreen #error {
        color: $error;
    }
    NextStepScreen #error {
        height: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, account_name: str, today: date) -> None:
        super().__init__()
        self.account_name = account_name
        self.today = today

    def compose(self) -> ComposeResult:
        form = Vertical(id="form")
        form.border_title = Text("Next step · ") + safe(self.account_name, max_len=50)
        with form:
            with Horizontal(classes="row"):
                yield Label("What")
                yield Input(id="title", placeholder="e.g. Send the renewal quote", compact=True)
            with Horizontal(classes="row"):
                yield Label("Due")
                yield Input(id="due", placeholder="fri, +3d, 2026-12-01", compact=True)
                yield Static("optional", id="due-hint")
            yield Static("", id="error")
        yield Footer()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#title", Input))
        self.post_message(ScreenSettled())  # the keys typed behind the n come here now

    @on(Input.Changed, "#due")
    def _due_changed(self, event: Input.Changed) -> None:
        self._check_due(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "title" and not self.query_one("#due", Input).value.strip():
            self.query_one("#due", Input).focus()  # enter moves on to the due day first
            return
        self.action_save()

    def _check_due(self, text: str) -> date | str | None:
        """The due day, None when left empty, or the error text (shown beside the field)."""
        hint = self.query_one("#due-hint", Static)
        result: date | str | None
        if not text.strip():
            result, shown = None, "optional"
        else:
            try:
                day = parse_due(text, self.today)
            except ValueError as exc:
                result = shown = clean(exc, 200)
            else:
                if day < self.today:
                    result = shown = f"{day.isoformat()} has passed"
                else:
                    result, shown = day, due_phrase(day, self.today)
        hint.update(Text(shown))
        hint.set_class(isinstance(result, str), "-error")
        return result

    def _fail(self, message: str, field: str) -> None:
        self.query_one("#error", Static).update(Text(message))
        self.query_one(field, Widget).focus()

    def action_save(self) -> None:
        """Dismiss the draft, or say what to fix."""
        title = " ".join(self.query_one("#title", Input).value.split())
        if not title:
            self._fail("What: a next step needs a title.", "#title")
            return
        if len(title) > TITLE_MAX:
            self._fail(f"What: at most {TITLE_MAX} characters, please.", "#title")
            return
        due = self._check_due(self.query_one("#due", Input).value)
        if isinstance(due, str):
            self._fail("Due: " + due, "#due")
            return
        self.dismiss(NextStepDraft(title=title, due=due))

    def action_cancel(self) -> None:
        """Close without saving; ask first when a typed title would be lost."""
        if not self.query_one("#title", Input).value.strip():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen("Discard this next step?"), answered)
