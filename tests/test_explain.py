"""`csm-tui explain`: why an account's health moved, the change split into deltas that add up."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder
from support.demo_book import demo_env, sync_demo
from support.scores import small_book

from csm_tui.cli import main
from csm_tui.commands import explain as command
from csm_tui.config import Settings
from csm_tui.domain.models import Driver, Health
from csm_tui.domain.score_change import UNEXPLAINED, explain_change, parse_span, span_week
from csm_tui.store.db import open_cache
from csm_tui.store.rescore import rescore
from csm_tui.store.score_changes import score_changes

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
STORED_DAY = TODAY - timedelta(days=10)  # a Friday on which a rescore ran


def args(account: str, since: str | None = None, as_json: bool = True) -> argparse.Namespace:
    return argparse.Namespace(account=account, since=since, json=as_json)


def explained(
    settings: Settings, capsys: pytest.CaptureFixture[str], account: str, since: str | None
) -> dict:
    assert command.run(settings, args(account, since), today=TODAY) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The demo book synced as `csm-tui demo` does, with a rescore stored on ``STORED_DAY``."""
    with demo_env(tmp_path_factory.mktemp("demo")) as data_dir:
        settings, _ = sync_demo(data_dir, now=NOW)
        db = open_cache(settings.cache_path, create=False)
        try:
            rescore(db, settings, STORED_DAY)
            rescore(db, settings, TODAY)
        finally:
            db.conn.close()
        yield settings


