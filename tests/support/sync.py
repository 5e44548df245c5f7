"""Settings pointed at the fakes, a fast retry policy, and reading a cache back for comparison."""

from __future__ import annotations

from typing import Any

from csm_tui.config import Settings, load_settings
from csm_tui.sources.http import HttpPolicy
from csm_tui.store.db import open_cache

# Retries that cost no real time (the pacing itself runs on the fakes' simulated clock).
FAST = HttpPolicy(
    attempts=4, retry_total_seconds=10, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0,
    max_retry_after=0.005,
)  # fmt: skip
BOOK_TABLES = (
    "owners",
    "accounts",
    "arr_history",
    "contacts",
    "deals",
    "tickets",
    "survey_responses",
    "touches",
    "next_steps",
    "sequences",
)


def crm_settings(owner_email: str = "", workspace: str = "default") -> Settings:
    """Settings pointed at the in-process fake CRM (analytics left unconfigured)."""
    return load_settings(
        workspace=workspace,
        crm={"base_url": "http://127.0.0.1:9", "token": "demo-hubspot-token", "owner_email": owner_email},
    )  # fmt: skip


def table_rows(settings: Settings, tables: tuple[str, ...] = BOOK_TABLES) -> dict[str, list[Any]]:
    """Every row of the book's tables, in a stable order, for comparing two caches."""
    db = open_cache(settings.cache_path, create=False)
    try:
        return {t: sorted((tuple(sorted(r.items())) for r in db[t].rows), key=repr) for t in tables}
    finally:
        db.conn.close()
