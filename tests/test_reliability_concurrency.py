"""Concurrency: the app open while `csm-tui sync` runs from cron, and two syncs at once.

The cron sync is the real command in a subprocess (the wrapper of support.loopback),
held still inside one of its write transactions (it holds SQLite's write lock and the sync
lock there) until the test lets it go on, so every overlap below happens for certain.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from support.apps import names, settle
from support.loopback import TODAY, World, book_company_ids, finish, integrity_ok

from csm_tui.ui.app import CsmApp

HOLD_AT = r"INSERT INTO sync_state .*'companies'"  # inside the companies' last transaction


@pytest.fixture
def make_world(world: Callable[..., World]) -> Callable[..., World]:
    """A case's world: both fakes on loopback and a synced cache (see support.loopback),
    the fakes' clock at least a minute past the CRM's edits.

    HubSpot's search shows a change only after its index lag (30 s by default in the fake,
    counted on the fakes' clock, which stands still unless moved). The cron sync finds the
    book's modified companies by search, so it must run once the lag has passed, as a sync
    minutes after the edits does: else the renames reach the cache only with the sync after.
    (Where the world already moved its clock on, one more minute changes nothing.)
    """

    def make(*args: bool, **kwargs: bool) -> World:
        w = world(*args, **kwargs)
        w.apis.hubspot.clock.advance(minutes=1)  # the one Clock both fakes share
        return w

    return make


class HeldSync:
    """A cron `csm-tui sync` that stops inside a write transaction until ``go()``."""

    def __init__(self, w: World, tmp_path: Path) -> None:
        self.flag = tmp_path / "cron-sync"
        self.proc = w.run(
            "sync",
            extra_env={"CSM_TEST_PAUSE_SQL": HOLD_AT, "CSM_TEST_PAUSE_FILE": str(self.flag)},
        )

    def wait_held(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.flag.with_suffix(".paused").exists():
            assert self.proc.poll() is None, self.proc.communicate()[1]
            assert time.monotonic() < deadline, "the cron sync never reached its write"
            time.sleep(0.02)

    def go(self) -> tuple[int, str, str]:
        self.flag.with_suffix(".go").touch()
        return finish(self.proc)


def test_a_second_sync_exits_in_one_clear_line_while_the_first_one_finishes(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    w = make_world(False)
    first = HeldSync(w, tmp_path)
    first.wait_held()
    second = subprocess.run(
        [*first.proc.args[:2], "sync"], env=w.env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 75  # EX_TEMPFAIL: cron may simply try again later
    assert second.stderr.strip() == (
        "csm-tui: Another sync is running for workspace default; try again when it ends."
    )
    code, out, err = first.go()
    assert code == 0, err
    assert "Sync done: pushed 4" in out
    assert dict(w.apis.hubspot.created) == {"notes": 1, "calls": 1, "tasks": 1, "enrollments": 1}
    integrity_ok(w.settings.cache_path)


async def test_the_open_app_reads_and_saves_while_a_cron_sync_holds_the_write_lock(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    w = make_world(False, with_actions=False)
    snoozed = book_company_ids(w.apis, w.portfolio)[5]
    app = CsmApp(w.settings, today=TODAY, auto_sync=False)
    app.detail_debounce = 0
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        shown = names(app)
        assert shown
        cron = HeldSync(w, tmp_path)
        await asyncio.to_thread(cron.wait_held)
        app.listing.reload_rows()  # readers never wait for the writer (WAL)
        await settle(pilot)
        assert len(names(app)) >= len(shown)  # (a failed read would leave a one-line notice)
        app.saving.snooze_account(snoozed, TODAY + timedelta(days=7), "on holiday")
        await pilot.pause(0.2)  # the save waits for the sync's transaction (busy_timeout)
        code, _, err = await asyncio.to_thread(cron.go)
        assert code == 0, err
        await settle(pilot)
        problems = [n.message for n in app._notifications if n.severity != "information"]
        assert not problems, problems
    conn = sqlite3.connect(w.settings.cache_path)
    until = conn.execute("SELECT until FROM snoozes WHERE account_id = ?", [snoozed]).fetchone()
    renamed = conn.execute("SELECT COUNT(*) FROM accounts WHERE name LIKE 'Renamed%'").fetchone()
    conn.close()
    assert until == ((TODAY + timedelta(days=7)).isoformat(),)
    assert renamed == (2,), "the sync's own writes went through as well"


async def test_the_open_app_shows_what_a_cron_sync_brought(
    make_world: Callable[..., World],
) -> None:
    w = make_world(False, with_actions=False)
    app = CsmApp(w.settings, today=TODAY, auto_sync=False)
    app.detail_debounce = 0
    app.sync_watch_seconds = 0.1  # poll quickly in the test
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not [n for n in names(app) if n.startswith("Renamed")]
        code, _, err = await asyncio.to_thread(finish, w.run("sync"))
        assert code == 0, err
        for _ in range(50):  # up to 5 s of the app's own time, no user action
            await pilot.pause(0.1)
            await app.workers.wait_for_complete()
            await pilot.pause()
            if any(n.startswith("Renamed") for n in names(app)):
                break
        assert any(n.startswith("Renamed") for n in names(app))