def test_every_demo_accounts_deltas_add_up_to_its_change_and_each_says_why(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_cache(demo_settings.cache_path, create=False)
    try:
        rows = list(db.query("SELECT account_id, health, trend FROM scores"))
    finally:
        db.conn.close()
    assert len(rows) > 200
    moved = trended = 0
    for row in rows:
        found = explained(demo_settings, capsys, row["account_id"], None)  # 4 weeks back
        deltas = found["deltas"]
        assert sum(d["delta"] for d in deltas) == found["change"], found
        assert found["change"] == found["health_after"] - found["health_before"]
        assert found["health_after"] == row["health"]
        # The 4 weeks the list's trend ("−18 in 4 wk") spans: the same change.
        if row["trend"] is not None:
            assert found["change"] == row["trend"], found
            trended += 1
        assert {d["component"] for d in deltas} <= {
            "usage",
            "adoption",
            "people",
            "relationship",
            "support",
            "sentiment",
        }
        for d in deltas:
            assert d["delta"] == d["points_after"] - d["points_before"]
            if d["delta"]:
                assert d["reason"].strip(), d
        moved += any(d["delta"] for d in deltas)
    assert moved > len(rows) / 2  # four weeks of a demo book move most scores
    assert trended == len(rows)


def test_a_day_with_a_stored_score_is_explained_from_what_the_csm_saw(
    demo_settings: Settings,
) -> None:
    db = open_cache(demo_settings.cache_path, create=False)
    try:
        stored = {
            r["account_id"]: r["health"]
            for r in db.query(
                "SELECT account_id, health FROM score_days WHERE day = ?", [STORED_DAY.isoformat()]
            )
        }
        changes = score_changes(db, demo_settings, STORED_DAY, TODAY)
        long_ago = score_changes(db, demo_settings, TODAY - timedelta(days=90), TODAY)
    finally:
        db.conn.close()
    assert stored and set(changes) == set(stored)
    for acc, change in changes.items():
        assert change.before == stored[acc]
        assert sum(d.delta for d in change.deltas) == change.change
        assert all(d.component != UNEXPLAINED for d in change.deltas)
    for change in long_ago.values():  # computed from the inputs of 90 days ago
        assert sum(d.delta for d in change.deltas) == change.change
        assert all(d.why() for d in change.moved())


def test_the_text_names_each_component_that_moved_largest_first(
    db: sqlite_utils.Database, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    cache.account("evil", name="\x1b[31mEvil\x1b[0m Corp\u202e", arr=12_000)
    cache.usage("evil", weeks=range(5, 20))  # no use at all in the last four weeks
    cache.usage("evil", weeks=range(1, 5), scale=dict.fromkeys(range(1, 5), 0.0))
    cache.contact("evil", "jane@evil.example.com", "admin", 21)
    rescore(db, settings, TODAY)

    assert command.run(settings, args("Evil", "2026-10-26", as_json=False), today=TODAY) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()

    assert "\x1b" not in out and "\u202e" not in out
    assert lines[0].startswith("Evil Corp [evil]: Health ")
    assert "from 2026-10-26 to 2026-11-23" in lines[0]
    assert lines[1].startswith("  Usage −") and "No product use in the last 4 weeks" in lines[1]
    assert any(
        line.startswith("  People −") and "jane@evil.example.com inactive 21 days" in line
        for line in lines
    )


def test_the_change_ends_at_the_score_the_list_shows(
    db: sqlite_utils.Database, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The morning after, before a sync: the list still shows the last rescore's score."""
    small_book(CacheBuilder(db))
    rescore(db, settings, TODAY)
    shown = [
        {"component": "usage", "points": 11, "max": 30, "reason": "Usage −50% vs prior 8 weeks"},
        {"component": "relationship", "points": 0, "max": 70, "reason": "Last touch 120 days ago"},
    ]
    db.execute(
        "UPDATE scores SET health = 11, drivers = ? WHERE account_id = 'quiet'", [json.dumps(shown)]
    )

    assert command.run(settings, args("quiet", "1w"), today=TODAY + timedelta(days=1)) == 0
    found = json.loads(capsys.readouterr().out)

    assert found["health_after"] == 11
    after = {d["component"]: d["points_after"] for d in found["deltas"]}
    assert after["usage"] == 11 and after["relationship"] == 0
    assert sum(d["delta"] for d in found["deltas"]) == found["change"]


def test_bad_input_is_one_line(db: sqlite_utils.Database, settings: Settings) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    cache.account("old", name="Old Account", archived=1)
    rescore(db, settings, TODAY)

    with pytest.raises(command.ExplainError, match="matches 6 accounts"):
        command.run(settings, args("Account h"), today=TODAY)
    with pytest.raises(command.ExplainError, match="not a day to compare with: 'soon'"):
        command.run(settings, args("quiet", "soon"), today=TODAY)
    with pytest.raises(command.ExplainError, match="not a span"):
        command.run(settings, args("quiet", "0w"), today=TODAY)
    with pytest.raises(command.ExplainError, match="is archived"):
        command.run(settings, args("Old Account"), today=TODAY)


def test_the_command_line_says_what_is_wrong_in_one_line(
    db: sqlite_utils.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    small_book(CacheBuilder(db))

    assert main(["explain", "no such account"]) == 2
    err = capsys.readouterr().err
    assert err == "csm-tui: No account matches 'no such account' (by id, domain or name).\n"
    assert main(["explain", "quiet", "--since", "someday"]) == 2
    assert capsys.readouterr().err.startswith("csm-tui: not a day to compare with: 'someday'")


# -- the pure rule ---------------------------------------------------------------------------


def health_of(score: int, *drivers: tuple[str, int, int, str]) -> Health:
    return Health(score, float(score), None, (), tuple(Driver(*d) for d in drivers), {})


def test_deltas_are_each_components_change_of_points_with_what_it_was() -> None:
    before = health_of(
        70,
        ("usage", 25, 35, "usage steady vs prior 8 weeks"),
        ("people", 15, 18, "Admin/champion active this week"),
        ("relationship", 30, 47, "Last touch 12 days ago"),
        ("sentiment", 0, 0, "no NPS yet (weight shared by the rest)"),
    )
    after = health_of(
        58,
        ("usage", 16, 30, "Logins down 41% vs prior 8 weeks"),
        ("people", 9, 15, "Admin jane@acme.com inactive 21 days"),
        ("relationship", 30, 40, "Last touch 12 days ago"),
        ("sentiment", 3, 15, "NPS 3 (detractor, 2 days ago)"),
    )

    change = explain_change(before, after, date(2026, 10, 26), TODAY)

    assert change.change == -12 == sum(d.delta for d in change.deltas)
    assert [d.text() for d in change.moved()] == [
        "Usage −9: Logins down 41% vs prior 8 weeks; was: usage steady vs prior 8 weeks; "
        "weight 35 → 30 of 100",
        "People −6: Admin jane@acme.com inactive 21 days; was: Admin/champion active this week; "
        "weight 18 → 15 of 100",
        "Sentiment +3: NPS 3 (detractor, 2 days ago); was: no NPS yet (weight shared by the "
        "rest); weight 0 → 15 of 100",
    ]
    assert change.headline() == "Health 70 → 58 (−12) from 2026-10-26 to 2026-11-23"


def test_stored_drivers_that_do_not_add_up_still_sum_to_the_change() -> None:
    before = health_of(50, ("usage", 20, 30, "a"))  # a hand-edited cache: 20 of 50
    after = health_of(60, ("usage", 25, 30, "b"))

    change = explain_change(before, after, date(2026, 11, 1), TODAY)

    assert sum(d.delta for d in change.deltas) == change.change == 10
    assert [(d.component, d.delta) for d in change.moved()] == [("usage", 5), (UNEXPLAINED, 5)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4w", 4),
        (" 13W ", 13),
        ("yesterday", TODAY - timedelta(days=1)),
        ("10d", TODAY - timedelta(days=10)),
        ("2026-10-01", date(2026, 10, 1)),
    ],
)
def test_a_span_is_weeks_back_or_a_day(text: str, expected: date | int) -> None:
    assert parse_span(text, TODAY) == expected


def test_weeks_back_start_on_a_monday() -> None:
    assert span_week(TODAY + timedelta(days=3), 4) == TODAY - timedelta(weeks=4)
