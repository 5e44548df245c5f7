"""Reading the scores table back, and a small book with one account gone quiet to score."""

from __future__ import annotations

import sqlite_utils

from support.cache_builder import CacheBuilder


def scores(db: sqlite_utils.Database) -> dict[str, dict]:
    """account id -> its row of the scores table."""
    return {r["account_id"]: r for r in db.query("SELECT * FROM scores")}


def small_book(cache: CacheBuilder, n: int = 6) -> None:
    """``n`` healthy accounts (h0..), ARR rising, and "quiet": usage halved for four weeks,
    last touched 120 days ago."""
    for i in range(n):
        cache.healthy(f"h{i}", arr=10_000 * (i + 1))
    cache.account("quiet", arr=15_000)
    cache.usage("quiet", scale={1: 0.5, 2: 0.5, 3: 0.5, 4: 0.5})
    cache.touch("quiet", 120)
    cache.contact("quiet", "admin@quiet.example.com", "admin", 20)
    cache.survey("quiet", 8, 30)
