"""The log-touch form: what happened with an account, and (optionally) the next step it led to.

Dismisses a `TouchDraft` (ctrl+s) or None (escape; asks first when typed text would be lost).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, RadioButton, RadioSet, Select, Static, TextArea

from csm_tui.domain.when import parse_due, parse_when
from csm_tui.ui.drafts import TouchDraft
from csm_tui.ui.messages import ScreenSettled
from csm_tui.ui.safe_text import clean, safe
from csm_tui.ui.screens.confirm import ConfirmScreen
from csm_tui.ui.screens.form import FormScreen
from csm_tui.ui.screens.next_step import due_phrase

KINDS: tuple[tuple[str, str], ...] = (
    ("call", "Call"),
    ("email", "Email"),
    ("meeting", "Meeting"),
    ("qbr", "QBR"),
    ("note", "Note"),
)
SENTIMENTS: tuple[tuple[str | None, str], ...] = (
    (None, "None"),
    ("positive", "Positive"),
    ("neutral", "Neutral"),
    ("negative", "Negative"),
)
SUMMARY_MAX = 4000  # a CRM note body is long enough; this keeps a paste from flooding it


class ChoiceSet(RadioSet):
    """A radio group whose arrow keys choose as they move (as radio groups do on the web), so
    choosing the kind of touch is one key, not two."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,right", "choose(1)", "Next option", show=False),
        Binding("up,left", "choose(-1)", "Previous option", show=False),
    ]

    def action_choose(self, step: int) -> None:
        """Move to the next (1) or previous (-1) option and choose it."""
        if step > 0:
            self.action_next_button()
        else:
            self.action_previous_button()
        self.action_toggle_button()


def _when_text(moment: datetime, now: datetime) -> str:
    """How the parsed time reads back to the user: 'now', 'Sat 21 Nov 14:00'."""
    if abs((now - moment).total_seconds()) < 60:
        return "now"
    return moment.strftime("%a %d %b %H:%M")


