"""How money, days, health bands, trends and stages are written on screen."""

from __future__ import annotations

from datetime import date, datetime

from csm_tui.domain.vocabulary import BAND_SYMBOLS
from csm_tui.store.dates import cache_day

BAND_SYMBOL = BAND_SYMBOLS  # the same symbols as `csm-tui today`

BAND_WORD = {"green": "healthy", "yellow": "watch", "red": "at risk"}
STAGES = ("onboarding", "adoption", "expansion", "renewal", "retention", "win-back")
STAGE_TITLE = {
    "onboarding": "Onboarding",
    "adoption": "Adoption",
    "expansion": "Expansion",
    "renewal": "Renewal",
    "retention": "Retention",
    "win-back": "Win-back",
    "winback": "Win-back",
    "churned": "Win-back",
}
TREND_STEP = 5  # points over the trend window before an arrow turns up or down

# One reader of cache days for the whole package.
parse_day = cache_day


def money(value: float | None) -> str:
    """ARR as $950, $12k, $1.2M."""
    if value is None:
        return "—"
    v = float(value)
    if abs(v) >= 1_000_000:
        return f"${v / 1_000_000:.1f}M"
    if abs(v) >= 10_000:
        return f"${v / 1000:.0f}k"
    if abs(v) >= 1000:
        return f"${v / 1000:.1f}k"
    return f"${v:.0f}"


def money_full(value: float | None) -> str:
    """ARR with thousands separators."""
    return "—" if value is None else f"${float(value):,.0f}"


def renews_in(renewal: str | None, today: date) -> str:
    """'23 d', '7 mo', '5 d ago', '4 mo ago', '2 y ago' or '—': at most 8 characters, so the
    list's column keeps a space before the stage."""
    day = parse_day(renewal)
    if day is None:
        return "—"
    days = (day - today).days
    if days < 0:
        past = -days
        if past < 100:
            return f"{past} d ago"
        if (months := round(past / 30.4)) < 10:
            return f"{months} mo ago"
        return f"{max(1, round(past / 365))} y ago"
    if days < 100:
        return f"{days} d"
    return f"{round(days / 30.4)} mo"


def renews_days(renewal: str | None, today: date) -> int | None:
    """Days until renewal (negative when past)."""
    day = parse_day(renewal)
    return None if day is None else (day - today).days


def trend_arrow(trend: int | None) -> str:
    """↑, ↓ or → for the health trend; blank when unknown."""
    if trend is None:
        return " "
    if trend >= TREND_STEP:
        return "↑"
    if trend <= -TREND_STEP:
        return "↓"
    return "→"


def stage_title(stage: str | None) -> str:
    """The lifecycle stage as shown ('Win-back')."""
    if not stage:
        return "—"
    return STAGE_TITLE.get(stage.lower(), stage.title())


def ago(instant: datetime | None, now: datetime) -> str:
    """'just now', '7 min ago', '3 h ago', '2 d ago'."""
    if instant is None:
        return "never"
    seconds = (now - instant).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400 * 2:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86_400)} d ago"


def days_ago(day: str | None, today: date) -> str:
    """'today', '1 d ago', '14 d ago' or 'never'."""
    d = parse_day(day)
    if d is None:
        return "never"
    n = (today - d).days
    if n <= 0:
        return "today" if n == 0 else d.isoformat()
    return f"{n} d ago"
