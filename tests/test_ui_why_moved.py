"""The detail's "Why it moved": the health's change over 4 weeks, split per component; m cycles
the span (1, 4, 13 weeks) on the list and on the account screen.

Regenerate the snapshots after an intended change with:
pytest tests/test_ui_why_moved.py --snapshot-update
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import sqlite_utils
from support.apps import TODAY, fill_cache, make_app, settle
from textual.pilot import Pilot
from textual.widgets import Static

from csm_tui.config import Settings
from csm_tui.ui.app import CsmApp

# The weekly score 4 weeks back (the one the list's "−17 in 4 wk" compares with) is the last
# day of that week a rescore stored: a Sunday.
FOUR_WEEKS_BACK = "2026-11-01"


def driver(component: str, points: int, top: int, reason: str) -> dict[str, object]:
    return {"component": component, "points": points, "max": top, "reason": reason}


NOW_DRIVERS = [
    driver("usage", 9, 30, "Logins down 41% vs prior 8 weeks (all use −35%)"),
    driver("adoption", 6, 15, "2 of 5 key features used in 30 days"),
    driver("people", 3, 15, "Champion jane@acme.io inactive 21 days"),
    driver("relationship", 4, 15, "Last touch 31 days ago (cadence 14 days)"),
    driver("support", 10, 10, "No aged or escalated tickets"),
    driver("sentiment", 6, 15, "NPS 7 (passive, 40 days ago)"),
]
THEN_DRIVERS = [
    driver("usage", 18, 30, "Usage steady vs prior 8 weeks"),
    driver("adoption", 6, 15, "2 of 5 key features used in 30 days"),
    driver("people", 9, 15, "\x1b[31m[bold]Champion[/] jane@acme.io active this week"),
    driver("relationship", 6, 15, "Last touch 3 days ago (cadence 14 days)"),
    driver("support", 10, 10, "No aged or escalated tickets"),
    driver("sentiment", 6, 15, "NPS 7 (passive, 12 days ago)"),
]


def fill(db: sqlite_utils.Database) -> None:
    """The hand-made cache, Acme's score now and 4 weeks back (drivers adding up to each)."""
    fill_cache(db)
    db.execute(
        "UPDATE scores SET health = 38, drivers = ? WHERE account_id = '101'",
        [json.dumps(NOW_DRIVERS)],
    )
    db["score_days"].insert(
        {
            "account_id": "101",
            "day": FOUR_WEEKS_BACK,
            "health": 55,
            "band": "yellow",
            "stage": "renewal",
            "drivers": json.dumps(THEN_DRIVERS),
        }
    )


@pytest.fixture
def app(settings: Settings, db: sqlite_utils.Database) -> CsmApp:
    fill(db)
    return make_app(settings)


def moves_text(app: CsmApp) -> str:
    return str(app.screen.query_one("#detail-moves", Static).render())


async def test_the_pane_says_why_the_health_moved_and_m_cycles_the_span(app: CsmApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        four = moves_text(app)
        await pilot.press("m")
        await settle(pilot)
        thirteen = moves_text(app)
        await pilot.press("m")
        await settle(pilot)
        one = moves_text(app)
        await pilot.press("m", "enter")
        await settle(pilot)
        on_account_screen = moves_text(app)
        await pilot.press("m")
        await settle(pilot)
        account_thirteen = moves_text(app)

    # The pane wraps its lines: read it as words.
    words = " ".join(four.split())
    assert words.startswith(
        "Why it moved · last 4 weeks (m) Health 55 → 38 (−17) since 2026-11-01 "
        "−9 Usage: Logins down 41% vs prior 8 weeks (all use −35%) "
        "was: Usage steady vs prior 8 weeks "
        "−6 People: Champion jane@acme.io inactive 21 days "
        # Untrusted words are shown as they are: no markup read, no escape sequence kept.
        "was: [bold]Champion[/] jane@acme.io active this week "
        "−2 Relationship: Last touch 31 days ago (cadence 14 days) "
        "was: Last touch 3 days ago (cadence 14 days)"
    ), words
    assert "\x1b" not in four
    assert "last 13 weeks" in thirteen and "since 2026-08-30" in thirteen
    assert "last 1 week" in one and "since 2026-11-22" in one
    assert " ".join(on_account_screen.split()) == words
    assert "last 13 weeks" in account_thirteen


SIZES = [(120, 40), (80, 24)]


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_why_it_moved_in_the_pane(
    snap_compare: Callable[..., bool], app: CsmApp, size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("m", "m", "m")  # round the spans back to 4 weeks: the pane scrolls to it
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_today_is_a_monday() -> None:
    assert TODAY.weekday() == 0  # the weeks back above are counted from it
