"""The sync and the status line that tells of it.

Owned by the app (csm_tui/ui/app.py), whose message handlers call it. A sync runs in a thread
worker that posts SyncProgressed and SyncFinished; the status line's numbers are read in a worker
too (StatusLoaded), every few seconds, which is how a sync made by another process (cron,
`csm-tui sync`) is noticed and its data shown.
"""

from __future__ import annotations

from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches

from csm_tui.errors import CsmError
from csm_tui.store import views
from csm_tui.sync.lock import SyncBusyError
from csm_tui.ui.host import CsmHost, thread_worker
from csm_tui.ui.messages import (
    ActionFailed,
    StatusLoaded,
    SyncFinished,
    SyncProgressed,
)
from csm_tui.ui.safe_text import clean
from csm_tui.ui.threads import one_line, reader

if TYPE_CHECKING:
    from csm_tui.sync.progress import SyncProgress
    from csm_tui.ui.listing import Listing

AUTO_SYNC_AFTER_MINUTES = 60  # a configured app syncs on open when the cache is older than this


def is_network_error(exc: BaseException) -> bool:
    """True when the sync failed because the network (or the service) was out of reach."""
    import httpx

    if isinstance(exc, SyncBusyError):
        return False  # another sync holds the workspace: nothing to do with the network
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        if isinstance(seen, httpx.TransportError | OSError):
            return True
        # `raise ... from None` hides the context: it is not the cause.
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    if getattr(exc, "offline", False):
        return True
    text = str(exc).lower()
    return any(
        word in text for word in ("network error", "unreachable", "connect", "offline", "timed out")
    )


