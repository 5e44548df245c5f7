"""Since you last looked: the digest's changes since the app was last opened, each shown once.

The cache is one per workspace, so ``local_state`` keeps this per workspace: the day the app was
last opened and the changes it showed then. The digest counts in whole days (a change happened
after a day and by today), so the window starts the day before the last opening and what was
shown then is taken out: a change that arrives later the same day (a sync after opening) is still
new, and nothing is shown twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from csm_tui.domain.digest import Change
from csm_tui.store.dates import cache_day
from csm_tui.store.db import Connected
from csm_tui.store.digest import changes_since
from csm_tui.store.local_state import read_state, write_state

KEY = "app:last_look"
MAX_REMEMBERED = 5_000  # fingerprints kept of what was shown (a book's worth of changes)


@dataclass(frozen=True)
class LastLook:
    """What to show on opening: the changes not yet seen, since ``since`` (None: first open)."""

    since: date | None
    changes: tuple[Change, ...]
    seen: tuple[str, ...]  # fingerprints of every change in the window, to record once shown


def fingerprint(change: Change) -> str:
    """One change, as remembered between openings: what stays the same when it is found again
    from another day (a band change by the band it reached, a usage cliff by its account)."""
    if change.kind in ("band_down", "band_up"):
        return f"{change.kind}|{change.account_id}|{change.text.rsplit(' ', 1)[-1]}"
    if change.kind == "usage_cliff":
        return f"{change.kind}|{change.account_id}"
    return f"{change.kind}|{change.account_id}|{change.text}"


def look_since_last_open(db: Connected, today: date) -> LastLook:
    """The changes since the app was last opened that it has not shown yet.

    The first opening has nothing to compare with: it shows nothing and is recorded at once.
    An opening with nothing new is recorded too; one with news is recorded by ``record_look``
    once it is shown (an opening that could not show it shows it next time).
    """
    state = read_state(db, KEY)
    opened = cache_day(str(state.get("opened") or ""))
    if opened is None or opened > today:
        record_look(db, today, [])
        return LastLook(None, (), ())
    since = opened - timedelta(days=1)
    window = changes_since(db, since, today)
    before = state.get("seen")
    shown = set(before) if isinstance(before, list) else set()
    new = tuple(c for c in window if fingerprint(c) not in shown)
    seen = tuple(fingerprint(c) for c in window)
    if not new:
        record_look(db, today, seen)
    return LastLook(opened, new, seen)


def record_look(db: Connected, today: date, seen: tuple[str, ...] | list[str]) -> None:
    """Remember this opening: its day and what it showed."""
    write_state(db, KEY, {"opened": today.isoformat(), "seen": list(seen)[-MAX_REMEMBERED:]})
