"""Reading the cache's date strings back (days `YYYY-MM-DD`, instants ISO in UTC)."""

from __future__ import annotations

from datetime import date
from typing import Any


def cache_day(value: Any) -> date | None:
    """A cache day or instant as a date; None for empty or unreadable values."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
