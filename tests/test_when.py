"""The short dates people type for `--when` (a touch) and `--due` (a next step)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from csm_tui.domain.when import parse_due, parse_when

# Monday 23 November 2026, 10:15 UTC
NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
TODAY = NOW.date()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("  NOW ", NOW),
        ("2d ago", NOW - timedelta(days=2)),
        ("3h ago", NOW - timedelta(hours=3)),
        ("45 min ago", NOW - timedelta(minutes=45)),
        ("1 week ago", NOW - timedelta(weeks=1)),
        ("today", NOW),
        ("today 9:30", datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),
        ("9:30", datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),
        ("yesterday 14:00", datetime(2026, 11, 22, 14, 0, tzinfo=UTC)),
        ("yesterday 2pm", datetime(2026, 11, 22, 14, 0, tzinfo=UTC)),
        ("yesterday", datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
        ("fri", datetime(2026, 11, 20, 12, 0, tzinfo=UTC)),
        ("Friday 16:45", datetime(2026, 11, 20, 16, 45, tzinfo=UTC)),
        ("mon", NOW),  # today is Monday
        ("tue", datetime(2026, 11, 17, 12, 0, tzinfo=UTC)),
        ("2026-11-20 15:00", datetime(2026, 11, 20, 15, 0, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 20, 12, 0, tzinfo=UTC)),
        ("2026-11-20T08:05:00+00:00", datetime(2026, 11, 20, 8, 5, tzinfo=UTC)),
    ],
)
def test_parse_when_understands_what_a_csm_types(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize(
    "text",
    ["", "soon", "2 parsecs ago", "yesterday 25:00", "2026-13-01", "tomorrow", "2026-12-01 10:00"],
)
def test_parse_when_refuses_garbage_and_the_future_in_one_line(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_when(text, NOW)
    assert "\n" not in str(info.value)
    assert str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", TODAY),
        ("tomorrow", date(2026, 11, 24)),
        ("in 3 days", date(2026, 11, 26)),
        ("in 2 weeks", date(2026, 12, 7)),
        ("+3d", date(2026, 11, 26)),
        ("+1w", date(2026, 11, 30)),
        ("5d", date(2026, 11, 28)),
        ("fri", date(2026, 11, 27)),
        ("Friday", date(2026, 11, 27)),
        ("mon", date(2026, 11, 30)),  # today is Monday: the next one
        ("next week", date(2026, 11, 30)),
        ("next month", date(2026, 12, 1)),
        ("2026-12-01", date(2026, 12, 1)),
    ],
)
def test_parse_due_understands_what_a_csm_types(text: str, expected: date) -> None:
    assert parse_due(text, TODAY) == expected


@pytest.mark.parametrize("text", ["", "someday", "+3h", "in three days", "2026-02-30", "13/13"])
def test_parse_due_refuses_garbage_in_one_line(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_due(text, TODAY)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/15", date(2026, 12, 15)),  # month/day, as a US portal writes it
        ("dec 15", date(2026, 12, 15)),
        ("15 Dec", date(2026, 12, 15)),
        ("December 15th", date(2026, 12, 15)),
        ("11/20", date(2027, 11, 20)),  # already past this year: next year's
        ("25/12", date(2026, 12, 25)),  # 25 cannot be a month: day/month
        ("jan 3", date(2027, 1, 3)),
        ("12/01/2026", date(2026, 12, 1)),
    ],
)
def test_parse_due_takes_calendar_days_without_a_year(text: str, expected: date) -> None:
    assert parse_due(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("last fri", datetime(2026, 11, 20, 12, 0, tzinfo=UTC)),
        ("last mon", datetime(2026, 11, 16, 12, 0, tzinfo=UTC)),  # today is Monday: the one before
        ("last fri 14:00", datetime(2026, 11, 20, 14, 0, tzinfo=UTC)),
        ("11/20", datetime(2026, 11, 20, 12, 0, tzinfo=UTC)),
        ("nov 20 9am", datetime(2026, 11, 20, 9, 0, tzinfo=UTC)),
        ("dec 15", datetime(2025, 12, 15, 12, 0, tzinfo=UTC)),  # a touch happened: last year's
        ("20 Nov 2026 16:30", datetime(2026, 11, 20, 16, 30, tzinfo=UTC)),
    ],
)
def test_parse_when_takes_last_weekday_and_calendar_days(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected
