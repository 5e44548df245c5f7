"""What the scoring loader reads from a cache built by support.cache_builder."""

from __future__ import annotations

from datetime import timedelta

import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder

from csm_tui.config import Settings
from csm_tui.store.scoring_inputs import load_book


def test_the_loader_reads_weighted_weekly_points_features_and_people(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    cache.account("a1")
    cache.usage("a1", weeks=range(1, 3), events={"login": 10, "export_run": 2}, users=5)
    cache.contact("a1", "jane@a1.example.com", "admin", active_days_ago=None)
    cache.product_user("a1", "jane@a1.example.com", 30, seen_days_ago=3)
    cache.account("gone", archived=1)

    book = load_book(db, settings, TODAY)

    assert set(book.inputs) == {"a1"}
    weeks = book.inputs["a1"].usage
    # login weighs 1, export_run 6: 10 + 12 points a week.
    assert [w.points for w in weeks] == [22.0, 22.0]
    assert weeks[0].features == frozenset({"export_run"})
    # The contact's last activity comes from the analytics when the CRM has none.
    person = book.inputs["a1"].people[0]
    assert person.last_active == TODAY - timedelta(days=3)
    assert book.inputs["a1"].seats_used == 1


def test_the_loader_reads_only_the_accounts_asked_for(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    cache.healthy("a1")
    cache.healthy("a2")

    book = load_book(db, settings, TODAY, account_ids=["a2"])

    assert set(book.inputs) == {"a2"}
    assert book.inputs["a2"].touches and book.inputs["a2"].surveys
    assert len(book.arrs) == 2  # the book's ARR still covers everyone (ARR percentiles)


def test_an_old_touch_that_recorded_a_feeling_is_still_read(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    cache.account("a1")
    cache.touch("a1", 400, "negative")
    cache.touch("a1", 380)
    cache.touch("a1", 3)

    touches = load_book(db, settings, TODAY).inputs["a1"].touches

    assert TODAY - timedelta(days=3) in {t.occurred for t in touches}
    felt = [t for t in touches if t.sentiment]
    assert [(t.occurred, t.sentiment) for t in felt] == [(TODAY - timedelta(days=400), "negative")]
