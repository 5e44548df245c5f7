"""The sync tests' day, settings pointed at the fakes, fast retry policies, and reading a cache
back for comparison."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from csm_tui.config import Settings, load_settings
from csm_tui.sources.http import HttpPolicy
from csm_tui.store.db import open_cache

TODAY = date(2026, 11, 16)  # the day the sync tests' portfolios are generated for
# Retries that cost no real time (the pacing itself runs on the fakes' simulated clock).
FAST = HttpPolicy(
    attempts=4, retry_total_seconds=10, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0,
    max_retry_after=0.005,
)  # fmt: skip
# Quick retries for a sync run as a command (in a subprocess), set through the environment.
FAST_ENV = {
    "CSM_TUI_HTTP__ATTEMPTS": "3",
    "CSM_TUI_HTTP__WAIT_INITIAL": "0.01",
    "CSM_TUI_HTTP__WAIT_MAX": "0.02",
    "CSM_TUI_HTTP__MAX_RETRY_AFTER": "0.005",
}
# FAST, with analytics pages small enough that a small book spans several.
SMALL_PAGES = dataclasses.replace(FAST, analytics_page_size=400)
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
ALL_TABLES = (*BOOK_TABLES, "usage_weekly", "user_activity")


def crm_settings(owner_email: str = "", workspace: str = "default") -> Settings:
    """Settings pointed at the in-process fake CRM (analytics left unconfigured)."""
    return load_settings(
        workspace=workspace,
        crm={"base_url": "http://127.0.0.1:9", "token": "demo-hubspot-token", "owner_email": owner_email},
    )  # fmt: skip


def both_settings(owner_email: str, workspace: str = "default") -> Settings:
    """Settings pointed at both in-process fakes."""
    return load_settings(
        workspace=workspace,
        crm={"base_url": "http://127.0.0.1:9", "token": "demo-hubspot-token", "owner_email": owner_email},
        analytics={"base_url": "http://127.0.0.1:9", "token": "demo-posthog-token", "project_id": "1"},
    )  # fmt: skip


def state(settings: Settings) -> dict[tuple[str, str], str | None]:
    """(source, object) -> cursor of every row of sync_state."""
    db = open_cache(settings.cache_path, create=False)
    try:
        return {(r["source"], r["object"]): r["cursor"] for r in db["sync_state"].rows}
    finally:
        db.conn.close()


def table_rows(settings: Settings, tables: tuple[str, ...] = BOOK_TABLES) -> dict[str, list[Any]]:
    """Every row of the book's tables, in a stable order, for comparing two caches."""
    db = open_cache(settings.cache_path, create=False)
    try:
        return {t: sorted((tuple(sorted(r.items())) for r in db[t].rows), key=repr) for t in tables}
    finally:
        db.conn.close()
