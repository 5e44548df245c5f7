"""The attention list and the detail: reading them in workers, showing them on the screens.

Owned by the app (csm_tui/ui/app.py), whose message handlers call it. The main screen owns what
it shows (segment, filter, rows: csm_tui/ui/screens/main.py); this part reads the rows for the
view the main screen is on, and the detail of the account under the cursor or on the account
screen, and hands them down.
"""

from __future__ import annotations

import gc
from functools import partial
from typing import TYPE_CHECKING

from textual.css.query import NoMatches

from csm_tui.domain.segments import find_segment
from csm_tui.store import views
from csm_tui.ui.host import CsmHost, thread_worker
from csm_tui.ui.messages import ActionFailed, DetailLoaded, MovesLoaded, RowsLoaded
from csm_tui.ui.screens.account import AccountScreen
from csm_tui.ui.threads import cache_db, one_line, reader

if TYPE_CHECKING:
    import sqlite3

    from textual.timer import Timer

    from csm_tui.domain.segments import Segment

FIRST_PAGE = 150  # rows read first on opening: more than any terminal shows at once


def _settle_heap() -> None:
    """Keep the objects alive now (modules, widgets, the book's rows) out of the collector's scans.

    Python's full (generation 2) collection walks every tracked object: with a 10,000-account
    list that took 60-140 ms of frozen UI every few actions, whenever it happened to strike.
    gc.freeze() moves what exists now to a generation the collector skips (it costs nothing:
    no scan); objects freed later by reference counting are freed as usual, and the app's exit
    unfreezes. Called when a whole list has been shown: rows from earlier lists are freed then.
    """
    gc.freeze()


