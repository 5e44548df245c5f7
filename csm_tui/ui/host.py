"""The app as its parts see it: what csm_tui.ui.listing, saving and syncing use of it.

A Protocol, so the parts name no app class: csm_tui.ui.app imports them and hands itself over,
never the other way round. Each part owns its state and its workers; the app owns the screens'
routing (its message handlers call the parts).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.await_complete import AwaitComplete
    from textual.message import Message
    from textual.notifications import SeverityLevel
    from textual.screen import Screen
    from textual.timer import Timer, TimerCallback
    from textual.widget import AwaitMount
    from textual.worker import Worker

    from csm_tui.config import Settings
    from csm_tui.opening import Opening
    from csm_tui.ui.screens.main import MainScreen

Clock = Callable[[], datetime]
TransportFactory = Callable[[], Any]


class CsmHost(Protocol):
    """The app (csm_tui.ui.app.CsmApp), as the parts use it."""

    # -- csm-tui's own ----------------------------------------------------------------------

    today: date
    clock: Clock
    opening: Opening
    detail_debounce: float  # seconds the cursor must rest before the detail is read
    auto_sync: bool | None  # None: sync on opening when configured and the cache is old
    transport_factory: TransportFactory | None
    sync_options: dict[str, Any]

    @property
    def settings(self) -> Settings:
        """The validated settings (validated on first use when the app opened without)."""
        ...

    @property
    def main(self) -> MainScreen:
        """The main screen; LookupError when it is not up."""
        ...

    def shown_main(self) -> MainScreen | None:
        """The main screen, or None while it is not up (before it is pushed, when quitting)."""
        ...

    def with_settings(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the settings are validated (now if they are)."""
        ...

    # -- Textual's (App) --------------------------------------------------------------------

    @property
    def screen(self) -> Screen[object]: ...

    @property
    def screen_stack(self) -> list[Screen[Any]]: ...

    def run_worker(
        self,
        work: Callable[[], None],
        name: str | None = ...,
        group: str = ...,
        description: str = ...,
        exit_on_error: bool = ...,
        start: bool = ...,
        exclusive: bool = ...,
        thread: bool = ...,
    ) -> Worker[None]: ...

    def post_message(self, message: Message) -> bool: ...

    def notify(
        self,
        message: str,
        *,
        title: str = ...,
        severity: SeverityLevel = ...,
        timeout: float | None = ...,
        markup: bool = ...,
    ) -> None: ...

    def push_screen(
        self, screen: Screen[Any], callback: Callable[[Any], None] | None = ...
    ) -> AwaitMount: ...

    def pop_screen(self) -> AwaitComplete: ...

    def install_screen(self, screen: Screen[Any], name: str) -> None: ...

    def uninstall_screen(self, screen: Screen[Any] | str) -> str | None: ...

    def set_timer(self, delay: float, callback: TimerCallback | None = ...) -> Timer: ...

    def call_after_refresh(self, callback: Callable[..., object], *args: Any) -> bool: ...

    def batch_update(self) -> AbstractContextManager[None]: ...

    def open_url(self, url: str, *, new_tab: bool = ...) -> None: ...

    def copy_to_clipboard(self, text: str) -> None: ...


def thread_worker(
    host: CsmHost, work: Callable[[], None], group: str, *, exclusive: bool = False
) -> None:
    """Run ``work`` in a thread worker of the app (``exclusive``: cancel the group's others);
    a failure in it never ends the app. The worker posts messages, never touches a widget."""
    name = getattr(getattr(work, "func", work), "__name__", "")  # a partial's function
    host.run_worker(
        work, name=name, group=group, exclusive=exclusive, thread=True, exit_on_error=False
    )
