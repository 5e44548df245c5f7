"""The main screen: the ranked attention list beside the detail pane, a filter box, the status line."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Input, Static

from csm_tui.ui.keymap import MAIN_BINDINGS
from csm_tui.ui.safe_text import clean
from csm_tui.ui.widgets.attention_list import AttentionList
from csm_tui.ui.widgets.content_updates import update_if_changed
from csm_tui.ui.widgets.detail_pane import AccountView
from csm_tui.ui.widgets.stable_footer import StableFooter
from csm_tui.ui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from csm_tui.ui.app import CsmApp

NARROW_WIDTH = 110  # below this the detail pane goes under the list instead of beside it


def view_bar_content(
    segment: str | None, text: str | None, shown: int, total: int, loading: bool
) -> Content:
    """'Segment All accounts · Filter "acme" · 12 of 300 accounts'."""
    parts: list[str | tuple[str, str]] = [
        ("Segment ", "$text-muted"),
        (clean(segment, 40) if segment else "All accounts", "bold $accent"),
        ("  Filter ", "$text-muted"),
        (f'"{clean(text, 40)}"' if text else "none", "bold $accent" if text else ""),
        ("  ", ""),
        ("loading…" if loading else f"{shown:,} of {total:,} accounts", "$text-muted"),
    ]
    return Content.assemble(*parts)


class MainScreen(Screen[None]):
    """The morning view: who needs you today, and why."""

    BINDINGS: ClassVar[list[BindingType]] = [*MAIN_BINDINGS]

    def __init__(self, today: date) -> None:
        super().__init__(id="main")
        self.today = today

    @property
    def csm(self) -> CsmApp:
        """The app, typed."""
        return cast("CsmApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(view_bar_content(None, None, 0, 0, True), id="view-bar")
        with Horizontal(id="main-body"):
            yield AttentionList(self.today, id="attention")
            yield AccountView(id="detail")
        yield StatusLine(id="status")
        yield StableFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(AttentionList).focus()
        self.csm.main_screen_ready()
        # Ready before anyone can press /: keys typed right after it go to the box only if it
        # is mounted by then (a box mounted by the / itself lost them).
        self.call_after_refresh(self._filter_box)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW_WIDTH, "-narrow")

    @property
    def attention(self) -> AttentionList:
        """The list widget."""
        return self.query_one(AttentionList)

    @property
    def detail(self) -> AccountView:
        """The detail pane."""
        return self.query_one("#detail", AccountView)

    @property
    def status(self) -> StatusLine:
        """The status line."""
        return self.query_one(StatusLine)

    def update_view_bar(self, loading: bool = False) -> None:
        """Show the current segment, filter and counts."""
        app = self.csm
        update_if_changed(
            self.query_one("#view-bar", Static),
            view_bar_content(
                app.segment, app.filter_text, len(self.attention.rows), app.total_accounts, loading
            ),
        )

    # -- list events ----------------------------------------------------------------------

    @on(AttentionList.Highlighted)
    def _highlighted(self, event: AttentionList.Highlighted) -> None:
        self.csm.schedule_detail(event.item.account_id if event.item else None)

    @on(AttentionList.Selected)
    def _selected(self, event: AttentionList.Selected) -> None:
        self.csm.open_account(event.item.account_id)

    @on(AttentionList.MarksChanged)
    def _marks(self, event: AttentionList.MarksChanged) -> None:
        self.status.marked = event.count
        self.csm.redraw_status()

    # -- actions --------------------------------------------------------------------------

    def _current(self) -> tuple[str, str] | None:
        item = self.attention.current
        if item is None:
            self.notify("No account is highlighted.", severity="warning")
            return None
        return item.account_id, item.name

    def action_open_account(self) -> None:
        if found := self._current():
            self.csm.open_account(found[0])

    def action_log_touch(self) -> None:
        if found := self._current():
            self.csm.start_log_touch(*found)

    def action_next_step(self) -> None:
        if found := self._current():
            self.csm.start_next_step(*found)

    def action_snooze(self) -> None:
        if found := self._current():
            self.csm.start_snooze(*found)

    def action_enroll(self) -> None:
        ids = self.attention.marked_ids()
        if not ids and (found := self._current()):
            ids = [found[0]]
        if ids:
            self.csm.start_enroll(ids)

    def action_segment(self) -> None:
        self.csm.start_segment()

    def _filter_box(self) -> Input:
        """The filter box, mounted after the first frame (it cost that frame ~5 ms), hidden."""
        if box := self.query_one_optional("#filter-input", Input):
            return box
        box = Input(placeholder="Filter: a word from a name, domain or note", id="filter-input")
        box.display = False
        self.mount(box, before=self.status)
        return box

    def action_filter(self) -> None:
        if isinstance(self.focused, Input):  # a priority key: in the box, / is a character
            raise SkipAction()
        box = self._filter_box()
        box.value = self.csm.filter_text or ""
        box.display = True
        # Focus now, not after the queued keys: whatever is typed right after / is the filter.
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self.query_one_optional("#filter-input", Input)
        if box is not None and box.display:
            box.display = False
            self.attention.focus()
            return
        if self.csm.filter_text or self.csm.segment:
            self.csm.set_view(segment=None, text=None)

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.attention.focus()
        self.csm.set_view(segment=self.csm.segment, text=event.value.strip() or None)
