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

from csm_tui.store.search import match_parts
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
    UnsnoozeRequested,
    ViewRequested,
)
from csm_tui.ui.safe_text import clean
from csm_tui.ui.widgets.attention_list import (
    SORT_TITLES,
    SORTS,
    AttentionList,
    snoozed_chip,
)
from csm_tui.ui.widgets.content_updates import update_if_changed
from csm_tui.ui.widgets.detail_pane import AccountView
from csm_tui.ui.widgets.list_export import LIST_VIEW_COLUMNS, LIST_VIEW_HEADERS, list_view_rows
from csm_tui.ui.widgets.stable_footer import StableFooter
from csm_tui.ui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from textual.timer import Timer

    from csm_tui.store.views import AttentionItem
    from csm_tui.ui.messages import RowsLoaded

NARROW_WIDTH = 110  # below this the detail pane goes under the list instead of beside it
FILTER_DEBOUNCE = 0.15  # seconds of no typing before the list follows the filter box


def view_bar_content(
    segment: str | None,
    text: str | None,
    shown: int,
    total: int,
    loading: bool,
    *,
    snoozed: bool = False,
    sort: str = "priority",
) -> Content:
    """'Segment All accounts · Filter "acme" · 12 of 300 accounts' (and the sort, when not by
    priority; 'Snoozed accounts' on the snoozed view)."""
    parts: list[str | tuple[str, str]] = [
        ("Snoozed accounts", "bold $warning") if snoozed else ("Segment ", "$text-muted"),
    ]
    if not snoozed:
        parts.append((clean(segment, 40) if segment else "All accounts", "bold $accent"))
    elif segment:
        parts += [(" in ", "$text-muted"), (clean(segment, 40), "bold $accent")]
    parts += [
        ("  Filter ", "$text-muted"),
        (f'"{clean(text, 40)}"' if text else "none", "bold $accent" if text else ""),
    ]
    if sort != "priority":
        parts += [("  Sort ", "$text-muted"), (SORT_TITLES.get(sort, sort), "bold $accent")]
    counted = "snoozed" if snoozed else "accounts"
    parts += [
        ("  ", ""),
        ("loading…" if loading else f"{shown:,} of {total:,} {counted}", "$text-muted"),
    ]
    return Content.assemble(*parts)


