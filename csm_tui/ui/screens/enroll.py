"""Enroll the marked accounts' contacts in a sequence: choose the sequence, choose who, preview.

The preview says how many accounts and contacts, and who is left out and why, before anything
is queued. Accounts with an open escalation are left out unless the CSM includes them (e). More
than 50 contacts are enrolled only once their number is typed. Confirming dismisses the
`EnrollmentRequest`s; the app queues them in the outbox (`csm_tui.store.actions.enroll`). The
cache is read in a thread worker with its own connection.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color, ColorParseError
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from csm_tui.config import Settings
from csm_tui.domain.enrollment import (
    AUDIENCES,
    OPEN_ESCALATION,
    EnrollmentPlan,
    in_audience,
    needs_typed_confirmation,
    typed_count_matches,
)
from csm_tui.errors import CsmError
from csm_tui.store.actions import EnrollmentRequest
from csm_tui.store.db import open_cache
from csm_tui.store.enroll_inputs import EnrollInputs, enrollment_requests, load_enroll_inputs
from csm_tui.ui.messages import ScreenSettled
from csm_tui.ui.safe_text import clean, safe
from csm_tui.ui.widgets.choice_list import ChoiceList

STEPS = ("sequence", "audience", "preview")
STEP_TITLES = {
    "sequence": "Step 1 of 3 · choose a sequence",
    "audience": "Step 2 of 3 · choose who",
    "preview": "Step 3 of 3 · preview",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def preview_summary(plan: EnrollmentPlan, sequence_name: str, audience: str) -> Text:
    """The preview's headline: what will happen, and how many are left out for what reasons."""
    text = Text()
    text.append("Sequence  ", style="dim")
    text.append_text(safe(sequence_name, max_len=60))
    text.append("\nWho       ", style="dim")
    text.append(AUDIENCES[audience])
    text.append("\n\n")
    text.append(f"Enroll {_plural(len(plan.included), 'contact')}", style="bold")
    text.append(
        f" from {plan.accounts_included} of {_plural(plan.accounts, 'account')}"
        ", each sent as the account's owner."
    )
    if plan.excluded:
        text.append(f"\nExcluded {len(plan.excluded)}: ", style="bold")
        text.append(" · ".join(f"{n} {reason}" for reason, n in plan.reason_counts().items()))
    if plan.escalated:
        accounts = _plural(len(plan.escalated), "account")
        if plan.escalated_included:
            text.append(f"\nIncluding {accounts} with an {OPEN_ESCALATION}", style="bold")
            text.append(" (e: leave them out)", style="dim")
        else:
            text.append(f"\n{accounts} left out: {OPEN_ESCALATION}", style="bold")
            text.append(" (e: include them)", style="dim")
    if plan.accounts_without_anyone:
        names = ", ".join(clean(a.name, 30) for a in plan.accounts_without_anyone[:5])
        more = len(plan.accounts_without_anyone) - 5
        text.append(
            f"\n{_plural(len(plan.accounts_without_anyone), 'account')} with nobody to enroll: ",
            style="bold",
        )
        text.append(names + (f" and {more} more" if more > 0 else ""))
    return text


# A manager may mark a thousand accounts: the preview lists this many of each kind (the counts
# above the table cover everyone), so rendering it stays instant.
MAX_INCLUDED_ROWS = 50
MAX_EXCLUDED_ROWS = 250


def typed_prompt(plan: EnrollmentPlan) -> str:
    """What to type to enroll a large batch: 'Type 1110 to enroll 1,110 contacts.'"""
    n = len(plan.included)
    return f"Type {n} to enroll {n:,} contacts, then enter (escape: back)."


def _cell(text: str) -> Text:
    """Untrusted text for one table cell: literal, one line, cropped with an ellipsis."""
    cell = safe(text)
    cell.no_wrap, cell.overflow = True, "ellipsis"
    return cell


def _people_table(ratios: tuple[int, ...]) -> Table:
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column("mark", width=1, no_wrap=True)
    for ratio in ratios:
        table.add_column(ratio=ratio, no_wrap=True, overflow="ellipsis")
    return table


