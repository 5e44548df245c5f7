"""Snapshots of the modals and screens this flow set owns: log touch, enroll preview, portfolio,
help and the first-run welcome (120x40, and 80x24 for the two forms a CSM uses most).

Regenerate after an intended change with: pytest tests/test_ui_flow_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import sqlite_utils
from support.apps import settle
from support.flows import CONTACTS, NOW, TODAY, Host, build_book, build_portfolio
from textual.pilot import Pilot
from textual.widgets import Input, RadioSet, Select, TextArea

from csm_tui.config import Settings
from csm_tui.domain.digest import Change
from csm_tui.ui.keymap import help_rows
from csm_tui.ui.screens.enroll import EnrollScreen
from csm_tui.ui.screens.help import HelpScreen
from csm_tui.ui.screens.log_touch import LogTouchScreen
from csm_tui.ui.screens.portfolio import PortfolioScreen
from csm_tui.ui.screens.since import SinceScreen
from csm_tui.ui.screens.welcome import WelcomeScreen

SIZES = [(120, 40), (80, 24)]
SIZE_IDS = ["120x40", "80x24"]


def then(*keys: str) -> Callable[[Pilot], Awaitable[None]]:
    """A run_before that waits for the workers, presses ``keys``, and waits again."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        # A blinking cursor would make the picture depend on how fast a loaded machine types.
        for widget in pilot.app.screen.query("Input, TextArea"):
            widget.cursor_blink = False
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


async def fill_touch(pilot: Pilot) -> None:
    """Fill the log-touch form (the keyboard walk itself is tested in test_ui_flows)."""
    screen = pilot.app.screen
    screen.query_one("#kind", RadioSet).focus()  # the form opens in the summary
    await pilot.press("right")  # kind: email
    screen.query_one("#when", Input).value = "yesterday 14:00"
    screen.query_one("#contact", Select).value = "c1"
    screen.query_one("#summary", TextArea).text = "Renewal call: wants SSO before signing"
    screen.query_one("#next-step-title", Input).value = "Send the SSO quote"
    screen.query_one("#due", Input).value = "fri"
    screen.query_one("#sentiment", RadioSet).focus()
    await pilot.press("right")  # sentiment: positive
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_log_touch_filled_in(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    app = Host(lambda: LogTouchScreen("Acme Corporation", CONTACTS, NOW))
    assert snap_compare(app, terminal_size=size, run_before=fill_touch)


def test_log_touch_with_an_error(snap_compare: Callable[..., bool]) -> None:
    app = Host(lambda: LogTouchScreen("Acme Corporation", CONTACTS, NOW))
    keys = ("x", "shift+tab", "shift+tab", *"tue-ish", "ctrl+s")
    assert snap_compare(app, terminal_size=(80, 24), run_before=then(*keys))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_enroll_preview(
    snap_compare: Callable[..., bool],
    settings: Settings,
    db: sqlite_utils.Database,
    size: tuple[int, int],
) -> None:
    build_book(db)
    app = Host(lambda: EnrollScreen(settings, ["a1", "a2", "a3"], TODAY))
    assert snap_compare(app, terminal_size=size, run_before=then("enter", "down", "down", "enter"))


def test_portfolio(
    snap_compare: Callable[..., bool], settings: Settings, db: sqlite_utils.Database
) -> None:
    build_portfolio(db)
    app = Host(lambda: PortfolioScreen(settings, TODAY))
    assert snap_compare(app, terminal_size=(120, 40), run_before=then("3"))


def test_help(snap_compare: Callable[..., bool]) -> None:
    app = Host(lambda: HelpScreen(help_rows({})))
    assert snap_compare(app, terminal_size=(120, 40), run_before=then())


def test_first_run_welcome(snap_compare: Callable[..., bool]) -> None:
    config = Path("/home/csm/.config/csm-tui/config.toml")
    app = Host(lambda: WelcomeScreen(config, Path("/home/csm/.local/share/csm-tui")))
    assert snap_compare(app, terminal_size=(120, 40), run_before=then())


SINCE = [
    Change("band_down", "101", "Acme Analytics", "health 61 yellow -> 38 red"),
    Change("escalation", "102", "[bold red]Acme[/]", "escalation opened: [blink]SSO down[/]"),
    Change("usage_cliff", "103", "Globex Corporation International Holdings", "usage -62% vs the 8 weeks before"),
    Change("went_quiet", "104", "Initech", "champion ana@initech.test quiet 30 days"),
    Change("renewal", "105", "Hooli", "renews in 30 days"),
    Change("push_failed", "", "", "touch 3f2a9c1e failed to push: CRM refused the note (400)"),
    Change("band_up", "106", "Umbrella", "health 58 yellow -> 74 green"),
]  # fmt: skip


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_since_you_last_looked(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    app = Host(lambda: SinceScreen(SINCE, TODAY.replace(day=20)))
    assert snap_compare(app, terminal_size=size, run_before=then("down"))
