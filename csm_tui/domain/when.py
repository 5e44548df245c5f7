"""Pure parsing of the short dates people type: `--when` for a touch, `--due` for a next step.

No clocks: the caller passes ``now`` / ``today``. Garbage raises ValueError with one line.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_UNIT_WORDS = {
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "m": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
    "w": "w",
    "wk": "w",
    "wks": "w",
    "week": "w",
    "weeks": "w",
}
_AGO = re.compile(r"^(\d{1,4})\s*([a-z]+)\s+ago$")
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WHEN_HINT = (
    "try 'now', '2h ago', 'yesterday 14:00', 'mon', 'last fri', 'dec 15', '12/15 9am', "
    "'2026-11-20 15:00'"
)
_DUE_HINT = (
    "try 'tomorrow', 'in 3 days', '+3d', 'fri', 'next week', 'dec 15', '12/15', '2026-12-01'"
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# A calendar day without its year: '12/15' (month/day, as US portals write it; '15/12' is read
# day/month since 15 cannot be a month), 'dec 15', '15 dec', 'december 15, 2026'; then the rest.
_NUMERIC_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?(?:\s+(.*))?$")
_NAMED_DAY = re.compile(
    r"^([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?(?:\s+(.*))?$"
)
_DAY_NAMED = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3,9})\.?(?:\s+(\d{4}))?(?:\s+(.*))?$")


def _weekday(word: str) -> int | None:
    """Monday=0 for 'mon', 'monday', 'Tues', ...; None if not a weekday."""
    word = word.lower()
    if len(word) < 3:
        return None
    for index, prefix in enumerate(WEEKDAYS):
        full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[index]
        if full.startswith(word) and word.startswith(prefix):
            return index
    return None


def _clock(text: str) -> time | None:
    """'14:00', '9:30', '9am', '2:15pm' -> time; None if not a time of day."""
    found = _CLOCK.match(text.strip().lower())
    if not found:
        return None
    hour, minute, half = int(found.group(1)), int(found.group(2) or 0), found.group(3)
    if found.group(2) is None and half is None:
        return None  # a bare number is not a time ("3" could be anything)
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _month(word: str) -> int | None:
    """1 for 'jan', 'January', 'janv' is not a month; None if not a month name."""
    full = (
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december",
    )  # fmt: skip
    for index, prefix in enumerate(MONTHS):
        if word.startswith(prefix) and full[index].startswith(word.rstrip(".")):
            return index + 1
    if word == "sept":
        return 9
    return None


def _calendar_day(raw: str, today: date, *, ahead: bool) -> tuple[date, str] | None:
    """A day written without (or with) its year, and the text after it.

    Without a year it is the nearest such day on the side the caller needs: a touch happened
    (the latest one not after today), a next step is due (the first one from today on).
    """
    month = day = year = None
    rest = ""
    if found := _NUMERIC_DAY.match(raw):
        first, second = int(found.group(1)), int(found.group(2))
        month, day = (second, first) if first > 12 >= second else (first, second)
        year = int(found.group(3)) if found.group(3) else None
        rest = found.group(4) or ""
    elif (found := _NAMED_DAY.match(raw)) and _month(found.group(1)):
        month, day = _month(found.group(1)), int(found.group(2))
        year = int(found.group(3)) if found.group(3) else None
        rest = found.group(4) or ""
    elif (found := _DAY_NAMED.match(raw)) and _month(found.group(2)):
        month, day = _month(found.group(2)), int(found.group(1))
        year = int(found.group(3)) if found.group(3) else None
        rest = found.group(4) or ""
    if month is None or day is None:
        return None
    if year is not None and year < 100:
        year += 2000
    try:
        if year is not None:
            return date(year, month, day), rest
        candidate = date(today.year, month, day)
    except ValueError:
        raise ValueError(f"no such day: {raw!r}") from None
    if ahead and candidate < today:
        candidate = _same_day_in(today.year + 1, month, day)
    elif not ahead and candidate > today:
        candidate = _same_day_in(today.year - 1, month, day)
    return candidate, rest


def _same_day_in(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:  # 29 February in a year without one
        return date(year, month, 28)


def _iso_day(text: str) -> date | None:
    if not _ISO_DAY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_when(text: str, now: datetime) -> datetime:
    """When a touch happened: 'now', '2d ago', '3h ago', 'yesterday 14:00', 'today 9:30',
    'mon' (the latest Monday, today included), '2026-11-20 15:00', '2026-11-20'.

    A past day without a time of day means noon of that day (in ``now``'s timezone), so it
    never slides into a neighbouring day; today without a time means now. The result is never in the future.
    """
    raw = " ".join(text.strip().lower().split())
    if not raw:
        raise ValueError(f"empty time: {_WHEN_HINT}")
    if raw == "now":
        return now
    found = _AGO.match(raw)
    if found:
        unit = _UNIT_WORDS.get(found.group(2))
        if unit is None:
            raise ValueError(f"unknown unit {found.group(2)!r} in {text!r}: {_WHEN_HINT}")
        return now - timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[unit])
    day_word, _, rest = raw.partition(" ")
    if "T" in text and _iso_day(day_word[:10]) and len(day_word) > 10:
        try:  # a full ISO instant
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"not a date and time: {text!r}: {_WHEN_HINT}") from None
        value = value if value.tzinfo else value.replace(tzinfo=now.tzinfo)
        return _not_future(value, now, text)
    day: date | None
    clock: time | None
    clock_only = _clock(raw)
    calendar = _calendar_day(raw, now.date(), ahead=False) if clock_only is None else None
    if raw.startswith("last "):  # 'last fri': the one before today, never today
        weekday = _weekday(raw.split()[1]) if len(raw.split()) > 1 else None
        if weekday is None:
            raise ValueError(f"not a time: {text!r}: {_WHEN_HINT}")
        back = (now.date().weekday() - weekday) % 7 or 7
        day_word = (now.date() - timedelta(days=back)).isoformat()
        rest = " ".join(raw.split()[2:])
    elif calendar is not None:
        day_word, rest = calendar[0].isoformat(), calendar[1]
    if clock_only is not None:
        day, clock = now.date(), clock_only
    else:
        day = _day_of(day_word, now.date())
        if day is None:
            raise ValueError(f"not a time: {text!r}: {_WHEN_HINT}")
        if rest:
            clock = _clock(rest)
            if clock is None:
                raise ValueError(f"not a time of day: {rest!r}: {_WHEN_HINT}")
        elif day == now.date():
            return now  # 'today', or today's weekday: noon may not have come yet
        else:
            clock = time(12, 0)
    value = datetime.combine(day, clock, tzinfo=now.tzinfo)
    return _not_future(value, now, text)


def _day_of(word: str, today: date) -> date | None:
    """A past or present day named by 'today', 'yesterday', a weekday or an ISO date."""
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    weekday = _weekday(word)
    if weekday is not None:
        return today - timedelta(days=(today.weekday() - weekday) % 7)
    return _iso_day(word)


def _not_future(value: datetime, now: datetime, text: str) -> datetime:
    if value > now + timedelta(minutes=1):
        raise ValueError(f"{text!r} is in the future: a touch is something that happened")
    return value


def parse_due(text: str, today: date) -> date:
    """When a next step is due: 'today', 'tomorrow', 'in 3 days', 'in 2 weeks', '+3d', '3d',
    'fri' (the next Friday after today), 'next week' (next Monday), '2026-12-01'."""
    raw = " ".join(text.strip().lower().split())
    if not raw:
        raise ValueError(f"empty date: {_DUE_HINT}")
    if raw == "today":
        return today
    if raw in ("tomorrow", "tmrw", "tmr"):
        return today + timedelta(days=1)
    if raw == "next week":
        return today + timedelta(days=7 - today.weekday())
    if raw == "next month":
        month = today.month % 12 + 1
        year = today.year + (1 if month == 1 else 0)
        return date(year, month, 1)
    found = re.match(r"^(?:in\s+|\+)?(\d{1,3})\s*([a-z]+)$", raw)
    if found and _month(found.group(2)) is not None:
        found = None  # '15 dec' is a day, not fifteen units of 'dec'
    if found:
        unit = _UNIT_WORDS.get(found.group(2))
        if unit not in ("d", "w"):
            raise ValueError(f"unknown unit {found.group(2)!r} in {text!r}: {_DUE_HINT}")
        days = int(found.group(1)) * (7 if unit == "w" else 1)
        return today + timedelta(days=days)
    weekday = _weekday(raw.removeprefix("next ").strip())
    if weekday is not None:
        ahead = (weekday - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    day = _iso_day(raw)
    if day is not None:
        return day
    calendar = _calendar_day(raw, today, ahead=True)
    if calendar is not None and not calendar[1]:
        return calendar[0]
    raise ValueError(f"not a date: {text!r}: {_DUE_HINT}")
