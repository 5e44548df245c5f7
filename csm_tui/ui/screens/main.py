"""The main screen: the ranked attention list beside the detail pane, a filter box, the status line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar

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
from csm_tui.ui.messages import (
    AccountHighlighted,
    DueQueueRequested,
    EnrollRequested,
    ExportRequested,
    LogTouchRequested,
    MainScreenReady,
    MoveSpanRequested,
    NextStepRequested,
    OpenAccountRequested,
    OpenInCrmRequested,
    SegmentChoiceRequested,
    SnoozeRequested,
    ViewRequested,
)
from csm_tui.ui.safe_text import clean
from csm_tui.ui.widgets.attention_list import AttentionList
from csm_tui.ui.widgets.content_updates import update_if_changed
from csm_tui.ui.widgets.detail_pane import AccountView
from csm_tui.ui.widgets.list_export import LIST_VIEW_COLUMNS, LIST_VIEW_HEADERS, list_view_rows
from csm_tui.ui.widgets.stable_footer import StableFooter
from csm_tui.ui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from csm_tui.store.views import AttentionItem
    from csm_tui.ui.messages import RowsLoaded

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
    """The morning view: who needs you today, and why.

    It owns what it shows (the segment, the filter, the rows); the app reads the rows for it and
    shows them here. Whatever the user asks of it that is not its own to do, it posts as a
    message (csm_tui.ui.messages) for the app to route.
    """

    BINDINGS: ClassVar[list[BindingType]] = [*MAIN_BINDINGS]

    def __init__(
        self,
        today: date,
        clock: Callable[[], datetime],
        first_page: RowsLoaded | None = None,
    ) -> None:
        """``first_page``: the top of the list, read before the screen was built so that its
        first frame shows them (the rest follows once it is up: MainScreenReady)."""
        super().__init__(id="main")
        self.today = today
        self.clock = clock
        self.segment: str | None = None  # the segment shown (None: every account)
        self.filter_text: str | None = None  # the filter (None: none)
        self.total_accounts = 0  # in the cache, listed or not
        self._first_page = first_page

    def compose(self) -> ComposeResult:
        yield Static(view_bar_content(None, None, 0, 0, True), id="view-bar")
        with Horizontal(id="main-body"):
            yield AttentionList(self.today, id="attention")
            yield AccountView(id="detail")
        yield StatusLine(id="status")
        yield StableFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(AttentionList).focus()
        first, self._first_page = self._first_page, None
        if first is not None:
            self.show_rows(first.rows, first.total_accounts, name_width=first.name_width)
            self.update_view_bar(loading=True)  # the whole list follows
        self.post_message(MainScreenReady())
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

    def set_view(self, segment: str | None, text: str | None) -> None:
        """Show ``segment`` filtered by ``text`` from now on (the app reads the rows for it)."""
        self.segment = segment
        self.filter_text = text

    def show_rows(
        self,
        rows: list[AttentionItem],
        total_accounts: int,
        *,
        keep: str | None = None,
        name_width: int | None = None,
        announce: bool = True,
    ) -> None:
        """Show ``rows`` (of ``total_accounts`` in the cache), the cursor on ``keep`` if it is
        listed (AttentionList.set_rows says what ``name_width`` and ``announce`` are)."""
        self.total_accounts = total_accounts
        attention = self.attention
        if self.segment or self.filter_text:
            attention.empty_text = "No account matches. Press escape to show every account."
        else:
            attention.empty_text = "No accounts in the cache yet. Press r to sync."
        attention.set_rows(rows, keep=keep, name_width=name_width, announce=announce)

    def update_view_bar(self, loading: bool = False) -> None:
        """Show the current segment, filter and counts."""
        update_if_changed(
            self.query_one("#view-bar", Static),
            view_bar_content(
                self.segment,
                self.filter_text,
                len(self.attention.rows),
                self.total_accounts,
                loading,
            ),
        )

    # -- list events ----------------------------------------------------------------------

    @on(AttentionList.Highlighted)
    def _highlighted(self, event: AttentionList.Highlighted) -> None:
        self.post_message(AccountHighlighted(event.item.account_id if event.item else None))

    @on(AttentionList.Selected)
    def _selected(self, event: AttentionList.Selected) -> None:
        self.post_message(OpenAccountRequested(event.item.account_id))

    @on(AttentionList.MarksChanged)
    def _marks(self, event: AttentionList.MarksChanged) -> None:
        self.status.marked = event.count
        self.status.redraw(self.clock())

    # -- actions --------------------------------------------------------------------------

    def _current(self) -> tuple[str, str] | None:
        item = self.attention.current
        if item is None:
            self.notify("No account is highlighted.", severity="warning")
            return None
        return item.account_id, item.name

    def action_open_account(self) -> None:
        if found := self._current():
            self.post_message(OpenAccountRequested(found[0]))

    def action_log_touch(self) -> None:
        if isinstance(self.focused, Input):  # a priority key: in the filter box, l is a letter
            raise SkipAction()
        if found := self._current():
            # To the app at once: it holds the keys typed behind the l for the form.
            self.app.post_message(LogTouchRequested(*found))

    def action_next_step(self) -> None:
        if found := self._current():
            self.post_message(NextStepRequested(*found))

    def action_snooze(self) -> None:
        if found := self._current():
            self.post_message(SnoozeRequested(*found))

    def action_enroll(self) -> None:
        ids = self.attention.marked_ids()
        if not ids and (found := self._current()):
            ids = [found[0]]
        if ids:
            self.post_message(EnrollRequested(ids))

    def action_move_span(self) -> None:
        self.post_message(MoveSpanRequested())

    def action_open_in_crm(self) -> None:
        if found := self._current():
            self.post_message(OpenInCrmRequested(found[0]))

    def action_due_queue(self) -> None:
        if isinstance(self.focused, Input):  # a priority key: in the filter box, d is a letter
            raise SkipAction()
        # To the app at once: it holds the keys typed behind the d for the queue.
        self.app.post_message(DueQueueRequested())

    def action_export(self) -> None:
        """The list as shown (segment, filter, order) as a CSV file."""
        view = "attention-list"
        if self.segment or self.filter_text:
            view += "-filtered"
        rows = list_view_rows(self.attention.rows)
        self.post_message(ExportRequested(view, LIST_VIEW_HEADERS, LIST_VIEW_COLUMNS, rows))

    def action_segment(self) -> None:
        self.post_message(SegmentChoiceRequested())

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
        box.value = self.filter_text or ""
        box.display = True
        # Focus now, not after the queued keys: whatever is typed right after / is the filter.
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self.query_one_optional("#filter-input", Input)
        if box is not None and box.display:
            box.display = False
            self.attention.focus()
            return
        if self.filter_text or self.segment:
            self.post_message(ViewRequested(None, None))

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.attention.focus()
        self.post_message(ViewRequested(self.segment, event.value.strip() or None))