class Syncing:
    """Runs the sync, shows its progress and outcome, and keeps the status line current."""

    def __init__(self, host: CsmHost, listing: Listing) -> None:
        self.host = host
        self.listing = listing
        self.running = False  # a sync of this app's own is under way
        self._status_loaded_once = False
        self._seen_sync: str | None = None  # the last success the status line showed
        self._own_sync_done = False  # our own sync already reloaded the list

    # -- the sync -------------------------------------------------------------------------

    def start(self, quick: bool = False) -> None:
        """Push the outbox and pull, in a worker; keys keep working meanwhile.

        ``quick`` (the sync on opening) gives up on an unreachable network after a short try, so
        the app says "offline" soon instead of retrying for a minute and a half.
        """
        if self.running:
            self.host.notify("A sync is already running.", timeout=3)
            return
        self.running = True
        status = self.host.main.status
        status.error = None
        status.show_progress("sync: starting", 0, None)
        self.redraw_status()
        thread_worker(self.host, partial(self._sync, quick), "sync", exclusive=True)

    def _sync(self, quick: bool) -> None:
        from csm_tui.sync.engine import sync_blocking

        host = self.host

        def progress(p: SyncProgress) -> None:
            host.post_message(
                SyncProgressed(p.stage, p.object, p.done or 0, p.total, p.message or "")
            )

        options: dict[str, Any] = dict(host.sync_options)
        if quick and "policy" not in options:
            from csm_tui.sources.http import HttpPolicy

            options["policy"] = HttpPolicy(attempts=2, retry_total_seconds=8.0, wait_max=2.0)
        try:
            transport = host.transport_factory() if host.transport_factory else None
            report = sync_blocking(
                host.settings, transport=transport, progress=progress, today=host.today, **options
            )
        except SyncBusyError:
            # A sync started elsewhere (csm-tui sync, cron) fills the cache: the list follows it.
            host.post_message(SyncFinished(None, None, False, busy=True))
            return
        except Exception as exc:  # every failure becomes one line in the UI, never a crash
            offline = is_network_error(exc)
            text = one_line(exc) if isinstance(exc, CsmError) else f"Sync failed: {one_line(exc)}"
            host.post_message(SyncFinished(None, text, offline))
            return
        host.post_message(SyncFinished(report, None, False))

    def progressed(self, message: SyncProgressed) -> None:
        """Show how far the sync is."""
        if message.stage == "crm" and message.object != "requests":
            return  # the CRM's objects go at once: its requests say how far it is
        if message.object == "requests" and message.message != "done":
            label = f"CRM {message.done}/{message.total} requests, {message.message}"
        else:
            label = f"{message.stage} {message.object}".strip()
        self.host.main.status.show_progress(label, message.done, message.total)

    def finished(self, message: SyncFinished) -> None:
        """Say how the sync ended; show what it brought."""
        from csm_tui.ui.screens.welcome import WelcomeScreen

        host = self.host
        self.running = False
        status = host.main.status
        status.hide_progress()
        if message.busy:
            host.notify(
                "Another sync is running (csm-tui sync or a scheduled one): the list shows what "
                "it brings as it lands.",
                timeout=6,
            )
            self.redraw_status()
            return
        if message.error:
            status.network = "offline" if message.offline else status.network
            status.error = message.error
            if message.offline:
                host.notify(
                    f"Offline: showing the cache. {clean(message.error, 200)}",
                    severity="warning",
                    timeout=8,
                )
            else:
                host.notify(clean(message.error, 300), severity="error", timeout=10)
        else:
            status.network = "online"
            status.error = None
            if isinstance(host.screen, WelcomeScreen):
                host.pop_screen()  # the first sync filled the cache: on to the list
            report = message.report
            host.notify(report.summary() if report is not None else "Synced.", timeout=4)
            self.listing.reload_rows(stay=True)
            self._own_sync_done = True
        self.load_status()

    # -- the status line ------------------------------------------------------------------

    def load_status(self) -> None:
        """Read the sync and outbox numbers in a worker."""
        thread_worker(self.host, self._read_status, "status", exclusive=True)

    def _read_status(self) -> None:
        host = self.host
        try:
            with reader(host.opening.cache_path) as db:
                info = views.status_info(db)
        except Exception as exc:  # any failure is one line for the user, never a hung view
            host.post_message(ActionFailed(f"Cannot read the cache: {one_line(exc)}"))
            return
        host.post_message(StatusLoaded(info))

    def watch_other_syncs(self) -> None:
        """Every few seconds: read the status again, to notice a sync made elsewhere."""
        if not self.running and self._status_loaded_once:
            self.load_status()

    def show_status(self, info: views.StatusInfo) -> None:
        """Show the sync and outbox numbers; notice a sync made by another process."""
        try:
            status = self.host.main.status
        except (LookupError, NoMatches):  # the app is closing: a late answer has no line to go on
            return
        status.info = info
        self.redraw_status()
        last = info.last_synced
        own, self._own_sync_done = self._own_sync_done, False
        if self._seen_sync is not None and last != self._seen_sync and not self.running and not own:
            # Another process (cron, `csm-tui sync`) synced: show what it brought.
            self.listing.show_new_data()
        self._seen_sync = last
        if not self._status_loaded_once:
            self._status_loaded_once = True
            self.host.with_settings(lambda: self._sync_if_due(info))

    def _sync_if_due(self, info: views.StatusInfo) -> None:
        if self._should_auto_sync(info):
            self.start(quick=True)

    def _sync_configured(self) -> bool:
        settings = self.host.settings
        return self.host.transport_factory is not None or (
            settings.crm.token is not None and settings.analytics.token is not None
        )

    def _should_auto_sync(self, info: views.StatusInfo) -> bool:
        if self.host.auto_sync is not None:
            return self.host.auto_sync
        if not self._sync_configured():
            return False
        last = views.parse_instant(info.last_synced)
        return (
            last is None
            or (self.host.clock() - last).total_seconds() > AUTO_SYNC_AFTER_MINUTES * 60
        )

    def redraw_status(self) -> None:
        """Redraw the status line ("synced 7 min ago" ages)."""
        with suppress(LookupError, NoMatches):  # not composed yet, or closing
            self.host.main.status.redraw(self.host.clock())