def match_line_content(item: AttentionItem | None) -> Content:
    """Under a filter, where the account under the cursor matched: 'snoozed to 12/15 · note:
    …the renewal call…' with the matched words picked out (never parsed as markup)."""
    if item is None:
        return Content("")
    parts: list[str | tuple[str, str]] = []
    snoozed = snoozed_chip(item)
    if snoozed:
        parts += [(snoozed, "bold $warning"), ("  ", "")]
    if item.match:
        for piece, hit in match_parts(item.match):
            parts.append((clean(piece, 200), "bold $accent" if hit else ""))
    else:
        parts.append(("matched in the name or domain", "$text-muted"))
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
        self.snoozed_view = False  # the snoozed accounts instead of the list
        self.total_accounts = 0  # in the cache, listed or not
        self.filter_debounce = FILTER_DEBOUNCE
        self._filter_timer: Timer | None = None
        self._filter_before: str | None = None  # the filter when / was pressed (escape: back)
        self._first_page = first_page

    def compose(self) -> ComposeResult:
        yield Static(view_bar_content(None, None, 0, 0, True), id="view-bar")
        match_line = Static("", id="match-line")
        match_line.display = False
        yield match_line
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
        if self.snoozed_view and self.filter_text:
            attention.empty_text = "No snoozed account matches. Press escape to clear the filter."
        elif self.snoozed_view:
            attention.empty_text = "No account is snoozed. Press Z to go back to the list."
        elif self.segment or self.filter_text:
            attention.empty_text = "No account matches. Press escape to show every account."
        else:
            attention.empty_text = "No accounts in the cache yet. Press r to sync."
        attention.set_rows(rows, keep=keep, name_width=name_width, announce=announce)
        self.update_match_line()

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
                snoozed=self.snoozed_view,
                sort=self.attention.sort,
            ),
        )

    def update_match_line(self) -> None:
        """Under a filter, say where the account under the cursor matched."""
        line = self.query_one("#match-line", Static)
        line.display = bool(self.filter_text)
        if line.display:
            update_if_changed(line, match_line_content(self.attention.current))

    # -- list events ----------------------------------------------------------------------

    @on(AttentionList.Highlighted)
    def _highlighted(self, event: AttentionList.Highlighted) -> None:
        self.post_message(AccountHighlighted(event.item.account_id if event.item else None))
        self.update_match_line()
        self.refresh_bindings()  # z snoozes, or unsnoozes a snoozed account

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
        if isinstance(self.focused, Input):  # a priority key: in the filter box, n is a letter
            raise SkipAction()
        if found := self._current():
            # To the app at once: it holds the keys typed behind the n for the form.
            self.app.post_message(NextStepRequested(*found))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # z snoozes an account, and brings back one that is snoozed (the footer says which).
        if action in ("snooze", "unsnooze"):
            item = self.attention.current
            snoozed = item is not None and item.snoozed_until is not None
            return snoozed if action == "unsnooze" else not snoozed
        return True

    def action_snooze(self) -> None:
        if isinstance(self.focused, Input):  # a priority key: in the filter box, z is a letter
            raise SkipAction()
        item = self.attention.current
        if item is None:
            self.notify("No account is highlighted.", severity="warning")
            return
        # To the app at once: it holds the keys typed behind the z for the form.
        self.app.post_message(SnoozeRequested(item.account_id, item.name, item.renewal_date))

    def action_unsnooze(self) -> None:
        if isinstance(self.focused, Input):
            raise SkipAction()
        item = self.attention.current
        if item is None or item.snoozed_until is None:
            self.notify("The account under the cursor is not snoozed.", severity="warning")
            return
        self.post_message(UnsnoozeRequested(item.account_id, item.name))

    def action_snoozed_view(self) -> None:
        """Show the snoozed accounts, or the list again."""
        self.snoozed_view = not self.snoozed_view
        self.post_message(ViewRequested(self.segment, self.filter_text))

    def action_cycle_sort(self) -> None:
        """Order the list by the next of priority, ARR, renewal, health and last touch."""
        attention = self.attention
        now = attention.sort
        sort = SORTS[(SORTS.index(now) + 1) % len(SORTS)] if now in SORTS else SORTS[0]
        attention.set_sort(sort)
        self.update_view_bar()
        if sort == "last_touch":
            # The list was read without each account's last touch: read it again with them
            # (sorted as they arrive, the cursor staying on its account).
            self.post_message(ViewRequested(self.segment, self.filter_text))

    def action_enroll(self) -> None:
        if isinstance(self.focused, Input):  # a priority key: in the filter box, s is a letter
            raise SkipAction()
        ids = self.attention.marked_ids()
        if not ids and (found := self._current()):
            ids = [found[0]]
        if ids:
            # To the app at once: it holds the keys typed behind the s for the form.
            self.app.post_message(EnrollRequested(ids))

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
        if isinstance(self.focused, Input):  # a priority key: in the filter box, f is a letter
            raise SkipAction()
        # To the app at once: it holds the keys typed behind the f for the chooser.
        self.app.post_message(SegmentChoiceRequested())

    def _filter_box(self) -> Input:
        """The filter box, mounted after the first frame (it cost that frame ~5 ms), hidden."""
        if box := self.query_one_optional("#filter-input", Input):
            return box
        box = Input(
            placeholder="Filter: words from a name, domain, contact, note, survey or ticket",
            id="filter-input",
        )
        box.display = False
        self.mount(box, before=self.status)
        return box

    def action_filter(self) -> None:
        if isinstance(self.focused, Input):  # a priority key: in the box, / is a character
            raise SkipAction()
        box = self._filter_box()
        self._filter_before = self.filter_text
        with box.prevent(Input.Changed):  # the filter it shows is the one in use
            box.value = self.filter_text or ""
        box.display = True
        # Focus now, not after the queued keys: whatever is typed right after / is the filter.
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self.query_one_optional("#filter-input", Input)
        if box is not None and box.display:
            # Escape in the box: back to the filter there was before the / (typing was live).
            box.display = False
            self.attention.focus()
            self._stop_filter_timer()
            if self.filter_text != self._filter_before:
                self.post_message(ViewRequested(self.segment, self._filter_before))
            return
        if self.filter_text or self.segment:
            self.post_message(ViewRequested(None, None))
        elif self.snoozed_view:
            self.action_snoozed_view()

    def _stop_filter_timer(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        """The list follows the box as the user types, once the keys pause (a fast typist's
        every letter is not a read of the book)."""
        event.stop()
        self._stop_filter_timer()
        text = event.value.strip() or None
        if self.filter_debounce <= 0:
            self._live_filter(text)
        else:
            self._filter_timer = self.set_timer(
                self.filter_debounce, lambda: self._live_filter(text)
            )

    def _live_filter(self, text: str | None) -> None:
        self._filter_timer = None
        if text != self.filter_text:
            self.post_message(ViewRequested(self.segment, text))

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.attention.focus()
        self._stop_filter_timer()
        text = event.value.strip() or None
        if text != self.filter_text:
            self.post_message(ViewRequested(self.segment, text))
