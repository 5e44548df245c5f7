"""Snapshots of the screens at 120x40 and 80x24, and of each shipped theme.

Regenerate after an intended change with: pytest tests/test_ui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import sqlite_utils
from support.apps import NOW, TODAY, fill_cache, settle
from textual.pilot import Pilot

from csm_tui.config import Settings
from csm_tui.ui.app import CsmApp

SIZES = [(120, 40), (80, 24)]


@pytest.fixture
def app(settings: Settings, db: sqlite_utils.Database) -> CsmApp:
    """The app on the hand-made cache, at a fixed day and clock."""
    fill_cache(db)
    app = CsmApp(settings, today=TODAY, clock=lambda: NOW, auto_sync=False)
    app.detail_debounce = 0  # snapshots wait for workers, not for timers
    return app


def then(*keys: str) -> Callable[[Pilot], Awaitable[None]]:
    """A run_before that waits for the data, presses ``keys``, and waits again."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        # A blinking cursor would make the picture depend on how fast a loaded machine types.
        for widget in pilot.app.screen.query("Input, TextArea"):
            widget.cursor_blink = False
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_main_screen(snap_compare: Callable[..., bool], app: CsmApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=then("j", "space"))


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_account_screen(
    snap_compare: Callable[..., bool], app: CsmApp, size: tuple[int, int]
) -> None:
    assert snap_compare(app, terminal_size=size, run_before=then("enter"))


@pytest.mark.parametrize("theme", ["csm-dark", "csm-light", "csm-high-contrast"])
def test_theme(snap_compare: Callable[..., bool], app: CsmApp, theme: str) -> None:
    async def run_before(pilot: Pilot) -> None:
        pilot.app.theme = theme
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_filtered_view(snap_compare: Callable[..., bool], app: CsmApp) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=then("slash", *"globex", "enter"))


def test_sorted_by_arr(snap_compare: Callable[..., bool], app: CsmApp) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=then("j", "S"))


def test_snoozed_view(
    snap_compare: Callable[..., bool], app: CsmApp, db: sqlite_utils.Database
) -> None:
    from datetime import date

    from csm_tui.store import actions

    actions.snooze(db, account_id="104", until=date(2026, 12, 15), reason="on holiday")
    assert snap_compare(app, terminal_size=(120, 40), run_before=then("Z"))


def test_snooze_past_the_renewal_asks(snap_compare: Callable[..., bool], app: CsmApp) -> None:
    keys = ("z", "d", *"2027-01-10", "enter", "enter")
    assert snap_compare(app, terminal_size=(80, 24), run_before=then(*keys))
