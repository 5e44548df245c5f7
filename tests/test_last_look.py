"""Since you last looked: on opening, the digest's changes since the last opening, once each."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlite_utils
from support.apps import TODAY, fill_cache, make_app, settle

from csm_tui.config import Settings
from csm_tui.store.last_look import KEY, look_since_last_open, record_look
from csm_tui.ui.screens.account import AccountScreen
from csm_tui.ui.screens.main import MainScreen
from csm_tui.ui.screens.since import SinceScreen


def escalate(db: sqlite_utils.Database, ticket: str, account: str, days_ago: int) -> None:
    day = (TODAY - timedelta(days=days_ago)).isoformat()
    db["tickets"].insert(
        {"id": f"esc-{ticket}", "account_id": account, "subject": f"Outage {ticket}", "status": "open",
         "priority": "HIGH", "escalated": 1, "created_at": f"{day}T10:00:00+00:00"}
    )  # fmt: skip


def opened(db: sqlite_utils.Database, days_ago: int, seen: list[str] | None = None) -> None:
    """As if the app was last opened ``days_ago`` days ago and showed ``seen``."""
    record_look(db, TODAY - timedelta(days=days_ago), seen or [])


def test_the_first_opening_shows_nothing_and_is_remembered(db) -> None:
    fill_cache(db)
    escalate(db, "t1", "101", 1)
    look = look_since_last_open(db, TODAY)
    assert look.since is None and look.changes == ()
    [row] = db.query("SELECT value FROM local_state WHERE key = ?", [KEY])
    assert json.loads(row["value"])["opened"] == TODAY.isoformat()


def test_changes_since_the_last_opening_are_shown_once_then_only_news(db) -> None:
    fill_cache(db)
    opened(db, 3)
    escalate(db, "t1", "101", 1)
    look = look_since_last_open(db, TODAY)
    assert look.since == TODAY - timedelta(days=3)
    assert ("escalation", "101", "escalation opened: Outage t1") in {
        (c.kind, c.account_id, c.text) for c in look.changes
    }
    record_look(db, TODAY, look.seen)  # shown

    again = look_since_last_open(db, TODAY)
    assert again.changes == ()  # nothing new: not shown again

    escalate(db, "t2", "101", 0)  # a sync later the same day brings one more
    news = look_since_last_open(db, TODAY)
    assert [c.text for c in news.changes] == ["escalation opened: Outage t2"]


def test_what_an_opening_could_not_show_is_shown_next_time(db) -> None:
    fill_cache(db)
    opened(db, 3)
    escalate(db, "t1", "101", 1)
    first = look_since_last_open(db, TODAY)
    assert first.changes  # not recorded: nothing said it was shown
    assert look_since_last_open(db, TODAY).changes == first.changes


async def test_opening_the_app_shows_the_changes_and_o_opens_the_account(
    settings: Settings, db
) -> None:
    fill_cache(db)
    opened(db, 3)
    escalate(db, "t1", "101", 1)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        panel = app.screen
        assert isinstance(panel, SinceScreen)
        lines = [str(c.text) for c in panel.changes]
        await pilot.press("o")  # the first change: the escalation at Acme
        await settle(pilot)
        account = app.screen
        assert isinstance(account, AccountScreen) and account.account_id == "101"
    assert "escalation opened: Outage t1" in lines

    again = make_app(settings)  # opened again: nothing new, no panel
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(again.screen, MainScreen)


async def test_enter_or_escape_closes_the_panel(settings: Settings, db) -> None:
    fill_cache(db)
    for key in ("enter", "escape"):
        opened(db, 3)
        escalate(db, f"t-{key}", "101", 1)
        app = make_app(settings)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, SinceScreen)
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, MainScreen), key


async def test_no_panel_when_nothing_changed(settings: Settings, db) -> None:
    fill_cache(db)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:  # first opening: remembered
        await settle(pilot)
        first = isinstance(app.screen, MainScreen)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        second = isinstance(app.screen, MainScreen)
    assert first and second
