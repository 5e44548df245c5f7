"""The snooze form: hide an account for 1 day, 3 days, a week or until a date, with a reason.

Keys 1 / 3 / 7 pick a duration and move on to the reason; enter (or ctrl+s) saves. A snooze that
ends after the account's renewal is questioned first: enter again snoozes anyway.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from csm_tui.domain.when import parse_due
from csm_tui.ui.drafts import SnoozeDraft
from csm_tui.ui.messages import ScreenSettled
from csm_tui.ui.safe_text import clean, safe
from csm_tui.ui.screens.form import FormScreen

QUICK_DAYS = (1, 3, 7)
REASON_MAX = 200


class SnoozeScreen(FormScreen[SnoozeDraft | None]):
    """Snooze one account: it leaves the attention list and comes back on the chosen day."""

    DEFAULT_CSS = """
    SnoozeScreen {
        align: center middle;
    }
    SnoozeScreen > #form {
        width: 64;
        max-width: 100%;
        height: auto;
        border: thick $primary 60%;
        border-title-color: $text;
        background: $surface;
        padding: 1 1 0 1;
    }
    SnoozeScreen #durations {
        height: auto;
        margin-bottom: 1;
    }
    SnoozeScreen .row {
        height: auto;
        margin-bottom: 1;
    }
    SnoozeScreen .row > Label {
        width: 8;
        color: $text-muted;
    }
    SnoozeScreen #until {
        width: 18;
    }
    SnoozeScreen #reason {
        width: 1fr;
    }
    SnoozeScreen #until-hint {
        width: 1fr;
        height: 1;
        padding-left: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    SnoozeScreen #until-hint.-error, SnoozeScreen #error {
        color: $error;
    }
    SnoozeScreen #error {
        height: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pick(1)", "1 day"),
        Binding("3", "pick(3)", "3 days"),
        Binding("7", "pick(7)", "A week"),
        Binding("d", "pick_date", "Until a date"),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, account_name: str, today: date, renewal: date | None = None) -> None:
        super().__init__()
        self.account_name = account_name
        self.today = today
        self.renewal = renewal
        self._past_renewal_confirmed: date | None = None  # the day the user said yes to

    def _option(self, key: str, label: str, day: date | None) -> Option:
        # Muted in the theme's colour, not "dim": dimmed text falls below 4.5:1 on light themes.
        until = (f"until {day:%a %d %b}", "$text-muted") if day is not None else ""
        return Option(Content.assemble((f" {key}  ", "bold"), f"{label:<14}", until), id=key)

    def compose(self) -> ComposeResult:
        form = Vertical(id="form")
        form.border_title = Text("Snooze · ") + safe(self.account_name, max_len=50)
        with form:
            labels = {1: "1 day", 3: "3 days", 7: "A week"}
            yield OptionList(
                *[
                    self._option(str(n), labels[n], self.today + timedelta(days=n))
                    for n in QUICK_DAYS
                ],
                self._option("d", "Until a date…", None),
                id="durations",
                compact=True,
            )
            with Horizontal(classes="row"):
                yield Label("Until")
                yield Input(id="until", placeholder="fri, 2026-12-01", compact=True)
                yield Static("", id="until-hint")
            with Horizontal(classes="row"):
                yield Label("Reason")
                yield Input(id="reason", placeholder="e.g. on holiday until Monday", compact=True)
            yield Static("", id="error")
        yield Footer()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#durations", OptionList))
        self.post_message(ScreenSettled())  # the keys typed behind the z come here now

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Digits and 'd' are shortcuts only while the list has the focus: in a field they type.
        if action in ("pick", "pick_date"):
            return isinstance(self.focused, OptionList)
        return True

    @on(OptionList.OptionSelected, "#durations")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id == "d":
            self.action_pick_date()
        elif event.option.id:
            self.action_pick(int(event.option.id))

    def action_pick(self, days: int) -> None:
        """Snooze for ``days`` days: fill the date, highlight the choice, move on to the reason."""
        until = self.query_one("#until", Input)
        until.value = (self.today + timedelta(days=days)).isoformat()
        self.query_one("#durations", OptionList).highlighted = QUICK_DAYS.index(days)
        self.query_one("#reason", Input).focus()

    def action_pick_date(self) -> None:
        """Type the day the account comes back."""
        self.query_one("#durations", OptionList).highlighted = len(QUICK_DAYS)
        self.query_one("#until", Input).focus()

    @on(Input.Changed, "#until")
    def _until_changed(self, event: Input.Changed) -> None:
        self._check_until(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "until":
            self.query_one("#reason", Input).focus()
        else:
            self.action_save()

    def _check_until(self, text: str) -> date | str:
        """The day the account comes back, or the error (shown beside the field)."""
        result: date | str
        if not text.strip():
            result = "pick 1, 3 or 7, or type a date"
        else:
            try:
                day = parse_due(text, self.today)
            except ValueError as exc:
                result = clean(exc, 200)
            else:
                result = day if day > self.today else "choose a day after today"
        hint = self.query_one("#until-hint", Static)
        if isinstance(result, date):
            ahead = (result - self.today).days
            shown = f"{result:%a %d %b} (in {ahead} day{'s' if ahead != 1 else ''})"
            if self._past_renewal(result):  # the field is narrow: the renewal before the count
                shown = f"{result:%a %d %b} · after renewal {self.renewal:%m/%d}"
            hint.update(Text(shown))
        else:
            hint.update(Text(result))
        hint.set_class(isinstance(result, str), "-error")
        return result

    def _past_renewal(self, until: date) -> bool:
        """The snooze would end after a renewal still to come (the account is hidden then)."""
        return self.renewal is not None and self.today <= self.renewal < until

    def _fail(self, message: str, field: str) -> None:
        self.query_one("#error", Static).update(Text(message))
        self.query_one(field, Widget).focus()

    def action_save(self) -> None:
        """Dismiss the snooze, or say what to fix."""
        until = self._check_until(self.query_one("#until", Input).value)
        if isinstance(until, str):
            field = "#durations" if not self.query_one("#until", Input).value.strip() else "#until"
            self._fail("Until: " + until, field)
            return
        reason = " ".join(self.query_one("#reason", Input).value.split())
        if len(reason) > REASON_MAX:
            self._fail(f"Reason: at most {REASON_MAX} characters, please.", "#reason")
            return
        if self._past_renewal(until) and self._past_renewal_confirmed != until:
            assert self.renewal is not None
            self._past_renewal_confirmed = until
            self._fail(
                f"Renews {self.renewal:%m/%d}, before this snooze ends ({until:%m/%d}). "
                "Press enter again to snooze anyway, or pick an earlier day.",
                "#reason",
            )
            return
        self.dismiss(SnoozeDraft(until=until, reason=reason))

    def action_cancel(self) -> None:
        """Close without snoozing (nothing typed here is worth a question)."""
        self.dismiss(None)
