"""rescore(): every account scored from set-based reads, history backfilled, partial rescoring."""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta

import pytest
import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder
from support.scores import scores, small_book

from csm_tui.config import Settings
from csm_tui.domain.history import health_dropped, trend_points
from csm_tui.domain.models import BookContext, week_start
from csm_tui.domain.scoring import health
from csm_tui.store import rescore as rescore_module
from csm_tui.store.actions import log_touch
from csm_tui.store.rescore import rescore
from csm_tui.store.scoring_inputs import load_book

WEEK = week_start(TODAY)


def test_every_active_account_gets_a_score_whose_drivers_add_up(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    cache.account("archived", archived=1)

    result = rescore(db, settings, TODAY)

    rows = scores(db)
    assert set(rows) == {f"h{i}" for i in range(6)} | {"quiet"}
    assert result.accounts == 7
    for row in rows.values():
        drivers = json.loads(row["drivers"])
        assert sum(d["points"] for d in drivers) == row["health"]
        assert sum(d["max"] for d in drivers) == 100
        assert row["band"] in {"green", "yellow", "red"} and row["stage"] and row["tier"]
    assert rows["quiet"]["health"] < rows["h0"]["health"]


def test_a_fresh_cache_gets_weekly_history_from_the_usage_so_it_has_a_trend(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    cache.account("drop")
    cache.usage("drop", scale={1: 0.1, 2: 0.2, 3: 0.3, 4: 0.5})

    first = rescore(db, settings, TODAY)

    weeks = [
        r["week"] for r in db.query("SELECT week FROM score_history WHERE account_id = 'drop'")
    ]
    assert len(weeks) == 13 and max(weeks) == WEEK.isoformat()
    assert first.history_weeks == 12 * 8
    row = scores(db)["drop"]
    assert row["trend"] is not None and row["trend"] <= -10
    usage = next(d for d in json.loads(row["drivers"]) if d["component"] == "usage")
    # The event that fell is named (read only for accounts whose usage fell).
    assert usage["reason"] == "Reports down 75% vs prior 8 weeks (all use −74%)"
    # The next rescore the same week computes no history again.
    assert rescore(db, settings, TODAY).history_weeks == 0


def test_a_new_touch_changes_that_accounts_relationship_points_and_nothing_else(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    rescore(db, settings, TODAY)
    before = scores(db)

    log_touch(
        db,
        account_id="quiet",
        kind="call",
        summary="Checked in",
        occurred_at=f"{TODAY.isoformat()}T10:00:00+00:00",
    )
    result = rescore(db, settings, TODAY, account_ids=["quiet"])

    after = scores(db)
    assert result.accounts == 1
    assert {k: v for k, v in after.items() if k != "quiet"} == {
        k: v for k, v in before.items() if k != "quiet"
    }
    old = {d["component"]: d for d in json.loads(before["quiet"]["drivers"])}
    new = {d["component"]: d for d in json.loads(after["quiet"]["drivers"])}
    assert new["relationship"]["points"] > old["relationship"]["points"]
    assert new["relationship"]["reason"].startswith("Last touch today")
    assert {k: v for k, v in new.items() if k != "relationship"} == {
        k: v for k, v in old.items() if k != "relationship"
    }
    assert after["quiet"]["tier"] == before["quiet"]["tier"]


def test_a_partial_rescore_of_an_unchanged_account_agrees_with_the_full_one(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    cache.account("mid", arr=35_000)
    cache.usage("mid", users=4)
    rescore(db, settings, TODAY)
    full = scores(db)
    rescore(db, settings, TODAY, account_ids=["mid", "quiet"])
    partial = scores(db)
    for acc in ("mid", "quiet"):
        same = {k: v for k, v in partial[acc].items() if k != "computed_at"}
        assert same == {k: v for k, v in full[acc].items() if k != "computed_at"}


def test_archived_accounts_leave_the_scores(db: sqlite_utils.Database, settings: Settings) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    rescore(db, settings, TODAY)
    db.execute("UPDATE accounts SET archived = 1 WHERE id = 'h1'")
    rescore(db, settings, TODAY)
    assert "h1" not in scores(db)


def test_the_number_of_queries_does_not_grow_with_the_book(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)

    def queries_for(n: int) -> int:
        db.execute("DELETE FROM accounts")
        for i in range(n):
            cache.healthy(f"n{n}-{i}")
        seen: list[str] = []
        db.conn.set_trace_callback(seen.append)
        try:
            rescore(db, settings, TODAY)
        finally:
            db.conn.set_trace_callback(None)
        return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT"))

    assert queries_for(3) == queries_for(30)


def _shared_book(cache: CacheBuilder, settings: Settings) -> None:
    small_book(cache)
    for i in range(6):
        cache.account(f"m{i}", arr=9_000 * (i + 2), seats=8)
        cache.usage(f"m{i}", users=3 + i, scale={1: 0.3 + i / 10, 2: 0.5})
        cache.contact(f"m{i}", f"ops@m{i}.example.com", "champion", active_days_ago=4 * i)
        cache.ticket(f"m{i}", opened_days_ago=6 + i, escalated=i % 2 == 0)
    rescore(cache.db, settings, TODAY)  # the weeks of history exist


needs_two_cores = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="a rescore is shared only with a second core"
)


@needs_two_cores
def test_a_full_rescore_shared_with_a_second_process_writes_what_one_alone_writes(
    db: sqlite_utils.Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shared_book(CacheBuilder(db), settings)
    db.execute("DELETE FROM scores")
    db.conn.commit()
    monkeypatch.setattr(rescore_module, "SHARE_FROM_ACCOUNTS", 2)

    shared = rescore(db, settings, TODAY)

    assert shared.processes == 2
    rows = db.execute("SELECT * FROM scores ORDER BY account_id").fetchall()
    reference = db.execute("SELECT * FROM score_reference ORDER BY account_id").fetchall()
    db.execute("DELETE FROM scores")
    db.execute("DELETE FROM score_reference")
    db.conn.commit()
    monkeypatch.setattr(rescore_module, "SHARE_FROM_ACCOUNTS", 10**9)
    alone = rescore(db, settings, TODAY)
    assert alone.processes == 1
    assert db.execute("SELECT * FROM score_reference ORDER BY account_id").fetchall() == reference
    assert [r[:1] + r[2:] for r in db.execute("SELECT * FROM scores ORDER BY account_id")] == [
        r[:1] + r[2:]
        for r in rows  # all but computed_at
    ]


@needs_two_cores
def test_a_helper_process_that_fails_leaves_the_work_to_the_first_one(
    db: sqlite_utils.Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shared_book(CacheBuilder(db), settings)
    before = scores(db)
    monkeypatch.setattr(rescore_module, "SHARE_FROM_ACCOUNTS", 2)
    # A helper that starts and dies (as a broken installation would), or cannot start at all.
    monkeypatch.setattr(rescore_module, "_HELPER_MODULE", "csm_tui.store.no_such_helper")
    assert rescore(db, settings, TODAY).processes == 1
    monkeypatch.setattr(sys, "executable", sys.executable + "-missing")

    result = rescore(db, settings, TODAY)

    assert result.processes == 1
    assert {
        a: {k: v for k, v in r.items() if k != "computed_at"} for a, r in scores(db).items()
    } == {a: {k: v for k, v in r.items() if k != "computed_at"} for a, r in before.items()}


def test_an_unchanged_score_keeps_its_time_of_the_same_day_and_takes_a_new_days(
    db: sqlite_utils.Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_book(CacheBuilder(db))

    def rescore_at(now: str) -> dict[str, str]:
        monkeypatch.setattr(rescore_module, "utc_now", lambda: now)
        rescore(db, settings, TODAY)
        return {a: r["computed_at"] for a, r in scores(db).items()}

    morning = rescore_at("2026-11-23T08:00:00.000000+00:00")
    log_touch(
        db, account_id="quiet", kind="call", summary="Hi", occurred_at=f"{TODAY}T10:00:00+00:00"
    )
    noon = rescore_at("2026-11-23T12:00:00.000000+00:00")
    assert noon["quiet"] == "2026-11-23T12:00:00.000000+00:00"  # its score changed
    assert {a: t for a, t in noon.items() if a != "quiet"} == {
        a: t for a, t in morning.items() if a != "quiet"
    }
    # The next day every score is stamped again (``csm-tui today`` asks whether it is today's).
    assert set(rescore_at("2026-11-24T07:00:00.000000+00:00").values()) == {
        "2026-11-24T07:00:00.000000+00:00"
    }


def test_todays_inputs_alone_score_like_all_the_inputs(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    """Without past weeks to score, the loader keeps of the touches only the latest and the
    latest that recorded a feeling; the scores must not notice."""
    cache = CacheBuilder(db)
    small_book(cache)
    cache.touch("h0", 2, "negative")  # the same day as a positive one: the first row wins
    cache.touch("h0", 2, "positive")
    cache.touch("h1", -3, "positive")  # a meeting booked for later
    cache.touch("h1", 1)  # the latest touch recorded no feeling
    cache.touch("h1", 9, "negative")
    cache.touch("h2", 0, "")  # an empty feeling is none
    full = load_book(db, settings, TODAY)
    lean = load_book(db, settings, TODAY, past_weeks=False)
    ctx = BookContext(usage_peers=[1.0, 5.0, 20.0])
    for account in full.inputs:
        assert len(lean.inputs[account].touches) <= 2
        expected = health(full.inputs[account], ctx, TODAY)
        got = health(lean.inputs[account], ctx, TODAY)
        assert (got.score, got.drivers) == (expected.score, expected.drivers), account


# -- history rules ---------------------------------------------------------------------------


def weeks(*scores_oldest_first: int) -> dict[date, int]:
    n = len(scores_oldest_first)
    return {WEEK - timedelta(weeks=n - i): s for i, s in enumerate(scores_oldest_first)}


def test_a_sustained_fall_over_4_weeks_is_a_drop() -> None:
    history = weeks(80, 76, 70, 66)  # 4 weeks ago .. last week
    assert health_dropped(history, WEEK, 62)
    assert trend_points(history, WEEK, 62) == -18


def test_one_noisy_week_is_not_a_drop() -> None:
    assert not health_dropped(weeks(80, 79, 81, 80), WEEK, 62)  # only this week
    assert not health_dropped(weeks(80, 60, 81, 80), WEEK, 79)  # a dip that recovered
    assert not health_dropped({}, WEEK, 40)


def test_an_account_with_its_seats_full_and_green_health_is_an_opportunity(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    cache.healthy("full", seats=5)
    for i in range(5):
        cache.product_user("full", f"user{i}@full.example.com", 40, seen_days_ago=2)
    rescore(db, settings, TODAY)
    row = scores(db)["full"]
    assert row["band"] == "green" and 1 <= row["opportunity"] <= 100
    assert row["stage"] == "Expansion"
    assert row["stage_reason"].startswith("5 of 5 seats in use (100%), health ")
    assert json.loads(row["reasons"])[-1] == "Expansion-ready"
    assert scores(db)["quiet"]["opportunity"] == 0


def test_an_empty_cache_and_a_crm_only_cache_rescore_without_errors(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    assert rescore(db, settings, TODAY).accounts == 0
    CacheBuilder(db).account("bare", renews_in_days=10)
    rescore(db, settings, TODAY)
    row = scores(db)["bare"]
    # Nothing to judge health by yet: no score, every driver says what is missing.
    assert row["health"] is None and row["band"] is None
    reasons = [d["reason"] for d in json.loads(row["drivers"])]
    assert any("no NPS yet" in r for r in reasons)
    assert row["stage"] == "Renewal" and "Renews in 10 d" in json.loads(row["reasons"])
