"""The account screen: everything about one account, scrollable."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer

from csm_tui.ui.keymap import ACCOUNT_BINDINGS
from csm_tui.ui.messages import (
    DetailRequested,
    EnrollRequested,
    LogTouchRequested,
    MoveSpanRequested,
    NextStepRequested,
    OpenInCrmRequested,
    SnoozeRequested,
)
from csm_tui.ui.widgets.detail_pane import AccountView

if TYPE_CHECKING:
    from csm_tui.store.detail import AccountDetail


class AccountScreen(Screen[None]):
    """One account in full; l/n/z/s act on it (posted to the app), escape goes back.

    The app reads the account's detail and shows it here (``show_detail``).
    """

    BINDINGS: ClassVar[list[BindingType]] = [*ACCOUNT_BINDINGS]

    def __init__(self, account_id: str) -> None:
        super().__init__(classes="account-screen")
        self.account_id = account_id
        self.account_name = ""
        self.renewal_date: str | None = None  # ISO, once the detail is read

    def compose(self) -> ComposeResult:
        yield AccountView(full=True, id="account-view")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.view.focus()
        self.post_message(DetailRequested(self.account_id))

    @property
    def view(self) -> AccountView:
        """The account view."""
        return self.query_one(AccountView)

    def show_detail(self, detail: AccountDetail | None, today: date) -> None:
        """Show the account as ``detail`` says (None: it is no longer in the cache)."""
        if detail is None:
            self.view.show_message("This account is no longer in the cache.")
        else:
            self.account_name = detail.name
            self.renewal_date = detail.renewal_date
            self.view.show(detail, today)

    def action_back(self) -> None:
        self.dismiss()

    def action_scroll_down(self) -> None:
        self.view.scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.view.scroll_up(animate=False)

    def action_log_touch(self) -> None:
        # To the app at once: it holds the keys typed behind the l for the form.
        self.app.post_message(LogTouchRequested(self.account_id, self.account_name))

    def action_next_step(self) -> None:
        # To the app at once (as l): it holds the keys typed behind the n for the form.
        self.app.post_message(NextStepRequested(self.account_id, self.account_name))

    def action_snooze(self) -> None:
        self.app.post_message(
            SnoozeRequested(self.account_id, self.account_name, self.renewal_date)
        )

    def action_open_in_crm(self) -> None:
        self.post_message(OpenInCrmRequested(self.account_id))

    def action_enroll(self) -> None:
        self.app.post_message(EnrollRequested([self.account_id]))  # held keys: see l

    def action_move_span(self) -> None:
        self.post_message(MoveSpanRequested())
