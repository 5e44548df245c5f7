"""What other scoring settings would change: bands, places in the attention list, the check.

Each side is a real rescore (``store.rescore``) of an in-memory copy of the cache, so the cache
itself is never written and the figures are exactly those a rescore with the settings would
store. The score check of each side is computed on its copy from the dated inputs alone (the
days' stored scores are dropped first: they were made with the settings in force then).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from csm_tui.store.rescore import rescore
from csm_tui.store.score_check import DEFAULT_HORIZON, CheckReport, check_cache
from csm_tui.store.score_settings import (
    mark_previewed,
    scoring_fingerprint,
    used_config,
    with_scoring_config,
)

if TYPE_CHECKING:
    import sqlite_utils

    from csm_tui.config import Settings

DEFAULT_RANKS = 10


@dataclass(frozen=True, slots=True)
class Standing:
    """An account's score and place in the attention list under one set of settings."""

    health: int | None
    band: str | None
    rank: int  # 1 = top of the attention list
    priority: float


@dataclass(frozen=True, slots=True)
class Change:
    """One account under both settings."""

    account_id: str
    name: str
    before: Standing
    after: Standing

    @property
    def moved(self) -> int:
        """Places moved up the attention list (negative: down)."""
        return self.before.rank - self.after.rank

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "account_id": self.account_id,
            "name": self.name,
            "health": [self.before.health, self.after.health],
            "band": [self.before.band, self.after.band],
            "rank": [self.before.rank, self.after.rank],
        }


@dataclass(frozen=True, slots=True)
class ScoreDiff:
    """Accounts that change band, those that move more than ``ranks`` places, and the check."""

    accounts: int
    ranks: int
    band_changes: tuple[Change, ...]
    rank_moves: tuple[Change, ...]
    check_before: CheckReport | None = None
    check_after: CheckReport | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "accounts": self.accounts,
            "ranks": self.ranks,
            "band_changes": [c.to_json() for c in self.band_changes],
            "rank_moves": [c.to_json() for c in self.rank_moves],
            "check": {
                "before": None if self.check_before is None else self.check_before.to_json(),
                "after": None if self.check_after is None else self.check_after.to_json(),
            },
        }


def in_memory(db: sqlite_utils.Database) -> sqlite_utils.Database:
    """A copy of the cache in memory (SQLite's online backup: a consistent snapshot)."""
    import sqlite_utils

    copy = sqlite3.connect(":memory:", isolation_level=None)
    db.conn.backup(copy)
    return sqlite_utils.Database(copy)


def standings(db: sqlite_utils.Database) -> dict[str, tuple[str, Standing]]:
    """Each active account's name and standing, ranked as the attention list ranks (priority,
    then ARR, then name)."""
    rows = db.execute(
        "SELECT a.id, a.name, s.health, s.band, s.priority FROM scores s "
        "JOIN accounts a ON a.id = s.account_id WHERE a.archived = 0 "
        "ORDER BY s.priority DESC, COALESCE(a.arr, 0) DESC, a.name, a.id"
    ).fetchall()
    return {
        acc: (name or "", Standing(health, band, rank, float(priority or 0.0)))
        for rank, (acc, name, health, band, priority) in enumerate(rows, start=1)
    }


def rescored_copy(
    db: sqlite_utils.Database, settings: Settings, today: date
) -> sqlite_utils.Database:
    """An in-memory copy of the cache, rescored with ``settings``."""
    copy = in_memory(db)
    rescore(copy, settings, today)
    return copy


def _check(
    copy: sqlite_utils.Database, settings: Settings, today: date, horizon: int
) -> CheckReport:
    copy.execute("DELETE FROM score_days")
    return check_cache(copy, settings, today, horizon=horizon)


def diff_standings(
    before: dict[str, tuple[str, Standing]],
    after: dict[str, tuple[str, Standing]],
    ranks: int,
) -> tuple[tuple[Change, ...], tuple[Change, ...]]:
    """(accounts whose band changes, accounts moving more than ``ranks`` places), the first by
    new rank, the second by the size of the move."""
    changes = [
        Change(acc, name, standing, after[acc][1])
        for acc, (name, standing) in before.items()
        if acc in after
    ]
    bands = sorted(
        (c for c in changes if c.before.band != c.after.band), key=lambda c: c.after.rank
    )
    moves = sorted(
        (c for c in changes if abs(c.moved) > ranks), key=lambda c: (-abs(c.moved), c.after.rank)
    )
    return tuple(bands), tuple(moves)


def score_diff(
    db: sqlite_utils.Database,
    before: Settings,
    after: Settings,
    today: date,
    *,
    ranks: int = DEFAULT_RANKS,
    horizon: int = DEFAULT_HORIZON,
    check: bool = True,
) -> ScoreDiff:
    """What scoring with ``after`` instead of ``before`` would change (the cache untouched)."""
    old = rescored_copy(db, before, today)
    new = rescored_copy(db, after, today)
    try:
        was, now = standings(old), standings(new)
        bands, moves = diff_standings(was, now, ranks)
        check_before = _check(old, before, today, horizon) if check else None
        check_after = _check(new, after, today, horizon) if check else None
    finally:
        old.conn.close()
        new.conn.close()
    return ScoreDiff(len(now), ranks, bands, moves, check_before, check_after)


def settings_change_preview(
    db: sqlite_utils.Database, settings: Settings, today: date
) -> ScoreDiff | None:
    """What ``settings`` change against those of the last full rescore, once: None when they
    are the same, when this change was previewed already, or before any full rescore.

    The preview is marked as shown in the cache, so it is not shown again until the settings
    change again (or a rescore makes them the ones in use).
    """
    used = used_config(db)
    if used is None:
        return None
    now = scoring_fingerprint(settings)
    if now in (used.fingerprint, used.previewed):
        return None
    try:
        before = with_scoring_config(settings, used.config)
    except ValueError:  # kept by another version, no longer valid: nothing to compare with
        mark_previewed(db, now)
        return None
    diff = score_diff(db, before, settings, today)
    mark_previewed(db, now)
    return diff


def preview_text(diff: ScoreDiff) -> str:
    """The preview as one notice: how many change band or move, and the check before/after."""
    text = (
        f"Scoring settings changed since the last rescore: {len(diff.band_changes)} of "
        f"{diff.accounts} accounts would change band, {len(diff.rank_moves)} move more than "
        f"{diff.ranks} places"
    )
    before = None if diff.check_before is None else diff.check_before.check.overall.auc
    after = None if diff.check_after is None else diff.check_after.check.overall.auc
    if before is not None and after is not None:
        text += f"; score check AUC {before:.2f} → {after:.2f}"
    return text + ". The next sync rescores with them (csm-tui score-diff compares others)."
