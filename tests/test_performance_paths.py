"""The fast paths give the same answers as the slow ones they replace.

A one-account rescore reads the book's reference (tiers, use per seat) that the last full rescore
stored instead of scanning all the usage; after a logged touch the app moves the one changed row
to its rank instead of reading the whole list again.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlite_utils
from support.demo_book import synced_demo

from csm_tui.config import Settings
from csm_tui.store import views
from csm_tui.store.actions import log_touch
from csm_tui.store.db import open_cache
from csm_tui.store.rescore import rescore
from csm_tui.ui.app import CsmApp

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SCORE_COLUMNS = (
    "health, band, drivers, stage, stage_reason, tier, priority, reasons, trend, opportunity"
)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A 120-account demo book synced from the in-process fakes (its pristine cache)."""
    with synced_demo(tmp_path_factory.mktemp("perf"), 120, 11, now=NOW) as settings:
        yield settings


@pytest.fixture
def book(synced: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A copy of the synced cache for one test to change."""
    copy = synced.model_copy(update={"data_dir": tmp_path / "data"})
    copy.cache_path.parent.mkdir(parents=True)
    shutil.copy(synced.cache_path, copy.cache_path)
    yield copy


def _scores(db: sqlite_utils.Database) -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in db.execute(f"SELECT account_id, {SCORE_COLUMNS} FROM scores").fetchall()
    }


def _neglected(db: sqlite_utils.Database) -> list[str]:
    """Accounts whose relationship points a touch today would raise."""
    return [
        r[0]
        for r in db.execute(
            "SELECT account_id FROM scores WHERE drivers LIKE '%\"relationship\"%' "
            "ORDER BY priority DESC, account_id LIMIT 3"
        ).fetchall()
    ]


def test_a_one_account_rescore_from_the_stored_reference_equals_a_full_rescore(
    book: Settings,
) -> None:
    db = open_cache(book.cache_path)
    week_rows = db.execute("SELECT COUNT(*) FROM score_reference").fetchone()[0]
    active = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
    assert week_rows == active  # the sync's full rescore stored the book's reference
    touched = _neglected(db)
    before = _scores(db)
    for account_id in touched:
        log_touch(
            db,
            account_id=account_id,
            kind="call",
            summary="Checked in",
            occurred_at=NOW.isoformat(),
            sentiment="positive",
        )
        rescore(db, book, TODAY, account_ids=[account_id])
    partial = _scores(db)
    rescore(db, book, TODAY)
    full = _scores(db)
    assert any(partial[a] != before[a] for a in touched)  # the touches did change scores
    assert partial == full
    db.conn.close()


def test_an_account_change_empties_the_stored_reference_until_the_next_full_rescore(
    book: Settings,
) -> None:
    db = open_cache(book.cache_path)
    richest = db.execute(
        "SELECT id FROM accounts WHERE archived = 0 ORDER BY arr DESC LIMIT 1"
    ).fetchone()[0]
    # A sync changed an ARR but its rescore never ran (a crash): the stored tiers and use per
    # seat are stale, so a one-account rescore must not read them.
    db.execute("UPDATE accounts SET arr = 1 WHERE id = ?", [richest])
    db.conn.commit()
    assert db.execute("SELECT COUNT(*) FROM score_reference").fetchone()[0] == 0
    target = _neglected(db)[0]
    assert rescore(db, book, TODAY, account_ids=[target]).accounts == 1  # scans the usage
    partial = _scores(db)[target]
    rescore(db, book, TODAY)
    active = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
    assert db.execute("SELECT COUNT(*) FROM score_reference").fetchone()[0] == active
    assert partial[0] == _scores(db)[target][0]  # the same health either way
    db.conn.close()


async def test_a_logged_touch_moves_its_row_to_the_rank_a_full_read_gives(
    book: Settings,
) -> None:
    app = CsmApp(book, today=TODAY, clock=lambda: NOW, auto_sync=False)
    app.detail_debounce = 0
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        attention = app.main.attention
        await pilot.press("end")  # the last row: a touch can only move it up
        await app.workers.wait_for_complete()
        await pilot.pause()
        target = attention.current
        assert target is not None
        await pilot.press("l")
        await pilot.pause()
        await pilot.click("#summary")
        await pilot.press(*"Long call, all good", "ctrl+s")
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        db = open_cache(book.cache_path)
        fresh = views.attention_rows(db, TODAY, last_touch=False)  # as the list reads it
        db.conn.close()
        assert [r.account_id for r in attention.rows] == [r.account_id for r in fresh]
        assert attention.rows == fresh
        moved = attention.current
        assert moved is not None and moved.account_id == target.account_id  # cursor followed
        assert app.main.detail.account_id == target.account_id
