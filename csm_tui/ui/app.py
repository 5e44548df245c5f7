"""The csm-tui app: coordinates screens, workers and messages.

Threading (DESIGN.md section 2): every database read or write, every rescore and every sync runs
in a thread worker with its own SQLite connection; workers post messages (csm_tui.ui.messages)
and the handlers here are the only code that touches widgets.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from csm_tui.errors import CsmError
from csm_tui.opening import Opening
from csm_tui.store import views
from csm_tui.store.db import open_cache, open_connection
from csm_tui.store.kept_connection import KeptConnection
from csm_tui.sync.lock import SyncBusyError
from csm_tui.ui.keymap import APP_BINDINGS, check_keymap, help_rows
from csm_tui.ui.messages import (
    ActionDone,
    ActionFailed,
    DetailLoaded,
    RowsLoaded,
    StatusLoaded,
    SyncFinished,
    SyncProgressed,
)
from csm_tui.ui.palette import CsmCommands
from csm_tui.ui.safe_text import clean
from csm_tui.ui.screens.account import AccountScreen
from csm_tui.ui.screens.main import MainScreen
from csm_tui.ui.themes import (
    DEFAULT_THEME,
    VARIABLE_DEFAULTS,
    load_themes,
    save_theme,
    saved_theme,
    shipped_themes_dir,
    user_themes_dir,
)

if TYPE_CHECKING:
    import sqlite3

    import sqlite_utils

    from csm_tui.config import Settings

FIRST_PAGE = 150  # rows read first on opening: more than any terminal shows at once
DETAIL_DEBOUNCE = 0.12  # seconds the cursor must rest before the detail is read
SAVE_HOLD = 0.1  # at most this long the screen waits, after a save, to show its result at once
FORM_REMOVAL_DELAY = 0.5  # seconds after a save's result before its closed form leaves the DOM
STATUS_REFRESH = 30.0  # seconds between redraws of "synced N min ago"
SYNC_WATCH_SECONDS = 5.0  # how often the open app looks for a sync made elsewhere
AUTO_SYNC_AFTER_MINUTES = 60  # a configured app syncs on open when the cache is older than this

Clock = Callable[[], datetime]
TransportFactory = Callable[[], Any]


def _settle_heap() -> None:
    """Keep the objects alive now (modules, widgets, the book's rows) out of the collector's scans.

    Python's full (generation 2) collection walks every tracked object: with a 10,000-account
    list that took 60-140 ms of frozen UI every few actions, whenever it happened to strike.
    gc.freeze() moves what exists now to a generation the collector skips (it costs nothing:
    no scan); objects freed later by reference counting are freed as usual, and the app's exit
    unfreezes. Called when a whole list has been shown: rows from earlier lists are freed then.
    """
    gc.freeze()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _instant(moment: datetime) -> str:
    """An aware datetime as the cache's UTC instant string."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _one_line(exc: BaseException) -> str:
    """The first line of an error; unexpected errors (not CsmError) are named by their type."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if not isinstance(exc, CsmError):
        first = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return clean(first, 200)


def _is_network_error(exc: BaseException) -> bool:
    """True when the sync failed because the network (or the service) was out of reach."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return False
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


class CsmApp(App[int]):
    """Keyboard-driven triage of a CSM's book from the local cache."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it
    TITLE = "csm-tui"
    BINDINGS: ClassVar[list[BindingType]] = [*APP_BINDINGS]
    COMMANDS = App.COMMANDS | {CsmCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        settings: Settings | Opening,
        *,
        settings_loader: Callable[[], Settings] | None = None,
        today: date | None = None,
        clock: Clock | None = None,
        transport_factory: TransportFactory | None = None,
        auto_sync: bool | None = None,
        sync_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # The first screen needs only the opening values; the whole settings may be validated
        # after it is drawn (see csm_tui/opening.py), by ``settings_loader``.
        if isinstance(settings, Opening):
            if settings_loader is None:
                raise ValueError("opening values need a settings_loader")
            self.opening, self._settings = settings, None
        else:
            self.opening, self._settings = Opening.of(settings), settings
        self._settings_loader = settings_loader
        self._settings_lock = Lock()
        self._when_settings: list[Callable[[], None]] = []
        self.clock: Clock = clock or _utc_now
        self.today: date = today or self.clock().astimezone().date()
        self.transport_factory = transport_factory
        self.auto_sync = auto_sync
        self.sync_options = dict(sync_options or {})
        self.segment: str | None = None
        self.filter_text: str | None = None
        self.total_accounts = 0
        self.csm_theme_names: list[str] = []
        self.syncing = False
        self._generation = 0
        self._keep: str | None = None
        self._stay = False  # keep whichever account is current when the rows arrive
        self._first_rows = True
        self._first_page_of = 0  # the generation whose first page is shown
        self._main_ready = False
        self._waiting_rows: list[RowsLoaded] = []
        self._detail_timer: Timer | None = None
        # Dismissed forms still to remove (see _push_form).
        self._closed_forms: list[tuple[str, Screen[Any]]] = []
        self._screen_hold: ExitStack | None = None  # repaints held after a save (_hold_screen)
        self._writes = KeptConnection(self.opening.cache_path)  # the saves' connection
        self.detail_debounce = DETAIL_DEBOUNCE
        self._status_loaded_once = False
        # A sync from cron (another process) is noticed by polling sync_state's last success.
        self.sync_watch_seconds = SYNC_WATCH_SECONDS
        self._seen_sync: str | None = None
        self._own_sync_done = False  # our own sync already reloaded the list
        self._load_theme_files()

    @property
    def settings(self) -> Settings:
        """The validated settings (validated now, on first use, when the app opened without)."""
        with self._settings_lock:
            if self._settings is None:
                assert self._settings_loader is not None
                self._settings = self._settings_loader()
            return self._settings

    @work(thread=True, group="settings", exit_on_error=False)
    def _validate_settings(self) -> None:
        """Validate the settings in the background once the first rows are on screen."""
        try:
            self.settings  # noqa: B018 - the property validates and keeps them
        except CsmError as exc:  # e.g. the keyring cannot be read: the same line as on the CLI
            self.call_from_thread(self.exit, exc.exit_code, exc.exit_code, f"csm-tui: {exc}")
            return
        self.call_from_thread(self._settings_validated)

    def _settings_validated(self) -> None:
        fresh = Opening.of(self.settings)
        if fresh != self.opening:
            # The remembered values are not what the settings say (an input the fingerprint
            # does not see): go on with the validated ones.
            self.opening = fresh
            self._writes.close()
            self._writes = KeptConnection(fresh.cache_path)
            self.set_keymap(dict(fresh.keymap))
            wanted = saved_theme(fresh.data_dir, fresh.theme) or fresh.theme
            if wanted in self.available_themes:
                self.theme = wanted
            self.reload_rows()
            self.load_status()
        waiting, self._when_settings = self._when_settings, []
        for callback in waiting:
            callback()

    def _with_settings(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` now if the settings are validated, else as soon as they are."""
        if self._settings is not None:
            callback()
        else:
            self._when_settings.append(callback)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast; never parsed as markup (messages quote names, notes and server errors)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # -- start-up -------------------------------------------------------------------------

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def _load_theme_files(self) -> None:
        dirs = [d for d in (shipped_themes_dir(),) if d is not None]
        dirs.append(user_themes_dir(self.opening.config_file))
        themes, self._theme_warnings = load_themes(dirs)
        for theme in themes:
            self.register_theme(theme)
        shipped = ["csm-dark", "csm-light", "csm-high-contrast"]
        names = [t.name for t in themes]
        self.csm_theme_names = [n for n in shipped if n in names] + sorted(
            n for n in names if n not in shipped
        )
        wanted = saved_theme(self.opening.data_dir, self.opening.theme) or self.opening.theme
        if wanted not in self.available_themes:
            self._theme_warnings.append(f"Theme {wanted!r} not found; using {DEFAULT_THEME}.")
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted

    def on_mount(self) -> None:
        keymap = dict(self.opening.keymap)
        self.set_keymap(keymap)
        for warning in [*self._theme_warnings, *check_keymap(keymap)]:
            self.notify(clean(warning, 300), severity="warning", timeout=8)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._open_rows()
        # After Textual's start-up batch: a screen pushed from on_mount is composed while that
        # batch holds the display, so its first frame was rendered, thrown away and rendered
        # again (~60 ms of the first frame at 160x48).
        self.call_later(self.push_screen, MainScreen(self.today))
        self.set_interval(STATUS_REFRESH, self.redraw_status)
        self.set_interval(self.sync_watch_seconds, self._watch_other_syncs)

    def on_unmount(self) -> None:
        self._release_screen()
        self._writes.close()
        gc.unfreeze()  # see _settle_heap: what was kept out of the collector's sight goes back

    def _watch_other_syncs(self) -> None:
        if not self.syncing and self._status_loaded_once:
            self.load_status()

    def main_screen_ready(self) -> None:
        """The main screen is composed: show the rows read meanwhile, read the status line."""
        self._main_ready = True
        waiting, self._waiting_rows = self._waiting_rows, []
        for message in waiting:
            self._show_rows(message)
        self.call_after_refresh(self._read_whole_book)
        if self._settings is None:  # opened on remembered values: validate them now
            self.call_after_refresh(self._validate_settings)
        self.load_status()

    def _theme_changed(self, theme: Any) -> None:
        name = getattr(theme, "name", str(theme))
        try:
            save_theme(self.opening.data_dir, name, self.opening.theme)
        except OSError as exc:
            self.notify(f"Could not save the theme choice: {exc.strerror}", severity="warning")

    @property
    def main(self) -> MainScreen:
        """The main screen (always at the bottom of the stack)."""
        return self._main_screen()

    def _main_screen(self) -> MainScreen:
        found = self._shown_main()
        if found is None:
            raise LookupError("main screen not mounted")
        return found

    def _shown_main(self) -> MainScreen | None:
        """The main screen, or None while it is not up: before it is pushed, and when quitting,
        which is when a worker's late answer may arrive."""
        return next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)

    @contextmanager
    def _cache(self) -> Iterator[sqlite_utils.Database]:
        """A connection for this thread only (a SQLite connection belongs to its thread)."""
        db = open_cache(self.opening.cache_path)
        try:
            yield db
        finally:
            db.conn.close()

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A plain connection for this thread's reads (no sqlite-utils: the opening reads)."""
        conn = open_connection(self.opening.cache_path)
        try:
            yield conn
        finally:
            conn.close()

    # -- the attention list ---------------------------------------------------------------

    def _open_rows(self) -> None:
        """Opening: one screen of rows read here, so the first frame shows them; the whole book
        is read in a worker once that frame is drawn (``main_screen_ready``).

        One indexed query, a few ms even at 10,000 accounts: cheaper than a worker thread,
        which would share the GIL with building the screen and answer late.
        """
        from csm_tui.ui.widgets.attention_list import name_width_of

        self._generation += 1
        try:
            with self._reader() as db:
                total = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
                top = views.attention_rows(db, self.today, limit=FIRST_PAGE)
        except Exception:  # the worker's whole read says what is wrong, once
            return
        if len(top) == FIRST_PAGE:  # a smaller book is read whole by the worker
            self._waiting_rows.append(
                RowsLoaded(top, self._generation, int(total), name_width_of(top), True)
            )

    def _read_whole_book(self) -> None:
        if self._generation == 1 and self._first_rows:
            self._load_rows(1, self.segment, self.filter_text)

    def reload_rows(self, keep: str | None = None, *, stay: bool = False) -> None:
        """Read the ranked list again (in a worker), keeping the cursor on ``keep``, or with
        ``stay`` on the account current when the rows arrive (the user may move meanwhile)."""
        self._generation += 1
        self._keep = keep
        self._stay = stay
        if (main := self._shown_main()) is not None:
            main.update_view_bar(loading=True)
        self._load_rows(self._generation, self.segment, self.filter_text)

    @work(thread=True, exclusive=True, group="rows", exit_on_error=False)
    def _load_rows(self, generation: int, segment: str | None, text: str | None) -> None:
        from csm_tui.ui.widgets.attention_list import name_width_of

        try:
            with self._reader() as db:
                total = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
                ids = self._segment_ids(db, segment) if segment else None
                rows = views.attention_rows(db, self.today, text=text, account_ids=ids)
        except Exception as exc:  # any failure is one line for the user, never a hung view
            self.post_message(ActionFailed(f"Cannot read the cache: {_one_line(exc)}"))
            return
        self.post_message(RowsLoaded(rows, generation, int(total), name_width_of(rows)))

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _warm_up_actions(self) -> None:
        """Import what saving an action runs, while the user reads the list: done by the first
        save instead, the imports (the rescore's scoring code, ~30 ms) were on its path. In a
        thread: with the settings (pydantic) they are ~200 ms the keys should not wait for."""
        for module in ("csm_tui.store.actions", "csm_tui.store.rescore"):
            importlib.import_module(module)

    def _segments(self) -> list[Any]:
        from csm_tui.store.attention import segments_of

        return segments_of(self.settings)

    def _segment_ids(self, conn: sqlite3.Connection, segment: str) -> list[str] | None:
        """Account ids in ``segment``, ranked (the scoring engineer's attention list when it is
        there, else the domain's segment rules over the stored scores)."""
        import sqlite_utils  # the segment rules read through sqlite-utils; the opening does not

        db = sqlite_utils.Database(conn)
        try:
            from csm_tui.store.attention import attention_list
        except ImportError:
            return views.segment_account_ids(
                db, self.today, segment, self._segments(), self.settings.scoring.drop_points
            )
        found = attention_list(db, self.settings, self.today, segment=segment)
        ids: list[str] = []
        for row in found:
            value = getattr(row, "account_id", None)
            if value is None and isinstance(row, dict):
                value = row.get("account_id")
            if value is not None:
                ids.append(str(value))
        return ids

    def segment_names(self) -> list[str]:
        """Built-in segments and the user's own, in that order."""
        return [s.name for s in self._segments()]

    @on(RowsLoaded)
    def _rows_loaded(self, message: RowsLoaded) -> None:
        if not self._main_ready:
            self._waiting_rows.append(message)  # read faster than the screen was built
            return
        self._show_rows(message)

    def _show_rows(self, message: RowsLoaded) -> None:
        if message.generation != self._generation:
            return  # an older request answered late
        self.total_accounts = message.total_accounts
        main = self._shown_main()
        if main is None:  # quitting: the rows came back after the main screen went
            return
        attention = main.attention
        if self.segment or self.filter_text:
            attention.empty_text = "No account matches. Press escape to show every account."
        else:
            attention.empty_text = "No accounts in the cache yet. Press r to sync."
        keep = self._keep
        if self._stay and attention.current is not None:
            keep = attention.current.account_id
        attention.set_rows(
            message.rows,
            keep=keep,
            name_width=message.name_width,
            announce=message.generation != self._first_page_of,
        )
        main.update_view_bar(loading=message.first_page)
        if message.first_page:
            self._first_page_of = message.generation  # the whole list follows: same data
            return
        _settle_heap()
        if not message.rows:
            main.detail.show_message(attention.empty_text)
        elif self._stay and attention.current is not None:
            self.load_detail(attention.current.account_id)  # what the new data says of it
        if self._first_rows:
            self._first_rows = False
            self._warm_up_actions()
            configured = self.settings.crm.token or self.opening.config_file.exists()
            if message.total_accounts == 0 and not configured:
                self._push_welcome()

    def set_view(self, *, segment: str | None, text: str | None) -> None:
        """Show ``segment`` and/or filter by ``text`` (None: everything)."""
        self.segment = segment
        self.filter_text = text
        self.reload_rows()

    def clear_marks(self) -> None:
        """Unmark every account."""
        self.main.attention.clear_marks()

    def run_screen_action(self, action: str) -> None:
        """Run a main-screen (or list) action from the palette."""
        main = self.main
        if action in {"toggle_mark", "mark_all"}:
            getattr(main.attention, f"action_{action}")()
            return
        if isinstance(self.screen, AccountScreen) and action in {
            "log_touch",
            "next_step",
            "snooze",
            "enroll",
        }:
            getattr(self.screen, f"action_{action}")()
            return
        getattr(main, f"action_{action}")()

    # -- the detail -----------------------------------------------------------------------

    def schedule_detail(self, account_id: str | None) -> None:
        """Load the detail once the cursor rests (a fast j-j-j reads only the last one)."""
        if self._detail_timer is not None:
            self._detail_timer.stop()
        if account_id is None:
            return
        if self.detail_debounce <= 0:
            self.load_detail(account_id)
            return
        self._detail_timer = self.set_timer(
            self.detail_debounce, lambda: self.load_detail(account_id)
        )

    def load_detail(self, account_id: str) -> None:
        """Read one account's detail in a worker."""
        self._load_detail(account_id)

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _load_detail(self, account_id: str) -> None:
        from csm_tui.store.detail import account_detail  # not needed for the first frame

        try:
            with self._cache() as db:
                detail = account_detail(db, account_id, self.today)
        except Exception as exc:  # any failure is one line for the user, never a hung view
            self.post_message(ActionFailed(f"Cannot read the account: {_one_line(exc)}"))
            return
        self.post_message(DetailLoaded(account_id, detail))

    @on(DetailLoaded)
    def _detail_loaded(self, message: DetailLoaded) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, AccountScreen) and screen.account_id == message.account_id:
                if message.detail is None:
                    screen.view.show_message("This account is no longer in the cache.")
                else:
                    screen.account_name = message.detail.name
                    screen.view.show(message.detail, self.today)
        main = self._shown_main()
        if main is None:  # quitting: the detail came back after the main screen went
            return
        current = main.attention.current
        if current is None or current.account_id != message.account_id:
            return  # the cursor moved on
        if message.detail is None:
            main.detail.show_message("This account is no longer in the cache.")
        else:
            main.detail.show(message.detail, self.today)

    def open_account(self, account_id: str) -> None:
        """Push the account screen."""
        self.push_screen(AccountScreen(account_id))

    # -- status ---------------------------------------------------------------------------

    def load_status(self) -> None:
        """Read the sync and outbox numbers in a worker."""
        self._load_status()

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def _load_status(self) -> None:
        try:
            with self._reader() as db:
                info = views.status_info(db)
        except Exception as exc:  # any failure is one line for the user, never a hung view
            self.post_message(ActionFailed(f"Cannot read the cache: {_one_line(exc)}"))
            return
        self.post_message(StatusLoaded(info))

    @on(StatusLoaded)
    def _status_loaded(self, message: StatusLoaded) -> None:
        self._show_status(message.info)

    def _show_status(self, info: views.StatusInfo) -> None:
        """Show the sync and outbox numbers; notice a sync made by another process."""
        try:
            status = self.main.status
        except (LookupError, NoMatches):  # the app is closing: a late answer has no line to go on
            return
        status.info = info
        self.redraw_status()
        last = info.last_synced
        own, self._own_sync_done = self._own_sync_done, False
        if self._seen_sync is not None and last != self._seen_sync and not self.syncing and not own:
            # Another process (cron, `csm-tui sync`) synced: show what it brought.
            self._show_new_data()
        self._seen_sync = last
        if not self._status_loaded_once:
            self._status_loaded_once = True
            self._with_settings(lambda: self._sync_if_due(info))

    def _sync_if_due(self, info: views.StatusInfo) -> None:
        if self._should_auto_sync(info):
            self.action_sync(quick=True)

    def _show_new_data(self) -> None:
        try:
            self.main.attention  # noqa: B018 - is the main screen there?
        except (LookupError, NoMatches):  # the main screen is not composed yet, or is closing
            return
        self.reload_rows(stay=True)

    def _sync_configured(self) -> bool:
        return self.transport_factory is not None or (
            self.settings.crm.token is not None and self.settings.analytics.token is not None
        )

    def _should_auto_sync(self, info: views.StatusInfo) -> bool:
        if self.auto_sync is not None:
            return self.auto_sync
        if not self._sync_configured():
            return False
        last = views.parse_instant(info.last_synced)
        return last is None or (self.clock() - last).total_seconds() > AUTO_SYNC_AFTER_MINUTES * 60

    def redraw_status(self) -> None:
        """Redraw the status line ("synced 7 min ago" ages)."""
        with suppress(LookupError, NoMatches):  # not composed yet, or closing
            self.main.status.redraw(self.clock())

    # -- theme, help, portfolio -----------------------------------------------------------

    def action_next_theme(self) -> None:
        """Cycle through the csm-tui themes; the choice is saved."""
        names = self.csm_theme_names or [self.theme]
        index = names.index(self.theme) if self.theme in names else -1
        self.use_theme(names[(index + 1) % len(names)])

    def use_theme(self, name: str) -> None:
        """Switch to theme ``name`` (saved by the theme-changed signal)."""
        self.theme = name
        self.notify(f"Theme {name}", timeout=2)

    def action_help(self) -> None:
        screen_cls = _screen_class("help", "HelpScreen")
        if screen_cls is None:
            rows = help_rows(dict(self.opening.keymap))
            self.notify("\n".join(f"{k:<10} {d}" for k, d in rows), title="Keys", timeout=15)
            return
        self.push_screen(screen_cls(help_rows(dict(self.opening.keymap))))

    def action_portfolio(self) -> None:
        screen_cls = _screen_class("portfolio", "PortfolioScreen")
        if screen_cls is None:
            self.notify("The portfolio screen is not available in this build.", severity="warning")
            return
        self.push_screen(screen_cls(self.settings, self.today))

    def _push_welcome(self) -> None:
        screen_cls = _screen_class("welcome", "WelcomeScreen")
        if screen_cls is None:
            self.notify(
                f"Welcome! Write your tokens in {self.settings.config_file}, then press r to "
                "sync (or try `csm-tui demo`).",
                timeout=20,
            )
            return
        self.push_screen(screen_cls(self.settings.config_file, self.settings.data_dir))

    # -- local actions --------------------------------------------------------------------

    def _modal(self, module: str, name: str) -> Any:
        screen_cls = _screen_class(module, name)
        if screen_cls is None:
            self.notify(f"{name} is not available in this build.", severity="warning")
        return screen_cls

    def _push_form(self, screen: Screen[Any], on_result: Callable[[Any], object]) -> None:
        """Push a form whose result (None: cancelled) goes to ``on_result``.

        A saved form is removed from the DOM only once its action's result is on screen:
        Textual re-lays out and repaints the whole screen below after removing a screen, and
        done at once that competed (UI thread and GIL) with the write and with showing its
        result. Textual never removes an installed screen when it is popped, so the form is
        installed under a name of its own until then.
        """
        name = f"form-{id(screen)}"
        self.install_screen(screen, name)

        def closed(result: Any) -> None:
            on_result(result)  # first: the write's worker starts as soon as this returns
            self._closed_forms.append((name, screen))
            # Its footer would rebuild its keys for the bindings of a screen nobody sees (a
            # form's footer is its own child: no CSS query needed to find it).
            for footer in [child for child in screen.children if isinstance(child, Footer)]:
                screen.bindings_updated_signal.unsubscribe(footer)
            if result is None:  # nothing to wait for
                self.call_after_refresh(self._remove_closed_forms)
            else:
                self._hold_screen()

        self.push_screen(screen, closed)
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
        self._screen_hold.enter_context(self.batch_update())
        self.set_timer(SAVE_HOLD, self._release_screen)

    def _release_screen(self) -> None:
        """Paint again (see _hold_screen)."""
        hold, self._screen_hold = self._screen_hold, None
        if hold is not None:
            hold.close()

    def _remove_closed_forms(self) -> None:
        """Remove the forms that were dismissed (see _push_form)."""
        closed, self._closed_forms = self._closed_forms, []
        for name, screen in closed:
            self.uninstall_screen(name)
            if screen.is_attached and screen not in self.screen_stack:
                screen.remove()

    def start_log_touch(self, account_id: str, account_name: str) -> None:
        """Open the log-touch form (contacts are read in a worker first)."""
        if self._modal("log_touch", "LogTouchScreen") is not None:
            self._open_log_touch(account_id, account_name)

    @work(thread=True, group="modal-data", exit_on_error=False)
    def _open_log_touch(self, account_id: str, account_name: str) -> None:
        from csm_tui.store.detail import contact_choices

        try:
            with self._cache() as db:
                contacts = contact_choices(db, account_id)
        except Exception as exc:  # any failure is one line for the user, never a hung view
            self.post_message(ActionFailed(f"Cannot read the contacts: {_one_line(exc)}"))
            return
        self.call_from_thread(self._push_log_touch, account_id, account_name, contacts)

    def _push_log_touch(
        self, account_id: str, account_name: str, contacts: list[tuple[str, str]]
    ) -> None:
        screen_cls = _screen_class("log_touch", "LogTouchScreen")
        now = self.clock().astimezone()
        self._push_form(
            screen_cls(clean(account_name, 80), contacts, now),
            lambda draft: draft is not None and self._write_touch(account_id, draft),
        )

    @work(thread=True, group="write", exit_on_error=False)
    def _write_touch(self, account_id: str, draft: Any) -> None:
        from csm_tui.store import actions

        def write(db: sqlite_utils.Database) -> str:
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

        self._write(account_id, write)

    def start_next_step(self, account_id: str, account_name: str) -> None:
        """Open the next-step form."""
        screen_cls = self._modal("next_step", "NextStepScreen")
        if screen_cls is None:
            return
        self._push_form(
            screen_cls(clean(account_name, 80), self.today),
            lambda draft: draft is not None and self._write_next_step(account_id, draft),
        )

    @work(thread=True, group="write", exit_on_error=False)
    def _write_next_step(self, account_id: str, draft: Any) -> None:
        from csm_tui.store import actions

        def write(db: sqlite_utils.Database) -> str:
            actions.add_next_step(db, account_id=account_id, title=draft.title, due_date=draft.due)
            return "Next step saved; it will be pushed on the next sync."

        self._write(account_id, write)

    def start_snooze(self, account_id: str, account_name: str) -> None:
        """Open the snooze form."""
        screen_cls = self._modal("snooze", "SnoozeScreen")
        if screen_cls is None:
            return

        def snooze(draft: Any) -> None:
            if draft is not None:
                self.snooze_account(account_id, draft.until, draft.reason or "")

        self._push_form(screen_cls(clean(account_name, 80), self.today), snooze)

    def snooze_account(self, account_id: str, until: date, reason: str = "") -> None:
        """Snooze an account until ``until`` (in a worker); its row leaves the list."""
        self._write_snooze(account_id, until, reason)

    @work(thread=True, group="write", exit_on_error=False)
    def _write_snooze(self, account_id: str, until: date, reason: str) -> None:
        from csm_tui.store import actions

        def write(db: sqlite_utils.Database) -> str:
            actions.snooze(db, account_id=account_id, until=until, reason=reason)
            return f"Snoozed until {until.isoformat()} (u undoes)."

        self._write(account_id, write)

    def start_enroll(self, account_ids: list[str]) -> None:
        """Open the enroll form for these accounts (it shows its own preview)."""
        screen_cls = self._modal("enroll", "EnrollScreen")
        if screen_cls is None:
            return
        self._push_form(
            screen_cls(self.settings, list(account_ids), self.today),
            lambda requests: requests is not None and self._write_enroll(requests),
        )

    @work(thread=True, group="write", exit_on_error=False)
    def _write_enroll(self, requests: list[Any]) -> None:
        from csm_tui.store import actions

        if not requests:
            self.post_message(ActionDone(None, "Nobody to enroll: every contact was excluded."))
            return

        def write(db: sqlite_utils.Database) -> str:
            actions.enroll(db, list(requests))
            return f"{len(requests)} enrollments queued; they will be pushed on the next sync."

        self._write(None, write, clear_marks=True, account_ids={r.account_id for r in requests})

    def action_undo(self) -> None:
        """Take back the last local action not yet pushed."""
        self._undo()

    @work(thread=True, group="write", exit_on_error=False)
    def _undo(self) -> None:
        from csm_tui.store import actions

        try:
            with self._cache() as db:
                undone = actions.undo_last(db)
                if undone is not None and undone.account_id:
                    self._rescore_quietly(db, {undone.account_id})
        except Exception as exc:
            self.post_message(ActionFailed(f"Undo failed: {_one_line(exc)}"))
            return
        if undone is None:
            self.post_message(ActionDone(None, "Nothing to undo: every action was pushed."))
            return
        self.post_message(ActionDone(undone.account_id, f"Undid the {undone.description}."))

    def _write(
        self,
        account_id: str | None,
        write: Callable[[sqlite_utils.Database], str],
        *,
        clear_marks: bool = False,
        account_ids: set[str] | None = None,
    ) -> None:
        """Run ``write`` and the rescore in this worker thread, then tell the UI."""
        from csm_tui.store.detail import account_detail

        row, detail, fresh, status = None, None, False, None
        try:
            with self._writes.use() as db:
                text = write(db)
                touched = account_ids or ({account_id} if account_id else set())
                text += self._rescore_quietly(db, touched)
                if account_id and not clear_marks:
                    # The one changed row and its detail, read here: the UI moves the row to its
                    # new rank instead of reading the whole book again.
                    row = views.attention_row(db, account_id, self.today)
                    detail = account_detail(db, account_id, self.today)
                    fresh = True
                status = views.status_info(db)  # the outbox count, without a worker of its own
                self.post_message(
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
                self.post_message(ActionFailed(f"Not saved: {_one_line(exc)}"))

    def _rescore_quietly(self, db: sqlite_utils.Database, account_ids: set[str]) -> str:
        """Rescore; a failure here must not hide that the action itself was saved."""
        try:
            self._rescore(db, account_ids)
        except Exception as exc:
            return f" (Scores not refreshed: {_one_line(exc)}; the next sync will.)"
        return ""

    def _rescore(self, db: sqlite_utils.Database, account_ids: set[str]) -> None:
        """Recompute these accounts' scores (when the scoring module is installed)."""
        if not account_ids:
            return
        try:
            from csm_tui.store.rescore import rescore
        except ImportError:
            return
        rescore(db, self.settings, self.today, account_ids=sorted(account_ids))

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        # Removing the closed form re-lays out and repaints the whole screen: not in the frames
        # that show the result, nor in those right after (the user's next key).
        self.set_timer(FORM_REMOVAL_DELAY, self._remove_closed_forms)
        main = self.main
        if message.reload:
            main.attention.clear_marks()
        if self._show_fresh(message):
            self._release_screen()
            # The row and the detail first; the toast and the outbox count a frame later.
            self.call_after_refresh(self._confirm_action, message.text, message.status)
            return
        self._release_screen()
        self.notify(clean(message.text, 200), timeout=4)
        keep = message.account_id
        current = main.attention.current
        if keep is not None and main.attention.index_of(keep) is None and current is not None:
            keep = current.account_id  # e.g. undo of a snooze elsewhere: stay where we are
        self.reload_rows(keep=keep)
        self.load_status()
        if message.account_id:
            for screen in self.screen_stack:
                if isinstance(screen, AccountScreen) and screen.account_id == message.account_id:
                    self.load_detail(message.account_id)

    def _confirm_action(self, text: str, status: views.StatusInfo | None) -> None:
        self.notify(clean(text, 200), timeout=4)
        if status is None:
            self.load_status()
        else:
            self._show_status(status)

    def _show_fresh(self, message: ActionDone) -> bool:
        """Show the action's account from the rows the worker read; False when the whole list
        must be read again (a segment or filter the change may move it in or out of, marks)."""
        account_id = message.account_id
        if not message.fresh or account_id is None or message.reload:
            return False
        if self.segment or self.filter_text:
            return False
        main = self.main
        if not main.attention.rerank_row(account_id, message.row):
            return False
        main.update_view_bar()
        current = main.attention.current
        if message.detail is not None and current is not None and current.account_id == account_id:
            main.detail.show(message.detail, self.today)
        for screen in self.screen_stack:
            if isinstance(screen, AccountScreen) and screen.account_id == account_id:
                if message.detail is None:
                    self.load_detail(account_id)
                else:
                    screen.account_name = message.detail.name
                    screen.view.show(message.detail, self.today)
        return True

    @on(ActionFailed)
    def _action_failed(self, message: ActionFailed) -> None:
        self._release_screen()
        self.call_after_refresh(self._remove_closed_forms)
        self.notify(clean(message.text, 300), severity="error", timeout=8)
        if (main := self._shown_main()) is not None:
            main.update_view_bar()  # never leave it saying "loading…"

    # -- segments -------------------------------------------------------------------------

    def start_segment(self) -> None:
        """Choose a segment (None: every account)."""
        screen_cls = self._modal("segment", "SegmentScreen")
        if screen_cls is None:
            return

        def chosen(name: str | None) -> None:
            # The screen dismisses None for "cancel" and for "all accounts" alike; both mean:
            # keep the filter text, show the chosen segment (or none).
            self.set_view(segment=name or None, text=self.filter_text)

        self.push_screen(screen_cls(self.segment_names(), self.segment), chosen)

    # -- sync -----------------------------------------------------------------------------

    def action_sync(self, quick: bool = False) -> None:
        """Push the outbox and pull, in a worker; keys keep working meanwhile.

        ``quick`` (the sync on opening) gives up on an unreachable network after a short try, so
        the app says "offline" soon instead of retrying for a minute and a half.
        """
        if self.syncing:
            self.notify("A sync is already running.", timeout=3)
            return
        self.syncing = True
        main = self.main
        main.status.error = None
        main.status.show_progress("sync: starting", 0, None)
        self.redraw_status()
        self._sync(quick)

    @work(thread=True, exclusive=True, group="sync", exit_on_error=False)
    def _sync(self, quick: bool) -> None:
        try:
            from csm_tui.sync.engine import sync_blocking
        except ImportError:
            self.post_message(SyncFinished(None, "Sync is not available in this build.", False))
            return

        def progress(p: Any) -> None:
            self.post_message(
                SyncProgressed(
                    str(getattr(p, "stage", "")),
                    str(getattr(p, "object", "")),
                    int(getattr(p, "done", 0) or 0),
                    getattr(p, "total", None),
                    str(getattr(p, "message", "") or ""),
                )
            )

        options = dict(self.sync_options)
        if quick and "policy" not in options:
            from csm_tui.sources.http import HttpPolicy

            options["policy"] = HttpPolicy(attempts=2, retry_total_seconds=8.0, wait_max=2.0)
        try:
            transport = self.transport_factory() if self.transport_factory else None
            report = sync_blocking(
                self.settings, transport=transport, progress=progress, today=self.today, **options
            )
        except SyncBusyError:
            # A sync started elsewhere (csm-tui sync, cron) fills the cache: the list follows it.
            self.post_message(SyncFinished(None, None, False, busy=True))
            return
        except Exception as exc:  # every failure becomes one line in the UI, never a crash
            offline = _is_network_error(exc)
            text = _one_line(exc) if isinstance(exc, CsmError) else f"Sync failed: {_one_line(exc)}"
            self.post_message(SyncFinished(None, text, offline))
            return
        self.post_message(SyncFinished(report, None, False))

    @on(SyncProgressed)
    def _sync_progressed(self, message: SyncProgressed) -> None:
        if message.stage == "crm" and message.object != "requests":
            return  # the CRM's objects go at once: its requests say how far it is
        if message.object == "requests" and message.message != "done":
            label = f"CRM {message.done}/{message.total} requests, {message.message}"
        else:
            label = f"{message.stage} {message.object}".strip()
        self.main.status.show_progress(label, message.done, message.total)

    @on(SyncFinished)
    def _sync_finished(self, message: SyncFinished) -> None:
        self.syncing = False
        status = self.main.status
        status.hide_progress()
        if message.busy:
            self.notify(
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
                self.notify(
                    f"Offline: showing the cache. {clean(message.error, 200)}",
                    severity="warning",
                    timeout=8,
                )
            else:
                self.notify(clean(message.error, 300), severity="error", timeout=10)
        else:
            status.network = "online"
            status.error = None
            welcome = _screen_class("welcome", "WelcomeScreen")
            if welcome is not None and isinstance(self.screen, welcome):
                self.pop_screen()  # the first sync filled the cache: on to the list
            report = message.report
            summary = getattr(report, "summary", None)
            text = summary() if callable(summary) else "Synced."
            self.notify(text, timeout=4)
            self.reload_rows(stay=True)
            self._own_sync_done = True
        self.load_status()


def _screen_class(module: str, name: str) -> Any:
    """A screen class from csm_tui.ui.screens.<module>, or None when it is not there."""
    try:
        found = importlib.import_module(f"csm_tui.ui.screens.{module}")
    except ImportError:
        return None
    return getattr(found, name, None)
