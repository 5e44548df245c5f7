"""Later syncs do only what changed: the users active today, the rows that differ, the accounts
that changed rescored; the whole cache is checked where it must be, and damage met on the way
sets the cache aside before anything is written."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.clocks import Clock
from support.sync import ALL_TABLES, SMALL_PAGES, TODAY, both_settings, table_rows

import csm_tui.sync.engine as engine
from csm_tui.config import Settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.store.db import CacheError, open_cache
from csm_tui.store.rescore import rescore
from csm_tui.sync.engine import SyncError, sync_blocking
from csm_tui.sync.progress import SyncReport


@pytest.fixture
def portfolio() -> Portfolio:
    return generate_portfolio(12, 5, today=TODAY)


@pytest.fixture
def settings(portfolio: Portfolio) -> Settings:
    return both_settings(portfolio.demo_owner_email)


def run(settings: Settings, apis: FakeApis, clock: Clock, **kw: Any) -> SyncReport:
    return sync_blocking(
        settings,
        transport=apis.transport(),
        clock=clock,
        today=clock.now.date(),
        policy=SMALL_PAGES,
        **kw,
    )


def user_queries(apis: FakeApis, since: int = 0) -> list[str]:
    return [q for q in apis.posthog.queries[since:] if "person_id AS user" in q]


def scores(settings: Settings) -> dict[str, dict[str, Any]]:
    db = open_cache(settings.cache_path, create=False)
    try:
        return {r["account_id"]: r for r in db["scores"].rows}
    finally:
        db.conn.close()


def active_today(apis: FakeApis, clock: Clock, n: int = 2) -> list[tuple[Any, ...]]:
    """Make the first ``n`` users of the fake active an hour ago, with more events."""
    users = list(apis.posthog.users)
    seen = (clock.now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for i in range(n):
        account, user, email, _, events = users[i]
        users[i] = (account, user, email, seen, events + 11)
    apis.posthog.set_data(list(apis.posthog.usage), users)
    return users[:n]


def test_a_later_sync_the_same_day_reads_only_users_active_today(
    portfolio: Portfolio, apis: FakeApis, clock: Clock, settings: Settings
) -> None:
    run(settings, apis, clock)
    assert user_queries(apis) and "HAVING" not in user_queries(apis)[0], "the first reads all"
    moved = active_today(apis, clock)
    clock.advance(hours=2)
    n = len(apis.posthog.queries)
    report = run(settings, apis, clock)
    later = user_queries(apis, n)
    # Active since the project's midnight (the fake project is in New York, not UTC).
    day = clock.now.astimezone(ZoneInfo(apis.posthog.timezone)).date()
    assert later and all(
        f"HAVING max(timestamp) >= toDateTime('{day} 00:00:00')" in q for q in later
    )
    assert report.pulled["user_activity"] == len(moved), "only the users active today came"
    fresh = both_settings(portfolio.demo_owner_email, workspace="fresh")
    run(fresh, apis, clock)
    assert table_rows(settings, ALL_TABLES) == table_rows(fresh, ALL_TABLES)


def test_the_first_sync_of_a_new_day_reads_every_user_again(
    apis: FakeApis, clock: Clock, settings: Settings
) -> None:
    first = run(settings, apis, clock)
    clock.advance(days=1)
    n = len(apis.posthog.queries)
    report = run(settings, apis, clock)
    assert user_queries(apis, n) and "HAVING" not in user_queries(apis, n)[0]
    assert report.pulled["user_activity"] == first.pulled["user_activity"] > 0


@pytest.fixture
def rescored(monkeypatch: pytest.MonkeyPatch) -> list[set[str] | None]:
    """What each sync asked the rescore for: None for the whole book, else the accounts."""
    asked: list[set[str] | None] = []
    real = engine._rescore

    def spy(db: Any, settings: Settings, today: Any, account_ids: Any = None) -> int | None:
        asked.append(None if account_ids is None else set(account_ids))
        return real(db, settings, today, account_ids)

    monkeypatch.setattr(engine, "_rescore", spy)
    return asked


def test_a_sync_that_changed_a_few_accounts_rescores_only_those_as_a_full_rescore_would(
    portfolio: Portfolio,
    apis: FakeApis,
    clock: Clock,
    settings: Settings,
    rescored: list[set[str] | None],
) -> None:
    run(settings, apis, clock)
    assert rescored == [None], "a first sync scores the whole book"
    book = set(scores(settings))
    company = next(c for c in portfolio.companies if c["id"] in book)
    contact = next(c for c in portfolio.contacts if set(c["associations"]["companies"]) & book)
    clock.advance(minutes=30)
    apis.hubspot.update("companies", company["id"], {"industry": "Robotics"})
    apis.hubspot.update("contacts", contact["id"], {"jobtitle": "Head of Everything"})
    clock.advance(minutes=30)
    run(settings, apis, clock)
    asked = rescored[-1]
    assert asked is not None and asked < book
    assert {company["id"], *(set(contact["associations"]["companies"]) & book)} <= asked
    # The scores stored are a whole-book rescore's of the same cache.
    after = scores(settings)
    db = open_cache(settings.cache_path, create=False)
    rescore(db, settings, clock.now.date())
    db.conn.close()
    assert after == scores(settings)


def test_changed_weekly_usage_rescores_the_whole_book(
    apis: FakeApis, clock: Clock, settings: Settings, rescored: list[set[str] | None]
) -> None:
    run(settings, apis, clock)
    last_week = max(r[1] for r in apis.posthog.usage)
    apis.posthog.set_data(
        [(a, w, e, n + 3 if w == last_week else n, u) for a, w, e, n, u in apis.posthog.usage],
        list(apis.posthog.users),
    )
    clock.advance(hours=1)
    run(settings, apis, clock)
    assert rescored == [None, None]


def test_an_unchanged_repull_writes_nothing_and_rescores_nothing(
    apis: FakeApis, clock: Clock, settings: Settings, rescored: list[set[str] | None]
) -> None:
    run(settings, apis, clock)
    conn = sqlite3.connect(settings.cache_path)
    usage_before = conn.execute("SELECT rowid, * FROM usage_weekly ORDER BY rowid").fetchall()
    conn.close()
    clock.advance(hours=1)
    report = run(settings, apis, clock)
    assert report.pulled["usage_weekly"] > 0, "the last weeks were pulled again"
    conn = sqlite3.connect(settings.cache_path)
    usage_after = conn.execute("SELECT rowid, * FROM usage_weekly ORDER BY rowid").fetchall()
    conn.close()
    assert usage_after == usage_before, "same rows, not even rewritten (same rowids)"
    assert rescored == [None], "nothing changed: nothing rescored (today's scores stand)"


def test_after_a_failed_sync_the_next_checks_the_whole_cache_and_rescores_the_whole_book(
    apis: FakeApis,
    clock: Clock,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    rescored: list[set[str] | None],
) -> None:
    checked: list[tuple[str, ...]] = []
    real_check = engine._quick_check

    def spy(path: Path, tables: tuple[str, ...] = ()) -> str:
        checked.append(tables)
        return real_check(path, tables)

    monkeypatch.setattr(engine, "_quick_check", spy)
    run(settings, apis, clock)
    assert checked == [()], "the first sync checks the whole file"
    clock.advance(hours=1)
    run(settings, apis, clock)
    assert checked[-1] == engine.LOCAL_WORK, "a sync after one that ended well: local work only"
    apis.faults.add(path=r"/api/projects/1/query", status=502, times=1000)
    with pytest.raises(SyncError):
        run(settings, apis, clock)
    apis.faults.clear()
    assert rescored == [None], "the second sync changed nothing, so rescored nothing"
    clock.advance(minutes=5)
    run(settings, apis, clock)
    assert checked[-1] == (), "after a failure, the whole file again"
    assert rescored == [None, None], "and the whole book: what the failed sync wrote is unknown"


def test_damage_met_during_a_sync_sets_the_cache_aside_untouched_in_one_line(
    portfolio: Portfolio, apis: FakeApis, clock: Clock, settings: Settings
) -> None:
    run(settings, apis, clock)
    path = settings.cache_path
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    [root] = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'accounts'").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    data[start : start + page_size] = b"\xde\xad\xbe\xef" * (page_size // 4)
    path.write_bytes(bytes(data))
    clock.advance(hours=1)
    with pytest.raises(CacheError) as caught:
        run(settings, apis, clock)
    message = str(caught.value)
    assert "\n" not in message and "damaged" in message and "kept aside" in message
    [kept] = [
        f for f in path.parent.glob("cache.db.damaged-*") if not f.name.endswith(("-wal", "-shm"))
    ]
    assert kept.name in message
    assert kept.read_bytes() == bytes(data), "nothing was written into the damaged file"
    report = run(settings, apis, clock)  # a fresh cache, rebuilt from the sources
    assert report.pulled["companies"] > 0


def test_an_account_joining_the_book_gets_its_whole_usage_history(
    portfolio: Portfolio, apis: FakeApis, clock: Clock, settings: Settings
) -> None:
    # A later sync re-pulls only the last weeks of usage: an account that changes hands had
    # only those weeks (no baseline, so its trend and any cliff were unknown) until --full.
    run(settings, apis, clock)
    owner = next(o["id"] for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    theirs = next(c for c in portfolio.companies if c["properties"]["hubspot_owner_id"] != owner)
    apis.hubspot.update("companies", theirs["id"], {"hubspot_owner_id": owner})
    clock.advance(hours=2)
    n = len(apis.posthog.queries)
    run(settings, apis, clock)
    backfill = [q for q in apis.posthog.queries[n:] if "timestamp < " in q]
    domain = theirs["properties"]["domain"]
    assert backfill and all(f"= '{domain}'" in q for q in backfill)
    db = open_cache(settings.cache_path, create=False)
    try:
        weeks = db.execute(
            "SELECT COUNT(DISTINCT week) FROM usage_weekly WHERE account_id = ?", [theirs["id"]]
        ).fetchone()[0]
    finally:
        db.conn.close()
    assert weeks > settings.analytics.repull_weeks + 1
    fresh = both_settings(portfolio.demo_owner_email, workspace="fresh")
    run(fresh, apis, clock)
    assert table_rows(settings, ALL_TABLES) == table_rows(fresh, ALL_TABLES)
    # Once whole, never asked for again.
    clock.advance(hours=1)
    n = len(apis.posthog.queries)
    run(settings, apis, clock)
    assert not [q for q in apis.posthog.queries[n:] if "timestamp < " in q]
