"""Health as of a past day: what the CSM saw that day, or computed from the inputs of that day."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder
from support.scores import scores, small_book

from csm_tui.config import Settings
from csm_tui.store.as_of import computed_health, health_as_of
from csm_tui.store.db import open_cache
from csm_tui.store.rescore import rescore

DAY = TODAY - timedelta(weeks=4)  # a Monday, four weeks back


def a_story(cache: CacheBuilder, *, up_to_days_ago: int = 0) -> None:
    """One account's months; only what is dated ``up_to_days_ago`` or earlier is written."""

    def kept(days_ago: int) -> bool:
        return days_ago >= up_to_days_ago

    cache.account("a1", arr=30_000)
    cache.account("a2", arr=10_000)
    cache.usage("a2", weeks=range(1, 20))
    # Usage fell in the weeks after the day (weeks 1-3 start after it; week 4 starts on it).
    later = range(1, 4) if kept(0) else range(0)
    cache.usage("a1", weeks=range(4, 20))
    cache.usage("a1", weeks=later, scale=dict.fromkeys(later, 0.3))
    cache.contact("a1", "admin@a1.example.com", "admin", 40)
    # The latest touch before the day is older than the loader's horizon.
    cache.touch("a1", 28 + 250, "positive")
    for days_ago, sentiment in ((5, "negative"), (12, None)):
        if kept(days_ago):
            cache.touch("a1", days_ago, sentiment)
    cache.survey("a1", 9, 60)
    if kept(5):
        cache.survey("a1", 2, 5)
    cache.ticket("a2", opened_days_ago=90, closed_days_ago=80)
    if kept(3):
        cache.ticket("a1", opened_days_ago=3, escalated=True)
    # Open on the day and aged; closed since (the day's cache has it open).
    if kept(0):
        cache.ticket("a1", opened_days_ago=35, closed_days_ago=10)
    else:
        cache.ticket("a1", opened_days_ago=35)
    if kept(9):
        cache.step("a1", "Send the renewal quote", due_days_ago=2)  # created 9 days ago


def test_a_past_day_is_scored_from_what_was_known_that_day(
    db: sqlite_utils.Database, settings: Settings, tmp_path: Path
) -> None:
    a_story(CacheBuilder(db))
    then = open_cache(tmp_path / "then.db")
    a_story(CacheBuilder(then), up_to_days_ago=28)

    got = computed_health(db, settings, DAY)["a1"]
    expected = computed_health(then, settings, DAY)["a1"]

    assert (got.score, got.drivers) == (expected.score, expected.drivers)
    relationship = next(d for d in got.drivers if d.component == "relationship")
    assert "Last touch 250 days ago" in relationship.reason
    sentiment = next(d for d in got.drivers if d.component == "sentiment")
    assert "NPS 9" in sentiment.reason and "last touch positive" in sentiment.reason
    assert "escalated" not in got.drivers[4].reason and "open > 3 days" in got.drivers[4].reason
    # And today's score does see them.
    now = computed_health(db, settings, TODAY)["a1"]
    assert now.score is not None and got.score is not None and now.score < got.score


def test_computed_today_matches_what_the_rescore_stored(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    a_story(cache)
    rescore(db, settings, TODAY)
    stored = scores(db)

    whole = computed_health(db, settings, TODAY)
    one = computed_health(db, settings, TODAY, ["quiet"])

    assert set(whole) == set(stored)
    for acc, h in whole.items():
        assert h.score == stored[acc]["health"], acc
        assert [d.as_dict() for d in h.drivers] == json.loads(stored[acc]["drivers"]), acc
    assert one["quiet"].drivers == whole["quiet"].drivers


def test_the_days_stored_score_is_what_the_csm_saw(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    saw = [
        {"component": "usage", "points": 20, "max": 30, "reason": "Logins down 41%"},
        {"component": "relationship", "points": 15, "max": 70, "reason": "Last touch 90 days ago"},
    ]
    db["score_days"].insert(
        {
            "account_id": "quiet",
            "day": DAY.isoformat(),
            "health": 35,
            "band": "red",
            "stage": "Adopted",
            "drivers": json.dumps(saw),
        }
    )

    found = health_as_of(db, settings, DAY)

    assert found["quiet"].score == 35 and found["quiet"].band == "red"
    assert [d.as_dict() for d in found["quiet"].drivers] == saw
    assert [c.subscore for c in found["quiet"].components] == [100 * 20 / 30, 100 * 15 / 70]
    # The others had no rescore that day: computed, with the same six drivers as any score.
    assert set(found) == {"quiet", *(f"h{i}" for i in range(6))}
    assert len(found["h0"].drivers) == 6 and found["h0"].score is not None
    assert set(health_as_of(db, settings, DAY, ["h1", "gone"])) == {"h1"}


def test_a_negative_latest_touch_is_no_relationship_credit_in_the_cache(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    cache.account("a1")
    cache.touch("a1", 100, "positive")
    cache.touch("a1", 2, "negative")

    rescore(db, settings, TODAY)

    drivers = json.loads(scores(db)["a1"]["drivers"])
    relationship = next(d for d in drivers if d["component"] == "relationship")
    assert relationship["reason"].startswith("Last touch 100 days ago"), relationship
