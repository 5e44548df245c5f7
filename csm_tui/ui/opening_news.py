"""What the app says once on opening, besides the list: what changed since the CSM last looked
(csm_tui/store/last_look.py) and, when the scoring settings changed since the last full rescore,
what the change would do (csm_tui/store/score_diff.py).

Owned by the app (csm_tui/ui/app.py); each is read in a thread worker and is a courtesy: when a
read fails, the app works the same without it (`csm-tui digest` and `score-diff` say it too).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

from csm_tui.errors import CsmError
from csm_tui.ui.host import CsmHost, thread_worker
from csm_tui.ui.messages import ScoringChangePreviewed, SinceLastLookLoaded
from csm_tui.ui.screens.account import AccountScreen

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils


@contextmanager
def _existing_cache(path: Path) -> Iterator[sqlite_utils.Database]:
    """The cache, never created here (CsmError or sqlite3.Error when it cannot be read)."""
    from csm_tui.store.db import open_cache

    db = open_cache(path, create=False)
    try:
        yield db
    finally:
        db.conn.close()


class OpeningNews:
    """The since-you-last-looked panel and the scoring-change notice, each shown once."""

    def __init__(self, host: CsmHost) -> None:
        self.host = host

    # -- the scoring settings changed ----------------------------------------------------

    def preview_scoring_change(self) -> None:
        """Read in a worker; ScoringChangePreviewed follows when there is something to say."""
        thread_worker(self.host, self._read_scoring_change, "scoring")

    def _read_scoring_change(self) -> None:
        from csm_tui.store.score_diff import preview_text, settings_change_preview

        settings = self.host.settings
        if not settings.cache_path.exists():
            return
        try:
            with _existing_cache(settings.cache_path) as db:
                diff = settings_change_preview(db, settings, self.host.today)
        except (CsmError, sqlite3.Error, ValueError):
            return  # the status line says what is wrong with the cache; the scores are untouched
        if diff is not None:
            self.host.post_message(ScoringChangePreviewed(preview_text(diff)))

    def scoring_change_previewed(self, message: ScoringChangePreviewed) -> None:
        self.host.notify(message.text, title="Scoring settings changed", timeout=20)

    # -- since you last looked ------------------------------------------------------------

    def read_last_look(self) -> None:
        """Read in a worker; SinceLastLookLoaded follows when something changed."""
        thread_worker(self.host, self._read_last_look, "last-look")

    def _read_last_look(self) -> None:
        from csm_tui.store.last_look import look_since_last_open

        try:
            with _existing_cache(self.host.opening.cache_path) as db:
                look = look_since_last_open(db, self.host.today)
        except (CsmError, sqlite3.Error):
            return
        if look.changes:
            self.host.post_message(SinceLastLookLoaded(look))

    def last_look_loaded(self, message: SinceLastLookLoaded) -> None:
        host = self.host
        if host.screen is not host.shown_main():
            return  # the CSM is already in a form: it is shown on the next opening
        from csm_tui.ui.screens.since import SinceScreen

        look = message.look
        host.push_screen(SinceScreen(look.changes, look.since), self._closed)
        thread_worker(host, partial(self._record, look.seen), "last-look")

    def _record(self, seen: tuple[str, ...]) -> None:
        """Remember that these changes were shown, so the next opening shows only news."""
        from csm_tui.store.last_look import record_look

        try:
            with _existing_cache(self.host.opening.cache_path) as db:
                record_look(db, self.host.today, seen)
        except (CsmError, sqlite3.Error):
            return

    def _closed(self, account_id: str | None) -> None:
        if account_id:
            self.host.push_screen(AccountScreen(account_id))
