"""`csm-tui digest`: what changed since a day, each kind of change from the cache's own facts."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlite_utils

from csm_tui.cli import main
from csm_tui.commands import digest as command
from csm_tui.config import load_settings
from csm_tui.domain.digest import parse_since, renewal_milestones, went_quiet
from csm_tui.store.digest import changes_since

TODAY = date(2026, 12, 7)  # a Monday
SINCE = date(2026, 12, 6)


def fill(db: sqlite_utils.Database) -> None:
    db["accounts"].insert_all(
        [
            {"id": "a1", "name": "Acme", "renewal_date": "2027-01-06", "archived": 0},  # 30 d
            {"id": "a2", "name": "Globex", "renewal_date": "2027-09-01", "archived": 0},
            {"id": "a3", "name": "Initech", "renewal_date": "2027-09-01", "archived": 0},
        ],
        alter=True,
    )
    db["score_days"].insert_all(
        [
            {"account_id": "a1", "day": "2026-12-06", "health": 55, "band": "yellow", "stage": ""},
            {"account_id": "a1", "day": "2026-12-07", "health": 38, "band": "red", "stage": ""},
            {"account_id": "a2", "day": "2026-12-06", "health": 66, "band": "yellow", "stage": ""},
            {"account_id": "a2", "day": "2026-12-07", "health": 72, "band": "green", "stage": ""},
            {"account_id": "a3", "day": "2026-12-01", "health": 80, "band": "green", "stage": ""},
            {"account_id": "a3", "day": "2026-12-07", "health": 81, "band": "green", "stage": ""},
        ]
    )
    db["tickets"].insert_all(
        [
            {"id": "t1", "account_id": "a2", "subject": "SSO down", "status": "open",
             "priority": "HIGH", "escalated": 1, "created_at": "2026-12-07T08:00:00+00:00"},
            {"id": "t2", "account_id": "a3", "subject": "Old", "status": "open",
             "priority": "URGENT", "escalated": 0, "created_at": "2026-11-01T08:00:00+00:00"},
        ]
    )  # fmt: skip
    db["contacts"].insert_all(
        [
            {"id": "c1", "account_id": "a3", "email": "cham@initech.com", "role": "champion",
             "last_active": "2026-11-07T09:00:00+00:00"},  # 30 days today
            {"id": "c2", "account_id": "a3", "email": "user@initech.com", "role": "user",
             "last_active": "2026-11-07T09:00:00+00:00"},  # a user: not a change
        ]
    )  # fmt: skip
    db["survey_responses"].insert(
        {"id": "s1", "account_id": "a1", "kind": "nps", "score": 3, "comment": "Too slow",
         "submitted_at": "2026-12-07T10:00:00+00:00"}
    )  # fmt: skip
    weeks = [f"2026-{m:02d}-{d:02d}" for m, d in [(9, 7), (9, 14), (9, 21), (9, 28), (10, 5),
             (10, 12), (10, 19), (10, 26), (11, 2), (11, 9), (11, 16), (11, 23), (11, 30)]]  # fmt: skip
    rows = [{"account_id": "a2", "week": w, "event": "login", "count": 100, "users": 5}
            for w in weeks[:8]]  # fmt: skip
    # Three weeks at 30% of the baseline: the four weeks before this Monday average 47.5%
    # (a cliff), the four before last Monday 65% (not yet one).
    rows += [{"account_id": "a2", "week": w, "event": "login", "count": c, "users": 5}
             for w, c in zip(weeks[8:], [100, 100, 30, 30, 30], strict=True)]  # fmt: skip
    db["usage_weekly"].insert_all(rows)


def test_each_kind_of_change_since_yesterday_is_found_once(db: sqlite_utils.Database) -> None:
    fill(db)
    found = {(c.kind, c.account_id) for c in changes_since(db, SINCE, TODAY)}
    assert found == {
        ("band_down", "a1"),
        ("band_up", "a2"),
        ("escalation", "a2"),
        ("usage_cliff", "a2"),
        ("went_quiet", "a3"),
        ("detractor", "a1"),
        ("renewal", "a1"),
    }


def test_the_command_prints_text_markdown_and_json(db: sqlite_utils.Database, capsys) -> None:
    fill(db)
    settings = load_settings()
    args = type("Args", (), {"since": "yesterday", "format": "markdown"})()
    assert command.run(settings, args, today=TODAY) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Since 2026-12-06 (to 2026-12-07): 1 moved down a band")
    assert "- **Acme**: health 55 yellow -> 38 red; NPS 3: Too slow; renews in 30 days" in out
    args.format = "json"
    command.run(settings, args, today=TODAY)
    data = json.loads(capsys.readouterr().out)
    assert data["since"] == "2026-12-06" and data["changes"][0]["kind"] == "band_down"


def test_a_since_it_cannot_read_is_one_line(db: sqlite_utils.Database, capsys) -> None:
    assert main(["digest", "--since", "whenever"]) == 2
    err = capsys.readouterr().err
    assert "not a day to compare with" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yesterday", date(2026, 12, 6)), ("1d", date(2026, 12, 6)), ("7d", date(2026, 11, 30)),
     ("2w", date(2026, 11, 23)), ("2026-11-20", date(2026, 11, 20)), ("last fri", date(2026, 12, 4))],
)  # fmt: skip
def test_since_takes_the_forms_people_type(text: str, expected: date) -> None:
    assert parse_since(text, TODAY) == expected


def test_milestones_and_silence_count_only_crossings_inside_the_window() -> None:
    assert renewal_milestones(date(2027, 1, 6), SINCE, TODAY) == [30]
    assert renewal_milestones(date(2027, 1, 7), SINCE, TODAY) == []  # 30 days is tomorrow
    assert went_quiet(date(2026, 11, 7), SINCE, TODAY)
    assert not went_quiet(date(2026, 11, 6), SINCE, TODAY)  # already quiet yesterday