class Listing:
    """Reads the ranked list and the account detail; shows them on the main and account screens."""

    def __init__(self, host: CsmHost) -> None:
        self.host = host
        self._generation = 0  # of the latest request for rows: older answers are dropped
        self._keep: str | None = None
        self._stay = False  # keep whichever account is current when the rows arrive
        self._first_rows = True
        self._first_page_of = 0  # the generation whose first page is shown
        self._detail_timer: Timer | None = None
        self.move_weeks = 4  # the span of "Why it moved" (domain.score_change.DEFAULT_SPAN)

    # -- the rows -------------------------------------------------------------------------

    def first_page(self) -> RowsLoaded | None:
        """Opening: one screen of rows, read here, for the main screen's first frame (None when
        the book is smaller: the worker reads it whole once that frame is drawn).

        One indexed query, a few ms even at 10,000 accounts: cheaper than a worker thread,
        which would share the GIL with building the screen and answer late.
        """
        from csm_tui.ui.widgets.attention_list import name_width_of

        self._generation += 1
        try:
            with reader(self.host.opening.cache_path) as db:
                total = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
                top = views.attention_rows(db, self.host.today, limit=FIRST_PAGE, last_touch=False)
        except Exception:  # the worker's whole read says what is wrong, once
            return None
        if len(top) < FIRST_PAGE:
            return None
        self._first_page_of = self._generation  # the main screen shows it as it is built
        return RowsLoaded(top, self._generation, int(total), name_width_of(top), True)

    def read_whole_book(self) -> None:
        """Once the main screen's first frame is drawn: the whole list (unless asked for since)."""
        main = self.host.shown_main()
        if self._generation == 1 and self._first_rows and main is not None:
            self._load_rows(1, main.segment, main.filter_text, main.snoozed_view, False)

    def reload_rows(self, keep: str | None = None, *, stay: bool = False) -> None:
        """Read the ranked list again (in a worker), keeping the cursor on ``keep``, or with
        ``stay`` on the account current when the rows arrive (the user may move meanwhile)."""
        self._generation += 1
        self._keep = keep
        self._stay = stay
        main = self.host.shown_main()
        if main is not None:
            main.update_view_bar(loading=True)
        if main is None:
            self._load_rows(self._generation, None, None, False, False)
        else:
            # The last touch is read only to sort by it (it costs a third of the read).
            by_touch = main.attention.sort == "last_touch"
            view = (main.segment, main.filter_text, main.snoozed_view)
            self._load_rows(self._generation, *view, by_touch)

    def _load_rows(
        self,
        generation: int,
        segment: str | None,
        text: str | None,
        snoozed: bool,
        last_touch: bool,
    ) -> None:
        work = partial(self._read_rows, generation, segment, text, snoozed, last_touch)
        thread_worker(self.host, work, "rows", exclusive=True)

    def _read_rows(
        self,
        generation: int,
        segment: str | None,
        text: str | None,
        snoozed: bool,
        last_touch: bool,
    ) -> None:
        from csm_tui.ui.widgets.attention_list import name_width_of

        host = self.host
        try:
            with reader(host.opening.cache_path) as db:
                total = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
                ids = self._segment_ids(db, segment) if segment else None
                if text:
                    from csm_tui.store.search import refresh_if_free

                    refresh_if_free(db)  # rows written and not indexed yet (seldom any)
                if snoozed:
                    total = db.execute(
                        "SELECT COUNT(*) FROM snoozes z JOIN accounts a ON a.id = z.account_id "
                        "WHERE a.archived = 0 AND z.until > ?",
                        [host.today.isoformat()],
                    ).fetchone()[0]
                rows = views.attention_rows(
                    db,
                    host.today,
                    text=text,
                    account_ids=ids,
                    snoozed=snoozed,
                    last_touch=last_touch,
                )
        except Exception as exc:  # any failure is one line for the user, never a hung view
            host.post_message(ActionFailed(f"Cannot read the cache: {one_line(exc)}"))
            return
        host.post_message(RowsLoaded(rows, generation, int(total), name_width_of(rows)))

    def set_view(self, segment: str | None, text: str | None) -> None:
        """Show ``segment`` (None: every account) filtered by ``text`` (None: unfiltered)."""
        main = self.host.shown_main()
        if main is not None:
            if segment != main.segment:
                # A segment of opportunities ranks them by strength; leaving it, by priority.
                found = find_segment(segment, self.segments()) if segment else None
                if found is not None and found.opportunity:
                    main.attention.sort = "expansion"
                elif main.attention.sort == "expansion":
                    main.attention.sort = "priority"
            main.set_view(segment, text)
        self.reload_rows()

    def choose_segment(self) -> None:
        """Open the segment chooser; show the segment chosen."""
        from csm_tui.ui.screens.segment import SegmentScreen

        main = self.host.main

        def chosen(name: str | None) -> None:
            # The screen dismisses None for "cancel" and for "all accounts" alike; both mean:
            # keep the filter text, show the chosen segment (or none).
            self.set_view(name or None, main.filter_text)

        self.host.push_screen(SegmentScreen(self.segment_names(), main.segment), chosen)

    def segment_names(self) -> list[str]:
        """Built-in segments and the user's own, in that order."""
        return [s.name for s in self.segments()]

    def segments(self) -> list[Segment]:
        """Built-in segments and the user's own, in that order."""
        from csm_tui.store.attention import segments_of

        return segments_of(self.host.settings)

    def _segment_ids(self, conn: sqlite3.Connection, segment: str) -> list[str]:
        """Account ids in ``segment``, ranked."""
        import sqlite_utils  # the segment rules read through sqlite-utils; the opening does not

        from csm_tui.store.attention import attention_list

        db = sqlite_utils.Database(conn)
        found = attention_list(db, self.host.settings, self.host.today, segment=segment)
        return [row.account_id for row in found]

    def rows_loaded(self, message: RowsLoaded) -> bool:
        """Show rows a worker read; True when they are the first whole book shown."""
        if message.generation != self._generation:
            return False  # an older request answered late
        main = self.host.shown_main()
        if main is None:  # quitting: the rows came back after the main screen went
            return False
        attention = main.attention
        keep = self._keep
        if self._stay and attention.current is not None:
            keep = attention.current.account_id
        main.show_rows(
            message.rows,
            message.total_accounts,
            keep=keep,
            name_width=message.name_width,
            announce=message.generation != self._first_page_of,
        )
        main.update_view_bar(loading=message.first_page)
        if message.first_page:
            self._first_page_of = message.generation  # the whole list follows: same data
            return False
        _settle_heap()
        if not message.rows:
            main.detail.show_message(attention.empty_text)
        elif self._stay and attention.current is not None:
            self.load_detail(attention.current.account_id)  # what the new data says of it
        first, self._first_rows = self._first_rows, False
        return first

    def show_new_data(self) -> None:
        """A sync (here or in another process) brought new data: read the list again, staying
        on the account the user is on."""
        try:
            self.host.main.attention  # noqa: B018 - is the main screen there?
        except (LookupError, NoMatches):  # the main screen is not composed yet, or is closing
            return
        self.reload_rows(stay=True)

    # -- the detail -----------------------------------------------------------------------

    def schedule_detail(self, account_id: str | None) -> None:
        """Load the detail once the cursor rests (a fast j-j-j reads only the last one)."""
        if self._detail_timer is not None:
            self._detail_timer.stop()
        if account_id is None:
            return
        if self.host.detail_debounce <= 0:
            self.load_detail(account_id)
            return
        self._detail_timer = self.host.set_timer(
            self.host.detail_debounce, lambda: self.load_detail(account_id)
        )

    def load_detail(self, account_id: str) -> None:
        """Read one account's detail in a worker."""
        thread_worker(self.host, partial(self._read_detail, account_id), "detail", exclusive=True)

    def _read_detail(self, account_id: str) -> None:
        from csm_tui.store.detail import account_detail  # not needed for the first frame

        host = self.host
        try:
            with cache_db(host.opening.cache_path) as db:
                detail = account_detail(db, account_id, host.today)
        except Exception as exc:  # any failure is one line for the user, never a hung view
            host.post_message(ActionFailed(f"Cannot read the account: {one_line(exc)}"))
            return
        host.post_message(DetailLoaded(account_id, detail))

    def detail_loaded(self, message: DetailLoaded) -> None:
        """Show a detail a worker read, wherever its account is shown."""
        today = self.host.today
        for screen in self.account_screens(message.account_id):
            screen.show_detail(message.detail, today)
        main = self.host.shown_main()
        if main is None:  # quitting: the detail came back after the main screen went
            return
        current = main.attention.current
        if current is None or current.account_id != message.account_id:
            return  # the cursor moved on
        if message.detail is None:
            main.detail.show_message("This account is no longer in the cache.")
        else:
            main.detail.show(message.detail, today)

    # -- why the health moved --------------------------------------------------------------

    def load_moves(self, account_id: str) -> None:
        """Read why the account's health moved over the current span, in a worker."""
        work = partial(self._read_moves, account_id, self.move_weeks)
        thread_worker(self.host, work, "moves")

    def _read_moves(self, account_id: str, weeks: int) -> None:
        from csm_tui.store.score_changes import score_change_since  # not for the first frame

        host = self.host
        try:
            settings = host.settings
            with cache_db(host.opening.cache_path) as db:
                change = score_change_since(db, settings, account_id, weeks, host.today)
        except Exception as exc:  # one line for the user; the section says it has nothing
            host.post_message(ActionFailed(f"Cannot explain the score: {one_line(exc)}"))
            change = None
        host.post_message(MovesLoaded(account_id, weeks, change))

    def moves_loaded(self, message: MovesLoaded) -> None:
        """Show why an account's health moved wherever the account is shown."""
        if message.weeks != self.move_weeks:  # read for a span since left
            return
        for screen in self.account_screens(message.account_id):
            screen.view.show_moves(message.account_id, message.weeks, message.change)
        main = self.host.shown_main()
        current = None if main is None else main.attention.current
        if main is not None and current is not None and current.account_id == message.account_id:
            main.detail.show_moves(message.account_id, message.weeks, message.change)

    def next_move_span(self) -> None:
        """Explain over the next span (1, 4, 13 weeks), for the accounts shown."""
        from csm_tui.domain.score_change import SPANS

        at = SPANS.index(self.move_weeks) if self.move_weeks in SPANS else -1
        self.move_weeks = SPANS[(at + 1) % len(SPANS)]
        shown = {s.account_id for s in self.host.screen_stack if isinstance(s, AccountScreen)}
        main = self.host.shown_main()
        current = None if main is None else main.attention.current
        if current is not None and current.account_id:
            shown.add(current.account_id)
        for account_id in sorted(shown):
            for screen in self.account_screens(account_id):
                screen.view.moves_pending(self.move_weeks)
            if main is not None and current is not None and current.account_id == account_id:
                main.detail.moves_pending(self.move_weeks)
            self.load_moves(account_id)

    def account_screens(self, account_id: str) -> list[AccountScreen]:
        """The account screens open on ``account_id``."""
        return [
            screen
            for screen in self.host.screen_stack
            if isinstance(screen, AccountScreen) and screen.account_id == account_id
        ]