def _more(table: Table, hidden: int, what: str) -> None:
    if hidden > 0:
        empty = [Text("")] * (len(table.columns) - 2)
        table.add_row(Text(""), Text(f"… and {hidden:,} more {what}", style="dim"), *empty)


def excluded_table(plan: EnrollmentPlan, mark: Style | str = "") -> Table:
    """Who is left out, and why: contact, account, reason."""
    table = _people_table((4, 2, 5))
    for item in plan.excluded[:MAX_EXCLUDED_ROWS]:
        who = item.contact.name + (f" <{item.contact.email}>" if item.contact.email else "")
        table.add_row(
            Text("✗", style=mark), _cell(who), _cell(item.account.name), _cell(item.reason)
        )
    _more(table, len(plan.excluded) - MAX_EXCLUDED_ROWS, "excluded")
    return table


def included_table(plan: EnrollmentPlan, mark: Style | str = "") -> Table:
    """Who will be enrolled: contact and account."""
    table = _people_table((3, 2))
    for item in plan.included[:MAX_INCLUDED_ROWS]:
        table.add_row(
            Text("✓", style=mark),
            _cell(f"{item.contact.name} <{item.contact.email}>"),
            _cell(item.account.name),
        )
    _more(table, len(plan.included) - MAX_INCLUDED_ROWS, "to enroll")
    return table


def preview_people(plan: EnrollmentPlan, ok: Style | str = "", out: Style | str = "") -> Group:
    """The exclusions first (what the CSM must check), then everyone who will be enrolled."""
    parts: list[RenderableType] = []
    if plan.excluded:
        parts += [Text(f"Excluded ({len(plan.excluded):,})", style="bold")]
        parts += [excluded_table(plan, out), Text("")]
    parts += [Text(f"Will enroll ({len(plan.included):,})", style="bold")]
    parts += [included_table(plan, ok) if plan.included else Text("Nobody.", style="dim")]
    return Group(*parts)


