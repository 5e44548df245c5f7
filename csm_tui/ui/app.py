"""The csm-tui app: its lifecycle, its settings, and the routing of its messages.

Messages up, methods down: screens and the command palette post messages (csm_tui.ui.messages)
and never call the app; thread workers post messages and never touch a widget. The app's handlers
route each message to the part that owns what it is about, each a module beside this one:

- csm_tui/ui/listing.py: the attention list and the account detail, read and shown;
- csm_tui/ui/saving.py: the action forms, their writes, undo, and showing what they changed;
- csm_tui/ui/syncing.py: the sync and the status line;
- csm_tui/ui/theming.py: the themes.

The parts see the app as csm_tui.ui.host.CsmHost; no screen sees it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App
from textual.binding import BindingType
from textual.message import Message

from csm_tui.errors import CsmError
from csm_tui.opening import Opening
from csm_tui.ui.crm_link import CrmLink
from csm_tui.ui.due_queue import DueQueue
from csm_tui.ui.exporting import Exporting
from csm_tui.ui.host import Clock, TransportFactory
from csm_tui.ui.keymap import APP_BINDINGS, check_keymap, help_rows
from csm_tui.ui.listing import Listing
from csm_tui.ui.messages import (
    AccountHighlighted,
    ActionDone,
    ActionFailed,
    AppActionRequested,
    ContactsLoaded,
    CrmLinkLoaded,
    DetailLoaded,
    DetailRequested,
    DueQueueRequested,
    DueStepsLoaded,
    DueStepsRequested,
    EnrollRequested,
    ExportRequested,
    ExportWritten,
    LogTouchRequested,
    MainScreenReady,
    MovesLoaded,
    MoveSpanRequested,
    MovesRequested,
    NextStepRequested,
    OpenAccountRequested,
    OpenInCrmRequested,
    OpensScreen,
    RowsLoaded,
    ScoringChangePreviewed,
    ScreenActionRequested,
    ScreenSettled,
    SegmentChoiceRequested,
    SettingsFailed,
    SettingsValidated,
    SinceLastLookLoaded,
    SnoozeRequested,
    StatusLoaded,
    StepChangeRequested,
    SyncFinished,
    SyncProgressed,
    ThemeRequested,
    UnsnoozeRequested,
    ViewRequested,
)
from csm_tui.ui.opening_news import OpeningNews
from csm_tui.ui.palette import CsmCommands
from csm_tui.ui.safe_text import clean
from csm_tui.ui.saving import Saving
from csm_tui.ui.screens.account import AccountScreen
from csm_tui.ui.screens.main import FILTER_DEBOUNCE, MainScreen
from csm_tui.ui.syncing import Syncing
from csm_tui.ui.themes import VARIABLE_DEFAULTS
from csm_tui.ui.theming import Theming
from csm_tui.ui.type_ahead import HOLD_LIMIT, TypeAhead

if TYPE_CHECKING:
    from textual.theme import Theme
    from textual.timer import Timer

    from csm_tui.config import Settings

DETAIL_DEBOUNCE = 0.12  # seconds the cursor must rest before the detail is read
STATUS_REFRESH = 30.0  # seconds between redraws of "synced N min ago"
SYNC_WATCH_SECONDS = 5.0  # how often the open app looks for a sync made elsewhere
ACCOUNT_ACTIONS = ("log_touch", "next_step", "snooze", "enroll", "open_in_crm")  # the account
# screen's own too


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        self.opening: Opening
        self._settings: Settings | None
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
        self.detail_debounce = DETAIL_DEBOUNCE
        self.filter_debounce = FILTER_DEBOUNCE  # the list follows the filter box after this
        # A sync from cron (another process) is noticed by polling sync_state's last success.
        self.sync_watch_seconds = SYNC_WATCH_SECONDS
        self.listing = Listing(self)
        self.syncing = Syncing(self, self.listing)
        self.saving = Saving(self, self.listing, self.syncing)
        self.theming = Theming(self, self.opening)
        self.type_ahead = TypeAhead()
        self._hold_timer: Timer | None = None
        self.due_queue = DueQueue(self, self.saving)
        self.exporting = Exporting(self)
        self.crm_link = CrmLink(self)
        self.news = OpeningNews(self)

    # -- the settings ---------------------------------------------------------------------

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
            self.post_message(SettingsFailed(exc.exit_code, f"csm-tui: {exc}"))
            return
        self.post_message(SettingsValidated())

    @on(SettingsFailed)
    def _settings_failed(self, message: SettingsFailed) -> None:
        self.exit(message.exit_code, message.exit_code, message.text)

    @on(SettingsValidated)
    def _settings_validated(self, message: SettingsValidated) -> None:
        fresh = Opening.of(self.settings)
        if fresh != self.opening:
            # The remembered values are not what the settings say (an input the fingerprint
            # does not see): go on with the validated ones.
            self.opening = fresh
            self.saving.reopen(fresh.cache_path)
            self.set_keymap(dict(fresh.keymap))
            self.theming.follow(fresh)
            self.listing.reload_rows()
            self.syncing.load_status()
        waiting, self._when_settings = self._when_settings, []
        for callback in waiting:
            callback()

    def with_settings(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` now if the settings are validated, else as soon as they are."""
        if self._settings is not None:
            callback()
        else:
            self._when_settings.append(callback)

    # -- lifecycle ------------------------------------------------------------------------

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

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        keymap = dict(self.opening.keymap)
        self.set_keymap(keymap)
        for warning in [*self.theming.warnings, *check_keymap(keymap)]:
            self.notify(clean(warning, 300), severity="warning", timeout=8)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        first_page = self.listing.first_page()  # read here: the first frame shows it
        # After Textual's start-up batch: a screen pushed from on_mount is composed while that
        # batch holds the display, so its first frame was rendered, thrown away and rendered
        # again (~60 ms of the first frame at 160x48).
        main = MainScreen(self.today, self.clock, first_page)
        main.filter_debounce = self.filter_debounce
        self.call_later(self.push_screen, main)
        self.set_interval(STATUS_REFRESH, self.syncing.redraw_status)
        self.set_interval(self.sync_watch_seconds, self.syncing.watch_other_syncs)

    @on(MainScreenReady)
    def _main_screen_ready(self, message: MainScreenReady) -> None:
        """The main screen is up with its first rows: read the rest, and the status line."""
        self.call_after_refresh(self.listing.read_whole_book)
        if self._settings is None:  # opened on remembered values: validate them now
            self.call_after_refresh(self._validate_settings)
        self.syncing.load_status()
        self.with_settings(self.news.preview_scoring_change)

    @on(ScoringChangePreviewed)
    def _scoring_change_previewed(self, message: ScoringChangePreviewed) -> None:
        self.news.scoring_change_previewed(message)

    def on_unmount(self) -> None:
        self.saving.close()
        gc.unfreeze()  # see listing._settle_heap: what the collector did not see goes back

    @property
    def main(self) -> MainScreen:
        """The main screen (always at the bottom of the stack)."""
        found = self.shown_main()
        if found is None:
            raise LookupError("main screen not mounted")
        return found

    def shown_main(self) -> MainScreen | None:
        """The main screen, or None while it is not up: before it is pushed, and when quitting,
        which is when a worker's late answer may arrive."""
        return next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)

    # -- keys typed while a screen opens (csm_tui/ui/type_ahead.py) -----------------------

    def post_message(self, message: Message) -> bool:
        """Queue ``message``; a request that opens a screen holds the keys typed behind it."""
        if isinstance(message, OpensScreen) and not self.type_ahead.holding:
            self.type_ahead.start()
            self._hold_timer = self.set_timer(HOLD_LIMIT, self._release_keys)
        return super().post_message(message)

    async def on_event(self, event: events.Event) -> None:
        if (
            isinstance(event, (events.Key, events.Paste))
            and not event.is_forwarded
            and self.type_ahead.holding
        ):
            self.type_ahead.hold(event)
            return
        await super().on_event(event)

    @on(ScreenSettled)
    async def _screen_settled(self, message: ScreenSettled) -> None:
        await self._release_keys()

    async def _release_keys(self) -> None:
        """Hand the held keys on, in order, as if typed now (to the field that has focus)."""
        if self._hold_timer is not None:  # this hold's limit must not end a later one
            self._hold_timer.stop()
            self._hold_timer = None
        held = self.type_ahead.release()
        for n, key in enumerate(held):
            if self.type_ahead.holding:  # a held key opened another screen: wait for it too
                for later in held[n:]:
                    self.type_ahead.hold(later)
                return
            await super().on_event(key)

    # -- the list and the detail (csm_tui/ui/listing.py) ----------------------------------

    @on(RowsLoaded)
    def _rows_loaded(self, message: RowsLoaded) -> None:
        if self.listing.rows_loaded(message):  # the first whole book is on screen
            self.saving.warm_up()
            configured = self.settings.crm.token or self.opening.config_file.exists()
            if message.total_accounts == 0 and not configured:
                from csm_tui.ui.screens.welcome import WelcomeScreen

                self.push_screen(WelcomeScreen(self.settings.config_file, self.settings.data_dir))
            else:
                self.news.read_last_look()

    @on(SinceLastLookLoaded)
    def _since_last_look_loaded(self, message: SinceLastLookLoaded) -> None:
        self.news.last_look_loaded(message)

    @on(ViewRequested)
    def _view_requested(self, message: ViewRequested) -> None:
        self.listing.set_view(message.segment, message.text)

    @on(SegmentChoiceRequested)
    def _segment_choice_requested(self, message: SegmentChoiceRequested) -> None:
        self.listing.choose_segment()

    def segment_names(self) -> list[str]:
        """Built-in segments and the user's own, in that order."""
        return self.listing.segment_names()

    @on(AccountHighlighted)
    def _account_highlighted(self, message: AccountHighlighted) -> None:
        self.listing.schedule_detail(message.account_id)

    @on(DetailRequested)
    def _detail_requested(self, message: DetailRequested) -> None:
        self.listing.load_detail(message.account_id)

    @on(DetailLoaded)
    def _detail_loaded(self, message: DetailLoaded) -> None:
        self.listing.detail_loaded(message)

    @on(MovesRequested)
    def _moves_requested(self, message: MovesRequested) -> None:
        self.listing.load_moves(message.account_id)

    @on(MovesLoaded)
    def _moves_loaded(self, message: MovesLoaded) -> None:
        self.listing.moves_loaded(message)

    @on(MoveSpanRequested)
    def _move_span_requested(self, message: MoveSpanRequested) -> None:
        self.listing.next_move_span()

    @on(OpenAccountRequested)
    def _open_account_requested(self, message: OpenAccountRequested) -> None:
        self.push_screen(AccountScreen(message.account_id))

    # -- the actions (csm_tui/ui/saving.py) -----------------------------------------------

    @on(LogTouchRequested)
    def _log_touch_requested(self, message: LogTouchRequested) -> None:
        self.saving.open_log_touch(message.account_id, message.account_name)

    @on(ContactsLoaded)
    def _contacts_loaded(self, message: ContactsLoaded) -> None:
        self.saving.show_log_touch(message)

    @on(NextStepRequested)
    def _next_step_requested(self, message: NextStepRequested) -> None:
        self.saving.open_next_step(message.account_id, message.account_name)

    @on(SnoozeRequested)
    def _snooze_requested(self, message: SnoozeRequested) -> None:
        self.saving.open_snooze(message.account_id, message.account_name, message.renewal_date)

    @on(UnsnoozeRequested)
    def _unsnooze_requested(self, message: UnsnoozeRequested) -> None:
        self.saving.unsnooze_account(message.account_id)

    @on(EnrollRequested)
    def _enroll_requested(self, message: EnrollRequested) -> None:
        self.saving.open_enroll(message.account_ids)

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        self.saving.done(message)
        self.due_queue.refresh()  # a step done, moved or undone leaves or rejoins the queue

    @on(ActionFailed)
    async def _action_failed(self, message: ActionFailed) -> None:
        self.saving.failed(message)
        await self._release_keys()  # e.g. the form's contacts could not be read

    # -- the due queue, links into the CRM, exports -----------------------------------------

    @on(DueQueueRequested)
    def _due_queue_requested(self, message: DueQueueRequested) -> None:
        self.due_queue.open()

    @on(DueStepsRequested)
    def _due_steps_requested(self, message: DueStepsRequested) -> None:
        self.due_queue.load()

    @on(DueStepsLoaded)
    def _due_steps_loaded(self, message: DueStepsLoaded) -> None:
        self.due_queue.loaded(message)

    @on(StepChangeRequested)
    def _step_change_requested(self, message: StepChangeRequested) -> None:
        self.due_queue.change(message)

    @on(OpenInCrmRequested)
    def _open_in_crm_requested(self, message: OpenInCrmRequested) -> None:
        self.crm_link.open(message.account_id)

    @on(CrmLinkLoaded)
    def _crm_link_loaded(self, message: CrmLinkLoaded) -> None:
        self.crm_link.loaded(message)

    @on(ExportRequested)
    def _export_requested(self, message: ExportRequested) -> None:
        self.exporting.export(message)

    @on(ExportWritten)
    def _export_written(self, message: ExportWritten) -> None:
        self.exporting.written(message)

    def action_undo(self) -> None:
        """Take back the last local action not yet pushed."""
        self.saving.undo()

    # -- the sync and the status line (csm_tui/ui/syncing.py) -----------------------------

    def action_sync(self, quick: bool = False) -> None:
        """Push the outbox and pull, in a worker; keys keep working meanwhile."""
        self.syncing.start(quick)

    @on(SyncProgressed)
    def _sync_progressed(self, message: SyncProgressed) -> None:
        self.syncing.progressed(message)

    @on(SyncFinished)
    def _sync_finished(self, message: SyncFinished) -> None:
        self.syncing.finished(message)
        self.due_queue.refresh()

    @on(StatusLoaded)
    def _status_loaded(self, message: StatusLoaded) -> None:
        self.syncing.show_status(message.info)

    # -- themes (csm_tui/ui/theming.py) ---------------------------------------------------

    @property
    def csm_theme_names(self) -> list[str]:
        """csm-tui's themes (shipped, then the user's own), in the order ``t`` cycles them."""
        return self.theming.names

    def action_next_theme(self) -> None:
        """Cycle through the csm-tui themes; the choice is saved."""
        self.theming.next()

    @on(ThemeRequested)
    def _theme_requested(self, message: ThemeRequested) -> None:
        self.theming.use(message.name)

    def _theme_changed(self, theme: Theme) -> None:
        self.theming.remember(self.opening, theme.name)

    # -- help, portfolio, the palette's commands ------------------------------------------

    def action_help(self) -> None:
        from csm_tui.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen(help_rows(dict(self.opening.keymap))))

    def action_portfolio(self) -> None:
        from csm_tui.ui.screens.portfolio import PortfolioScreen

        self.push_screen(PortfolioScreen(self.settings, self.today))

    @on(AppActionRequested)
    async def _app_action_requested(self, message: AppActionRequested) -> None:
        await self.run_action(message.action)

    @on(ScreenActionRequested)
    def _screen_action_requested(self, message: ScreenActionRequested) -> None:
        """Run a screen's action chosen in the palette: on the list for marks, on the account
        screen when it is on top and has that action, an export on the due queue when it is
        open, else on the main screen."""
        action, main = message.action, self.main
        if action == "clear_marks":
            main.attention.clear_marks()
        elif action in ("toggle_mark", "mark_all"):
            getattr(main.attention, f"action_{action}")()
        elif isinstance(self.screen, AccountScreen) and action in ACCOUNT_ACTIONS:
            getattr(self.screen, f"action_{action}")()
        elif action == "export" and self.due_queue.screens():
            self.due_queue.screens()[0].action_export()  # the due queue is the view
        else:
            getattr(main, f"action_{action}")()
