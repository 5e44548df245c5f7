"""The account screen: everything about one account, scrollable."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer

from csm_tui.ui.keymap import ACCOUNT_BINDINGS
from csm_tui.ui.widgets.detail_pane import AccountView

if TYPE_CHECKING:
    from csm_tui.ui.app import CsmApp


class AccountScreen(Screen[None]):
    """One account in full; l/n/z/s act on it, escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [*ACCOUNT_BINDINGS]

    def __init__(self, account_id: str) -> None:
        super().__init__(classes="account-screen")
        self.account_id = account_id
        self.account_name = ""

    @property
    def csm(self) -> CsmApp:
        """The app, typed."""
        return cast("CsmApp", self.app)

    def compose(self) -> ComposeResult:
        yield AccountView(full=True, id="account-view")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.view.focus()
        self.csm.load_detail(self.account_id)

    @property
    def view(self) -> AccountView:
        """The account view."""
        return self.query_one(AccountView)

    def action_back(self) -> None:
        self.dismiss()

    def action_scroll_down(self) -> None:
        self.view.scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.view.scroll_up(animate=False)

    def action_log_touch(self) -> None:
        self.csm.start_log_touch(self.account_id, self.account_name)

    def action_next_step(self) -> None:
        self.csm.start_next_step(self.account_id, self.account_name)

    def action_snooze(self) -> None:
        self.csm.start_snooze(self.account_id, self.account_name)

    def action_enroll(self) -> None:
        self.csm.start_enroll([self.account_id])