class EnrollScreen(ModalScreen[list[EnrollmentRequest] | None]):
    """The three-step enroll flow for a set of accounts."""

    DEFAULT_CSS = """
    EnrollScreen {
        align: center middle;
    }
    EnrollScreen > #box {
        width: 100;
        max-width: 100%;
        height: 30;
        max-height: 100%;
        border: thick $primary 60%;
        border-title-color: $text;
        background: $surface;
        padding: 0 1;
    }
    EnrollScreen #step-title {
        color: $text-muted;
        margin-bottom: 1;
    }
    EnrollScreen ContentSwitcher {
        height: 1fr;
    }
    EnrollScreen ContentSwitcher > * {
        height: 1fr;
    }
    EnrollScreen #message {
        color: $text-muted;
    }
    EnrollScreen #message.-error {
        color: $error;
    }
    EnrollScreen #summary {
        height: auto;
        margin-bottom: 1;
    }
    EnrollScreen #people {
        height: 1fr;
    }
    EnrollScreen #typed {
        height: auto;
        display: none;
    }
    EnrollScreen #typed.-shown {
        display: block;
    }
    EnrollScreen #typed-prompt {
        color: $warning;
    }
    EnrollScreen #typed-prompt.-error {
        color: $error;
    }
    EnrollScreen #typed-count {
        width: 24;
    }
    """

    # One key, a different action per step; check_action enables the one that applies, so the
    # footer always names what enter and escape will do.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Choose", priority=True),
        Binding("enter,ctrl+s", "confirm", "Enroll", priority=True),
        Binding("escape", "back", "Back"),
        Binding("escape", "cancel", "Cancel"),
        Binding("e", "include_escalated(True)", "Include escalated"),
        Binding("e", "include_escalated(False)", "Leave out escalated"),
    ]

    @dataclass
    class InputsLoaded(Message):
        """The worker read what the preview needs."""

        inputs: EnrollInputs

    @dataclass
    class LoadFailed(Message):
        """The worker could not read the cache; ``text`` is one line for the user."""

        text: str

    def __init__(self, settings: Settings, account_ids: list[str], today: date) -> None:
        super().__init__()
        self.settings = settings
        self.account_ids = list(dict.fromkeys(account_ids))
        self.today = today
        self.inputs: EnrollInputs | None = None
        self.sequence_id: str | None = None
        self.audience: str | None = None
        self.plan: EnrollmentPlan | None = None
        self.include_escalated = False
        self.step = "sequence"

    def compose(self) -> ComposeResult:
        box = Vertical(id="box")
        box.border_title = f"Enroll {_plural(len(self.account_ids), 'account')} in a sequence"
        with box:
            yield Static(STEP_TITLES["sequence"], id="step-title")
            with ContentSwitcher(initial="sequence"):
                with Vertical(id="sequence"):
                    yield Static("Reading the cache…", id="message")
                    yield ChoiceList(id="sequences", compact=True)
                yield ChoiceList(id="audience", compact=True)
                with Vertical(id="preview"):
                    yield Static(id="summary")
                    yield VerticalScroll(Static(id="people-table"), id="people")
                    with Vertical(id="typed"):
                        yield Static(id="typed-prompt")
                        yield Input(id="typed-count", placeholder="how many", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        # The list shows (and takes the focus) once the worker has read the sequences.
        self.query_one("#sequences", OptionList).display = False
        self._load()

    # -- loading (worker: no widgets touched here) ----------------------------------------

    @work(thread=True, exclusive=True, group="enroll-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            db = open_cache(self.settings.cache_path, create=False)
        except CsmError as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        try:
            inputs = load_enroll_inputs(db, self.account_ids, self.today)
        except sqlite3.Error as exc:
            self.post_message(self.LoadFailed(f"The cache cannot be read: {exc}."))
            return
        finally:
            db.conn.close()
        self.post_message(self.InputsLoaded(inputs))

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        shown = self.query_one("#message", Static)
        shown.update(Text(clean(message.text, 300)))
        shown.add_class("-error")
        self.post_message(ScreenSettled())  # the keys held for the form go on (to nothing)

    @on(InputsLoaded)
    def _inputs_loaded(self, message: InputsLoaded) -> None:
        self.inputs = message.inputs
        shown = self.query_one("#message", Static)
        sequences = self.query_one("#sequences", OptionList)
        if not message.inputs.sequences:
            shown.update(
                "No sequences synced from the CRM yet. Create one in HubSpot, then sync (r)."
            )
            self.post_message(ScreenSettled())
            return
        shown.display = False
        for seq in message.inputs.sequences:
            # Muted in the theme's colour, not "dim" (below 4.5:1 on light themes).
            steps = (f"  · {_plural(seq.steps, 'step')}", "$text-muted") if seq.steps else ""
            label = Content.assemble(clean(seq.name, 70), steps)  # plain text, never markup
            sequences.add_option(Option(label, id=seq.id))
        sequences.display = True
        sequences.highlighted = 0
        self.set_focus(sequences)
        self.refresh_bindings()
        self.post_message(ScreenSettled())  # the keys typed behind the s come here now

    # -- steps ----------------------------------------------------------------------------

    def _show(self, step: str) -> None:
        self.step = step
        self.query_one(ContentSwitcher).current = step
        self.query_one("#step-title", Static).update(STEP_TITLES[step])
        focus = {"sequence": "#sequences", "audience": "#audience", "preview": "#people"}[step]
        self.query_one(focus).focus()
        self._hide_typed()
        self.refresh_bindings()

    @on(OptionList.OptionSelected, "#sequences")
    def _sequence_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.sequence_id = event.option.id
        self._show_audiences()

    def _show_audiences(self) -> None:
        assert self.inputs is not None
        audience = self.query_one("#audience", OptionList)
        audience.clear_options()
        for key, label in AUDIENCES.items():
            n = sum(
                1
                for c in self.inputs.contacts
                if in_audience(c, key) and (key != "everyone" or c.email)
            )
            audience.add_option(
                Option(
                    Content.assemble(f"{label:<24}", (_plural(n, "contact"), "$text-muted")),
                    id=key,
                )
            )
        keys = list(AUDIENCES)
        audience.highlighted = keys.index(self.audience) if self.audience in keys else 0
        self._show("audience")

    @on(OptionList.OptionSelected, "#audience")
    def _audience_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.audience = event.option.id or "admins"
        self._show_plan()
        self._show("preview")

    def _show_plan(self) -> None:
        """Compute the plan for the chosen audience and show it in the preview."""
        assert self.inputs is not None and self.audience is not None
        self.plan = self.inputs.plan(self.audience, self.today, self.include_escalated)
        sequence = next(s for s in self.inputs.sequences if s.id == self.sequence_id)
        self.query_one("#summary", Static).update(
            preview_summary(self.plan, sequence.name, self.audience)
        )
        ok, out = self._theme_style("success"), self._theme_style("error")
        self.query_one("#people-table", Static).update(preview_people(self.plan, ok, out))

    def _hide_typed(self) -> None:
        typed = self.query_one("#typed")
        typed.remove_class("-shown")
        self.query_one("#typed-count", Input).value = ""
        self.query_one("#typed-prompt", Static).remove_class("-error")

    def _ask_typed(self, plan: EnrollmentPlan) -> None:
        """Show the input a large batch is confirmed with."""
        self.query_one("#typed").add_class("-shown")
        self.query_one("#typed-prompt", Static).update(typed_prompt(plan))
        self.query_one("#typed-count", Input).focus()
        self.refresh_bindings()

    def _theme_style(self, variable: str) -> Style:
        """A foreground style from the theme (rich tables cannot read $variables)."""
        try:
            return Style(color=Color.parse(self.app.theme_variables[variable]).rich_color)
        except (KeyError, ColorParseError):
            return Style()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":
            if self.step == "sequence":
                return self.inputs is not None and bool(self.inputs.sequences)
            return self.step == "audience"
        if action == "confirm":
            if self.step != "preview":
                return False
            if self.focused is self.query_one("#typed-count"):
                # The input's own enter (Submitted) confirms: it comes after the digits typed
                # before it, where a priority binding could run before they reached the input.
                return False
            return True if self.plan is not None and self.plan.included else None
        if action == "include_escalated":
            if self.step != "preview" or self.plan is None or not self.plan.escalated:
                return False
            return parameters != (self.include_escalated,)  # the one that changes something
        if action == "back":
            return self.step != "sequence"
        if action == "cancel":
            return self.step == "sequence"
        return True

    def action_choose(self) -> None:
        """Pick the highlighted sequence or audience."""
        target = "#sequences" if self.step == "sequence" else "#audience"
        self.query_one(target, OptionList).action_select()

    def action_confirm(self) -> None:
        """Dismiss the requests for everyone included; a large batch asks for its size first."""
        plan = self.plan
        if self.step != "preview" or plan is None or not plan.included:
            return
        assert self.sequence_id is not None
        if needs_typed_confirmation(plan):
            if not self.query_one("#typed").has_class("-shown"):
                self._ask_typed(plan)
                return
            typed = self.query_one("#typed-count", Input)
            if not typed_count_matches(plan, typed.value):
                prompt = self.query_one("#typed-prompt", Static)
                shown = clean(typed.value, 20) or "nothing"
                prompt.update(
                    f"You typed {shown}, not {len(plan.included)}: nothing was queued. "
                    + typed_prompt(plan)
                )
                prompt.add_class("-error")
                typed.value = ""
                typed.focus()
                return
        self.dismiss(enrollment_requests(plan, self.sequence_id))

    @on(Input.Submitted, "#typed-count")
    def _typed_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def action_include_escalated(self, include: bool) -> None:
        """Include or leave out the accounts with an open escalation; the preview follows."""
        if self.step != "preview" or self.plan is None or not self.plan.escalated:
            return
        self.include_escalated = include
        self._show_plan()
        self._hide_typed()  # the count to type may have changed
        self.query_one("#people").focus()
        self.refresh_bindings()

    def action_back(self) -> None:
        """One step back."""
        index = STEPS.index(self.step)
        if index > 0:
            self._show(STEPS[index - 1])

    def action_cancel(self) -> None:
        """Close without enrolling anyone."""
        self.dismiss(None)
