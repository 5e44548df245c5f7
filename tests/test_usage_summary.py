"""The per-week usage summary a full rescore reads: it always says what usage_weekly says.

The summary follows the analytics pull's record in sync_state (a trigger notes the first week a
pull replaced); scores computed from it must equal scores computed from usage_weekly itself.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder
from support.clocks import Clock
from support.sync import FAST

from csm_tui.config import Settings, load_settings
from csm_tui.domain.models import week_start
from csm_tui.fakes.portfolio import generate_portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.store.db import open_cache
from csm_tui.store.rescore import rescore
from csm_tui.store.usage_summary import refresh_usage_summary, summary_current
from csm_tui.sync.engine import sync_blocking

WEEK = week_start(TODAY)
SCORE_COLUMNS = (
    "account_id, health, band, drivers, stage, stage_reason, tier, priority, reasons, trend, "
    "opportunity"
)


def weeks_ago(n: int) -> str:
    return (WEEK - timedelta(weeks=n)).isoformat()


def record_pull(db: sqlite_utils.Database, cursor: str, at: str = "2026-11-23T06:00:00") -> None:
    """What the analytics pull writes to sync_state after replacing the weeks from ``cursor``."""
    db.execute(
        "INSERT INTO sync_state (source, object, cursor, last_success) "
        "VALUES ('analytics', 'usage_weekly', ?, ?) ON CONFLICT(source, object) DO UPDATE SET "
        "cursor = excluded.cursor, last_success = excluded.last_success",
        [cursor, at],
    )
    db.conn.commit()


def scores(db: sqlite_utils.Database) -> list[tuple]:
    return db.execute(f"SELECT {SCORE_COLUMNS} FROM scores ORDER BY account_id").fetchall()


def summary(db: sqlite_utils.Database) -> list[tuple]:
    return db.execute("SELECT * FROM usage_summary ORDER BY account_id, week").fetchall()


def rebuilt(db: sqlite_utils.Database, settings: Settings) -> list[tuple]:
    """The summary made again from nothing (what it must equal after any refresh)."""
    kept = summary(db)
    db.execute("UPDATE usage_summary_state SET stale_from = ''")
    db.conn.commit()
    refresh_usage_summary(db, settings)
    fresh = summary(db)
    assert kept == fresh
    return fresh


def scores_without_summary(db: sqlite_utils.Database, settings: Settings) -> list[tuple]:
    """The scores computed from usage_weekly itself (no pull recorded: the summary unused)."""
    saved = db.execute("SELECT * FROM sync_state").fetchall()
    db.execute("DELETE FROM sync_state")
    db.conn.commit()
    rescore(db, settings, TODAY)
    result = scores(db)
    db.conn.executemany("INSERT INTO sync_state VALUES (?, ?, ?, ?, ?, ?, ?)", saved)
    db.conn.commit()
    return result


def book(cache: CacheBuilder) -> None:
    """Accounts whose usage tells different stories (steady, falling, new, quiet, none)."""
    for i in range(4):
        cache.healthy(f"h{i}", arr=10_000 * (i + 1))
    cache.account("fall", arr=25_000)
    cache.usage("fall", scale={1: 0.2, 2: 0.3, 3: 0.3, 4: 0.5})
    cache.account("new", arr=8_000, started_days_ago=30)
    cache.usage("new", weeks=range(1, 3), events={"login": 12})
    cache.account("quiet", arr=12_000)
    cache.usage("quiet", weeks=range(6, 20))
    cache.account("none", arr=5_000)


def test_scores_read_from_the_summary_equal_scores_summed_from_the_usage(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    book(CacheBuilder(db))
    record_pull(db, weeks_ago(26))

    rescore(db, settings, TODAY)

    assert summary_current(db, settings)  # the full rescore built it and read it
    assert scores(db) == scores_without_summary(db, settings)
    fall = dict(db.execute("SELECT account_id, drivers FROM scores").fetchall())["fall"]
    assert "down" in fall  # a usage fall is still explained by its events


def test_a_pull_makes_the_next_full_rescore_recompute_the_weeks_it_replaced(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    book(cache)
    record_pull(db, weeks_ago(26))
    rescore(db, settings, TODAY)
    before = scores(db)

    # The next pull replaces the last two weeks: h0's usage collapses, "none" starts.
    db.execute("DELETE FROM usage_weekly WHERE week >= ?", [weeks_ago(2)])
    cache.usage("h0", weeks=range(1, 3), events={"login": 2})
    cache.usage("none", weeks=range(1, 3), events={"login": 30, "report_created": 3})
    record_pull(db, weeks_ago(2), at="2026-11-23T07:00:00")
    assert not summary_current(db, settings)

    rescore(db, settings, TODAY)

    assert summary_current(db, settings)
    assert summary(db) == rebuilt(db, settings)
    after = scores(db)
    assert after != before
    assert after == scores_without_summary(db, settings)


def test_two_pulls_before_a_rescore_make_it_recompute_from_the_earlier_cursor(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    book(cache)
    record_pull(db, weeks_ago(26))
    rescore(db, settings, TODAY)

    db.execute("DELETE FROM usage_weekly WHERE account_id = 'h1' AND week >= ?", [weeks_ago(8)])
    record_pull(db, weeks_ago(8), at="2026-11-23T07:00:00")
    db.execute("DELETE FROM usage_weekly WHERE account_id = 'h2' AND week >= ?", [weeks_ago(2)])
    record_pull(db, weeks_ago(2), at="2026-11-23T08:00:00")
    rescore(db, settings, TODAY)

    assert summary(db) == rebuilt(db, settings)
    assert scores(db) == scores_without_summary(db, settings)


def test_weeks_a_full_pull_dropped_leave_the_summary(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    book(CacheBuilder(db))
    record_pull(db, weeks_ago(26))
    rescore(db, settings, TODAY)
    assert db.execute("SELECT MIN(week) FROM usage_summary").fetchone()[0] < weeks_ago(10)

    # A full pull of 10 weeks: everything older is gone from usage_weekly.
    db.execute("DELETE FROM usage_weekly WHERE week < ?", [weeks_ago(10)])
    record_pull(db, weeks_ago(10), at="2026-11-23T07:00:00")
    rescore(db, settings, TODAY)

    assert db.execute("SELECT MIN(week) FROM usage_summary").fetchone()[0] == weeks_ago(10)
    assert summary(db) == rebuilt(db, settings)
    assert scores(db) == scores_without_summary(db, settings)


def test_new_event_weights_rebuild_the_summary(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    book(CacheBuilder(db))
    record_pull(db, weeks_ago(26))
    rescore(db, settings, TODAY)
    heavier = settings.model_copy(
        update={
            "analytics": settings.analytics.model_copy(
                update={"event_weights": {"login": 3.0, "report_created": 1.0}}
            )
        }
    )
    assert not summary_current(db, heavier)

    rescore(db, heavier, TODAY)

    assert summary_current(db, heavier)
    assert scores(db) == scores_without_summary(db, heavier)


def test_a_one_account_rescore_reads_the_usage_itself_while_the_summary_is_stale(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    book(cache)
    record_pull(db, weeks_ago(26))
    rescore(db, settings, TODAY)
    db.execute("DELETE FROM usage_weekly WHERE account_id = 'h3' AND week >= ?", [weeks_ago(4)])
    record_pull(db, weeks_ago(4), at="2026-11-23T07:00:00")

    rescore(db, settings, TODAY, account_ids=["h3"])

    assert not summary_current(db, settings)  # left for the next full rescore
    partial = {r[0]: r for r in scores(db)}["h3"]
    rescore(db, settings, TODAY)
    assert {r[0]: r for r in scores(db)}["h3"] == partial


def test_incremental_syncs_from_the_fakes_keep_the_summary_equal_to_a_rebuild(
    tmp_path: Any,
) -> None:
    portfolio = generate_portfolio(12, 3, today=TODAY)
    clock = Clock(portfolio.now + timedelta(hours=8))
    apis = FakeApis(portfolio, clock=clock)
    settings = load_settings(
        data_dir=tmp_path / "data",
        crm={"base_url": "http://127.0.0.1:9", "token": "demo-hubspot-token"},
        analytics={"base_url": "http://127.0.0.1:9", "token": "demo-posthog-token", "project_id": "1"},
    )  # fmt: skip
    policy = dataclasses.replace(FAST, analytics_page_size=400)

    def sync(**kw: Any) -> None:
        sync_blocking(
            settings, transport=apis.transport(), clock=clock, today=TODAY, policy=policy, **kw
        )

    sync(full=True)
    db = open_cache(settings.cache_path)
    assert summary_current(db, settings) and summary(db)
    assert summary(db) == rebuilt(db, settings)
    for change in (1, 2):
        clock.advance(hours=1)
        # The analytics corrects the last weeks: more events, and one account's last week gone.
        usage = [
            (a, w, e, n + change, u)
            for a, w, e, n, u in apis.posthog.usage
            if not (w == weeks_ago(1) and a == apis.posthog.usage[0][0])
        ]
        apis.posthog.set_data(usage, apis.posthog.users)
        before = summary(db)
        sync()
        assert summary_current(db, settings)
        assert summary(db) != before
        assert summary(db) == rebuilt(db, settings)
    db.conn.close()
