"""Issue #6 (B2): a whole analytics pull staged in a scratch file and copied into the cache by a
thread, and the fake PostHog's answers encoded ahead (the same bytes, less of the client's CPU).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import sqlite_utils

from csm_tui.fakes.portfolio import generate_portfolio
from csm_tui.fakes.posthog import FakePostHog
from csm_tui.sources.posthog import user_activity_query, weekly_usage_query
from csm_tui.store.db import open_cache
from csm_tui.sync.page_staging import CHUNK_ROWS, PageStaging

USAGE = ("account_id", "week", "event", "count", "users")
KEY = ("account_id", "week", "event")


def _cache(tmp_path: Path) -> sqlite_utils.Database:
    return open_cache(tmp_path / "cache.db")


def _copy(staged: PageStaging, *, merge: bool = False) -> tuple[int, list[int]]:
    """Finish and copy into the cache; the rows written and what ``then`` saw in its
    transaction (the cache's row count)."""
    seen: list[int] = []

    async def go() -> int:
        await staged.finish(merge=merge)
        try:
            return await staged.replace_all(
                lambda db: seen.append(
                    db.execute("SELECT COUNT(*) FROM usage_weekly").fetchone()[0]
                )
            )
        finally:
            await staged.drop()

    return asyncio.run(go()), seen


def test_a_whole_pull_replaces_the_table_and_a_later_duplicate_wins(
    tmp_path: Path,
) -> None:
    db = _cache(tmp_path)
    db["usage_weekly"].insert(
        {"account_id": "old", "week": "2026-01-05", "event": "login", "count": 1, "users": 1}
    )
    staged = PageStaging.beside(db, "usage_weekly", USAGE, KEY)
    # More rows than one INSERT takes, so a page spans several statements.
    many = [(f"acct-{i:05d}", "2026-11-16", "login", i, 1) for i in range(CHUNK_ROWS + 7)]
    staged.add(many)
    staged.add([("acct-00003", "2026-11-16", "login", 999, 4)])  # a later page, same key
    _, seen = _copy(staged)
    assert seen == [len(many)], "the cursor's callback ran inside the copy's transaction"
    rows = db.execute("SELECT account_id, count, users FROM usage_weekly ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == sorted(r[0] for r in many), "the old row is gone"
    assert ("acct-00003", 999, 4) in rows, "the later row won"
    assert not staged.path.exists(), "the scratch file is deleted"


def test_two_groups_of_one_account_add_their_usage_up(tmp_path: Path) -> None:
    db = _cache(tmp_path)
    staged = PageStaging.beside(db, "usage_weekly", USAGE, KEY)
    staged.add([("a", "2026-11-16", "login", 3, 2), ("a", "2026-11-16", "export_run", 1, 1)])
    staged.add([("a", "2026-11-16", "login", 4, 1)])
    _copy(staged, merge=True)
    assert db.execute("SELECT event, count, users FROM usage_weekly ORDER BY event").fetchall() == [
        ("export_run", 1, 1),
        ("login", 7, 3),
    ]


def test_a_scratch_file_left_by_a_killed_sync_is_replaced(tmp_path: Path) -> None:
    db = _cache(tmp_path)
    left = tmp_path / "cache.db-staging-usage_weekly"
    left.write_bytes(b"not a database")
    staged = PageStaging.beside(db, "usage_weekly", USAGE, KEY)
    staged.add([("a", "2026-11-16", "login", 3, 2)])
    written, _ = _copy(staged)
    assert written == 1 and not left.exists()


def _answer(fake: FakePostHog, query: str) -> bytes:
    request = httpx.Request(
        "POST",
        "http://posthog.test/api/projects/1/query/",
        headers={"Authorization": f"Bearer {fake.token}"},
        json={"query": {"kind": "HogQLQuery", "query": query}},
    )
    response = fake.handler(request)
    assert response.status_code == 200
    return response.content


def test_answers_encoded_ahead_are_the_same_bytes() -> None:
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    portfolio = generate_portfolio(40, seed=3, today=date(2026, 11, 18))
    plain = FakePostHog(portfolio, clock=lambda: now)
    ahead = FakePostHog(portfolio, clock=lambda: now)
    ahead.encode_ahead()
    queries = [
        weekly_usage_query(0, 26, 500, 0),
        weekly_usage_query(0, 26, 500, 500),
        weekly_usage_query(0, 2, 50_000, 0),
        user_activity_query(0, 26, 300, 300),
        user_activity_query(0, 26, 50_000, 0, active_today=True),
    ]
    for query in queries:
        expected = _answer(plain, query)
        assert _answer(ahead, query) == expected, query
    body = json.loads(_answer(ahead, queries[1]))
    assert body["offset"] == 500 and len(body["results"]) == 500 and body["hasMore"] is True