class LogTouchScreen(FormScreen[TouchDraft | None]):
    """Log a call, email, meeting, QBR or note for one account."""

    DEFAULT_CSS = """
    LogTouchScreen {
        align: center middle;
    }
    LogTouchScreen > #form {
        width: 78;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary 60%;
        border-title-color: $text;
        background: $surface;
        padding: 0 1;
    }
    LogTouchScreen .row {
        height: auto;
        margin-bottom: 1;
    }
    LogTouchScreen .row > Label {
        width: 11;
        color: $text-muted;
    }
    LogTouchScreen RadioSet {
        layout: horizontal;
        width: 1fr;
        height: 1;
    }
    LogTouchScreen RadioSet > RadioButton {
        width: auto;
        margin-right: 1;
    }
    LogTouchScreen #when, LogTouchScreen #due {
        width: 26;
    }
    LogTouchScreen .hint {
        width: 1fr;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        padding-left: 1;
        color: $text-muted;
    }
    LogTouchScreen .hint.-error, LogTouchScreen #error {
        color: $error;
    }
    LogTouchScreen #contact {
        width: 1fr;
    }
    LogTouchScreen #summary {
        width: 1fr;
        height: 4;
    }
    LogTouchScreen #next-step-title {
        width: 1fr;
    }
    LogTouchScreen #error {
        height: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, account_name: str, contacts: list[tuple[str, str]], now: datetime) -> None:
        """``contacts`` are (contact id, label) pairs; ``now`` is the local time (tz-aware)."""
        super().__init__()
        self.account_name = account_name
        self.contacts = list(contacts)
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        self.today = self.now.date()

    def compose(self) -> ComposeResult:
        form = Vertical(id="form")
        form.border_title = Text("Log a touch · ") + safe(self.account_name, max_len=50)
        with form:
            with Horizontal(classes="row"):
                yield Label("Kind")
                with ChoiceSet(id="kind", compact=True):
                    for n, (_, label) in enumerate(KINDS):
                        yield RadioButton(label, value=n == 0, compact=True)
            with Horizontal(classes="row"):
                yield Label("When")
                yield Input("now", id="when", compact=True, select_on_focus=True)
                yield Static("now", id="when-hint", classes="hint")
            with Horizontal(classes="row"):
                yield Label("Contact")
                options = [(safe(label, max_len=60), cid) for cid, label in self.contacts]
                yield Select(options, id="contact", prompt="No contact", compact=True)
            with Horizontal(classes="row"):
                yield Label("Summary")
                yield TextArea(id="summary", compact=True, soft_wrap=True, show_line_numbers=False)
            with Horizontal(classes="row"):
                yield Label("Sentiment")
                with ChoiceSet(id="sentiment", compact=True):
                    for n, (_, label) in enumerate(SENTIMENTS):
                        yield RadioButton(label, value=n == 0, compact=True)
            with Horizontal(classes="row"):
                yield Label("Next step")
                yield Input(
                    id="next-step-title", placeholder="optional, e.g. Send the quote", compact=True
                )
            with Horizontal(classes="row"):
                yield Label("Due")
                yield Input(id="due", placeholder="e.g. fri, +3d, 2026-12-01", compact=True)
                yield Static("", id="due-hint", classes="hint")
            yield Static("", id="error")
        yield Footer()

    def on_mount(self) -> None:
        # What happened is what a CSM types first; the other fields start sensible (a call,
        # now, no contact) and are a tab or shift+tab away.
        self.set_focus(self.query_one("#summary", TextArea))
        self.post_message(ScreenSettled())  # the keys typed behind the l come here now

    # -- live feedback --------------------------------------------------------------------

    @on(Input.Changed, "#when")
    def _when_changed(self, event: Input.Changed) -> None:
        self._check_when(event.value)

    @on(Input.Changed, "#due")
    def _due_changed(self, event: Input.Changed) -> None:
        self._check_due(event.value)

    def _hint(self, selector: str, text: str, error: bool) -> None:
        hint = self.query_one(selector, Static)
        hint.update(Text(text))
        hint.set_class(error, "-error")

    def _check_when(self, text: str) -> datetime | str:
        """The parsed time (shown beside the field), or the error text."""
        try:
            moment = parse_when(text, self.now)
        except ValueError as exc:
            message = clean(exc, 200)
            self._hint("#when-hint", message, error=True)
            return message
        self._hint("#when-hint", _when_text(moment, self.now), error=False)
        return moment

    def _check_due(self, text: str) -> date | str | None:
        """The due day, None when left empty, or the error text."""
        if not text.strip():
            self._hint("#due-hint", "", error=False)
            return None
        try:
            day = parse_due(text, self.today)
        except ValueError as exc:
            message = clean(exc, 200)
            self._hint("#due-hint", message, error=True)
            return message
        if day < self.today:
            message = f"{day.isoformat()} has passed"
            self._hint("#due-hint", message, error=True)
            return message
        self._hint("#due-hint", due_phrase(day, self.today), error=False)
        return day

    # -- reading the form -----------------------------------------------------------------

    def _kind(self) -> str:
        index = self.query_one("#kind", RadioSet).pressed_index
        return KINDS[max(index, 0)][0]

    def _sentiment(self) -> str | None:
        index = self.query_one("#sentiment", RadioSet).pressed_index
        return SENTIMENTS[max(index, 0)][0]

    def _contact_id(self) -> str | None:
        value = self.query_one("#contact", Select).value
        return value if isinstance(value, str) else None

    def _summary(self) -> str:
        return self.query_one("#summary", TextArea).text.strip()

    def _step_title(self) -> str:
        return " ".join(self.query_one("#next-step-title", Input).value.split())

    def _fail(self, message: str, field: str) -> None:
        self.query_one("#error", Static).update(Text(message))
        self.query_one(field, Widget).focus()

    def has_unsaved_text(self) -> bool:
        """True when escape would lose something the user typed."""
        return bool(
            self._summary()
            or self._step_title()
            or self.query_one("#due", Input).value.strip()
            or self.query_one("#when", Input).value.strip() not in ("", "now")
        )

    def action_save(self) -> None:
        """Check every field; dismiss the draft, or say what to fix and focus that field."""
        moment = self._check_when(self.query_one("#when", Input).value)
        if isinstance(moment, str):
            self._fail("When: " + moment, "#when")
            return
        summary = self._summary()
        if not summary:
            self._fail("Summary: write a few words about what happened.", "#summary")
            return
        if len(summary) > SUMMARY_MAX:
            self._fail(f"Summary: at most {SUMMARY_MAX} characters, please.", "#summary")
            return
        title = self._step_title()
        due = self._check_due(self.query_one("#due", Input).value)
        if isinstance(due, str):
            self._fail("Due: " + due, "#due")
            return
        if due is not None and not title:
            self._fail("Next step: give it a title, or clear the due date.", "#next-step-title")
            return
        self.dismiss(
            TouchDraft(
                kind=self._kind(),
                occurred_at=moment.astimezone(UTC),
                contact_id=self._contact_id(),
                summary=summary,
                sentiment=self._sentiment(),
                next_step_title=title or None,
                next_step_due=due if title else None,
            )
        )

    def action_cancel(self) -> None:
        """Close without saving; ask first when typed text would be lost."""
        if not self.has_unsaved_text():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen("Discard this touch? What you typed will be lost."), answered
        )
