"""Saving: the action forms, their writes and the undo, and showing what a save changed.

Owned by the app (csm_tui/ui/app.py), whose message handlers call it. A form dismisses with a
typed draft (csm_tui/ui/drafts.py) or None; the draft is written in a thread worker, with the
account's rescore, which posts ActionDone (or ActionFailed) for ``done`` (``failed``) to show.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from textual.widgets import Footer

from csm_tui.store import views
from csm_tui.store.kept_connection import KeptConnection
from csm_tui.ui.host import CsmHost, thread_worker
from csm_tui.ui.messages import ActionDone, ActionFailed, ContactsLoaded
from csm_tui.ui.safe_text import clean
from csm_tui.ui.threads import cache_db, one_line

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils
    from textual.screen import Screen

    from csm_tui.store.actions import EnrollmentRequest
    from csm_tui.ui.drafts import NextStepDraft, SnoozeDraft, TouchDraft
    from csm_tui.ui.listing import Listing
    from csm_tui.ui.syncing import Syncing

SAVE_HOLD = 0.1  # at most this long the screen waits, after a save, to show its result at once
FORM_REMOVAL_DELAY = 0.5  # seconds after a save's result before its closed form leaves the DOM

T = TypeVar("T")


def _instant(moment: datetime) -> str:
    """An aware datetime as the cache's UTC instant string."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class Saving:
    """Opens the action forms, writes what they dismiss with, and shows the result."""

    def __init__(self, host: CsmHost, listing: Listing, syncing: Syncing) -> None:
        self.host = host
        self.listing = listing
        self.syncing = syncing
        self._writes = KeptConnection(host.opening.cache_path)  # the saves' connection
        self._closed_forms: list[tuple[str, Screen[Any]]] = []  # dismissed, still to remove
        self._screen_hold: ExitStack | None = None  # repaints held after a save (_hold_screen)

    def reopen(self, cache_path: Path) -> None:
        """Save to the cache at ``cache_path`` from now on."""
        self._writes.close()
        self._writes = KeptConnection(cache_path)

    def close(self) -> None:
        """The app is closing."""
        self.release_screen()
        self._writes.close()

    def warm_up(self) -> None:
        """Import what saving an action runs, while the user reads the list: done by the first
        save instead, the imports (the rescore's scoring code, ~30 ms) were on its path. In a
        thread: with the settings (pydantic) they are ~200 ms the keys should not wait for."""
        thread_worker(self.host, _import_the_writers, "warm-up")

    # -- the forms ------------------------------------------------------------------------

    def open_log_touch(self, account_id: str, account_name: str) -> None:
        """Open the log-touch form (its contacts are read in a worker first: ContactsLoaded)."""
        work = partial(self._read_contacts, account_id, account_name)
        thread_worker(self.host, work, "modal-data")

    def _read_contacts(self, account_id: str, account_name: str) -> None:
        from csm_tui.store.detail import contact_choices

        host = self.host
        try:
            with cache_db(host.opening.cache_path) as db:
                contacts = contact_choices(db, account_id)
        except Exception as exc:  # any failure is one line for the user, never a hung view
            host.post_message(ActionFailed(f"Cannot read the contacts: {one_line(exc)}"))
            return
        host.post_message(ContactsLoaded(account_id, account_name, contacts))

    def show_log_touch(self, message: ContactsLoaded) -> None:
        """The contacts are read: push the log-touch form."""
        from csm_tui.ui.screens.log_touch import LogTouchScreen

        account_id = message.account_id
        now = self.host.clock().astimezone()
        form = LogTouchScreen(clean(message.account_name, 80), message.contacts, now)
        self.push_form(form, lambda draft: self._write_touch(account_id, draft))

    def open_next_step(self, account_id: str, account_name: str) -> None:
        """Open the next-step form."""
        from csm_tui.ui.screens.next_step import NextStepScreen

        form = NextStepScreen(clean(account_name, 80), self.host.today)
        self.push_form(form, lambda draft: self._write_next_step(account_id, draft))

    def open_snooze(
        self, account_id: str, account_name: str, renewal_date: str | None = None
    ) -> None:
        """Open the snooze form (it questions a snooze past ``renewal_date``)."""
        from csm_tui.store.dates import cache_day
        from csm_tui.ui.screens.snooze import SnoozeScreen

        def snooze(draft: SnoozeDraft) -> None:
            self.snooze_account(account_id, draft.until, draft.reason or "")

        form = SnoozeScreen(clean(account_name, 80), self.host.today, cache_day(renewal_date))
        self.push_form(form, snooze)

    def open_enroll(self, account_ids: list[str]) -> None:
        """Open the enroll form for these accounts (it shows its own preview)."""
        from csm_tui.ui.screens.enroll import EnrollScreen

        host = self.host
        form = EnrollScreen(host.settings, list(account_ids), host.today)
        self.push_form(form, self._write_enroll)

    def push_form(self, screen: Screen[T | None], on_result: Callable[[T], object]) -> None:
        """Push a form; what it dismisses with goes to ``on_result`` (None: cancelled, nothing).

        A saved form is removed from the DOM only once its action's result is on screen:
        Textual re-lays out and repaints the whole screen below after removing a screen, and
        done at once that competed (UI thread and GIL) with the write and with showing its
        result. Textual never removes an installed screen when it is popped, so the form is
        installed under a name of its own until then.
        """
        host = self.host
        name = f"form-{id(screen)}"
        host.install_screen(screen, name)

        def closed(result: T | None) -> None:
            if result is not None:
                on_result(result)  # first: the write's worker starts as soon as this returns
            self._closed_forms.append((name, screen))
            # Its footer would rebuild its keys for the bindings of a screen nobody sees (a
            # form's footer is its own child: no CSS query needed to find it).
            for footer in [child for child in screen.children if isinstance(child, Footer)]:
                screen.bindings_updated_signal.unsubscribe(footer)
            if result is None:  # nothing to wait for
                host.call_after_refresh(self._remove_closed_forms)
            else:
                self._hold_screen()

        host.push_screen(screen, closed)
        # While the user reads the form, collect the garbage of the last one (a closed form is
        # some 10,000 objects): a full collection started by chance during the next save took
        # 20-30 ms of it.
        screen.call_after_refresh(gc.collect)

    def _hold_screen(self) -> None:
        """Hold repaints from a save until its result is shown (at most SAVE_HOLD seconds).

        Repainting the screen behind the closed form (the whole 160x48 of it) took the UI thread
        and the GIL while the write and the rescore ran, and the new row was painted in a frame
        of its own after that: held, the form's closing and the saved result are one frame,
        painted as soon as the result is there.
        """
        if self._screen_hold is not None:
            return
        self._screen_hold = ExitStack()
        self._screen_hold.enter_context(self.host.batch_update())
        self.host.set_timer(SAVE_HOLD, self.release_screen)

    def release_screen(self) -> None:
        """Paint again (see _hold_screen)."""
        hold, self._screen_hold = self._screen_hold, None
        if hold is not None:
            hold.close()

    def _remove_closed_forms(self) -> None:
        """Remove the forms that were dismissed (see push_form)."""
        closed, self._closed_forms = self._closed_forms, []
        for name, screen in closed:
            self.host.uninstall_screen(name)
            if screen.is_attached and screen not in self.host.screen_stack:
                screen.remove()

    # -- the writes -----------------------------------------------------------------------

    def _write_touch(self, account_id: str, draft: TouchDraft) -> None:
        def write(db: sqlite_utils.Database) -> str:
            from csm_tui.store import actions

            title = draft.next_step_title or None
            actions.log_touch(
                db,
                account_id=account_id,
                kind=draft.kind,
                summary=draft.summary,
                occurred_at=_instant(draft.occurred_at),
                contact_id=draft.contact_id or None,
                sentiment=draft.sentiment or None,
                next_step_title=title,
                next_step_due=draft.next_step_due if title else None,
            )
            if title:
                return "Touch and next step saved; they will be pushed on the next sync."
            return "Touch saved; it will be pushed on the next sync."

        self._start_write(account_id, write)

    def _write_next_step(self, account_id: str, draft: NextStepDraft) -> None:
        def write(db: sqlite_utils.Database) -> str:
            from csm_tui.store import actions

            actions.add_next_step(db, account_id=account_id, title=draft.title, due_date=draft.due)
            return "Next step saved; it will be pushed on the next sync."

        self._start_write(account_id, write)

    def change_step(
        self,
        account_id: str,
        step_id: str,
        *,
        done: bool | None = None,
        due: date | None = None,
        title: str | None = None,
    ) -> None:
        """Complete, reschedule or retitle a next step (in a worker; one outbox item)."""

        def write(db: sqlite_utils.Database) -> str:
            from csm_tui.store import actions

            actions.change_next_step(db, step_id=step_id, done=done, due_date=due, title=title)
            if done:
                what = "Step done"
            elif due is not None:
                what = f"Step moved to {due.isoformat()}"
            else:
                what = "Step retitled"
            return f"{what} (u undoes); the CRM task follows on the next sync."

        self._start_write(account_id, write)

    def snooze_account(self, account_id: str, until: date, reason: str = "") -> None:
        """Snooze an account until ``until`` (in a worker); its row leaves the list."""

        def write(db: sqlite_utils.Database) -> str:
            from csm_tui.store import actions

            actions.snooze(db, account_id=account_id, until=until, reason=reason)
            return f"Snoozed until {until.isoformat()} (u undoes)."

        self._start_write(account_id, write)

    def unsnooze_account(self, account_id: str) -> None:
        """End an account's snooze now (in a worker); it is back on the list."""
        today = self.host.today

        def write(db: sqlite_utils.Database) -> str:
            from csm_tui.store import actions

            until = actions.unsnooze(db, account_id=account_id, today=today)
            return f"Back on the list (it was snoozed until {until}; u undoes)."

        self._start_write(account_id, write)

    def _write_enroll(self, requests: list[EnrollmentRequest]) -> None:
        if not requests:
            self.host.post_message(
                ActionDone(None, "Nobody to enroll: every contact was excluded.")
            )
            return

        def write(db: sqlite_utils.Database) -> str:
            from csm_tui.store import actions

            actions.enroll(db, list(requests))
            return f"{len(requests)} enrollments queued; they will be pushed on the next sync."

        account_ids = {r.account_id for r in requests}
        self._start_write(None, write, clear_marks=True, account_ids=account_ids)

    def undo(self) -> None:
        """Take back the last local action not yet pushed (in a worker)."""
        thread_worker(self.host, self._undo, "write")

    def _undo(self) -> None:
        from csm_tui.store import actions

        host = self.host
        try:
            with cache_db(host.opening.cache_path) as db:
                undone = actions.undo_last(db)
                if undone is not None and undone.account_id:
                    self._rescore_quietly(db, {undone.account_id})
        except Exception as exc:
            host.post_message(ActionFailed(f"Undo failed: {one_line(exc)}"))
            return
        if undone is None:
            host.post_message(ActionDone(None, "Nothing to undo: every action was pushed."))
            return
        host.post_message(ActionDone(undone.account_id, f"Undid the {undone.description}."))

    def _start_write(
        self,
        account_id: str | None,
        write: Callable[[sqlite_utils.Database], str],
        *,
        clear_marks: bool = False,
        account_ids: set[str] | None = None,
    ) -> None:
        main = self.host.shown_main()
        # The row read back carries the last touch when the list is sorted by it (as its rows).
        by_touch = main is not None and main.attention.sort == "last_touch"
        work = partial(self._write, account_id, write, clear_marks, account_ids, by_touch)
        thread_worker(self.host, work, "write")

    def _write(
        self,
        account_id: str | None,
        write: Callable[[sqlite_utils.Database], str],
        clear_marks: bool,
        account_ids: set[str] | None,
        by_touch: bool = False,
    ) -> None:
        """Run ``write`` and the rescore in this worker thread, then tell the UI."""
        from csm_tui.store.detail import account_detail

        host = self.host
        row, detail, fresh, status = None, None, False, None
        try:
            with self._writes.use() as db:
                text = write(db)
                touched = account_ids or ({account_id} if account_id else set())
                text += self._rescore_quietly(db, touched)
                if account_id and not clear_marks:
                    # The one changed row and its detail, read here: the UI moves the row to its
                    # new rank instead of reading the whole book again.
                    row = views.attention_row(db, account_id, host.today, last_touch=by_touch)
                    detail = account_detail(db, account_id, host.today)
                    fresh = True
                status = views.status_info(db)  # the outbox count, without a worker of its own
                host.post_message(
                    ActionDone(
                        account_id,
                        text,
                        row=row,
                        reload=clear_marks,
                        fresh=fresh,
                        detail=detail,
                        status=status,
                    )
                )
                # After telling the UI: the WAL goes into the cache file (an fsync, up to a
                # tenth of a second), which the user need not wait for, and it stays small
                # although this connection stays open.
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # one line to the user, never a crash of the UI
            if status is None:  # else the save was told as done; only the checkpoint failed
                host.post_message(ActionFailed(f"Not saved: {one_line(exc)}"))

    def _rescore_quietly(self, db: sqlite_utils.Database, account_ids: set[str]) -> str:
        """Rescore; a failure here must not hide that the action itself was saved."""
        if not account_ids:
            return ""
        try:
            from csm_tui.store.rescore import rescore

            rescore(db, self.host.settings, self.host.today, account_ids=sorted(account_ids))
        except Exception as exc:
            return f" (Scores not refreshed: {one_line(exc)}; the next sync will.)"
        return ""

    # -- the results ----------------------------------------------------------------------

    def done(self, message: ActionDone) -> None:
        """Show what an action (or an undo) changed."""
        host = self.host
        # Removing the closed form re-lays out and repaints the whole screen: not in the frames
        # that show the result, nor in those right after (the user's next key).
        host.set_timer(FORM_REMOVAL_DELAY, self._remove_closed_forms)
        main = host.main
        if message.reload:
            main.attention.clear_marks()
        if self._show_fresh(message):
            self.release_screen()
            # The row and the detail first; the toast and the outbox count a frame later.
            host.call_after_refresh(self._confirm_action, message.text, message.status)
            return
        self.release_screen()
        host.notify(clean(message.text, 200), timeout=4)
        keep = message.account_id
        current = main.attention.current
        if keep is not None and main.attention.index_of(keep) is None and current is not None:
            keep = current.account_id  # e.g. undo of a snooze elsewhere: stay where we are
        self.listing.reload_rows(keep=keep)
        self.syncing.load_status()
        if message.account_id and self.listing.account_screens(message.account_id):
            self.listing.load_detail(message.account_id)

    def _confirm_action(self, text: str, status: views.StatusInfo | None) -> None:
        self.host.notify(clean(text, 200), timeout=4)
        if status is None:
            self.syncing.load_status()
        else:
            self.syncing.show_status(status)

    def _show_fresh(self, message: ActionDone) -> bool:
        """Show the action's account from the rows the worker read; False when the whole list
        must be read again (a segment or filter the change may move it in or out of, marks)."""
        account_id = message.account_id
        if not message.fresh or account_id is None or message.reload:
            return False
        main = self.host.main
        if main.segment or main.filter_text or main.snoozed_view:
            return False
        if not main.attention.rerank_row(account_id, message.row):
            return False
        main.update_view_bar()
        current = main.attention.current
        if message.detail is not None and current is not None and current.account_id == account_id:
            main.detail.show(message.detail, self.host.today)
        for screen in self.listing.account_screens(account_id):
            if message.detail is None:
                self.listing.load_detail(account_id)
            else:
                screen.show_detail(message.detail, self.host.today)
        return True

    def failed(self, message: ActionFailed) -> None:
        """An action (or a read) failed: say so in one line."""
        host = self.host
        self.release_screen()
        host.call_after_refresh(self._remove_closed_forms)
        host.notify(clean(message.text, 300), severity="error", timeout=8)
        if (main := host.shown_main()) is not None:
            main.update_view_bar()  # never leave it saying "loading…"


def _import_the_writers() -> None:
    """What a save runs, imported (see Saving.warm_up)."""
    import csm_tui.store.actions
    import csm_tui.store.rescore  # noqa: F401
