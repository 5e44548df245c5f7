"""What this machine remembers about itself, by key, in the cache's ``local_state`` table (one
per workspace): when the app was last opened, which digest periods were posted to Slack, the
scoring settings the last full rescore used (store/score_settings.py)."""

from __future__ import annotations

import json
from typing import Any

from csm_tui.store.db import Connected, utc_now


def read_state(db: Connected, key: str) -> dict[str, Any]:
    """The value kept under ``key`` ({} when none, or unreadable)."""
    row = db.conn.execute("SELECT value FROM local_state WHERE key = ?", [key]).fetchone()
    if row is None:
        return {}
    try:
        value = json.loads(row[0])
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def put_state(db: Connected, key: str, value: dict[str, Any]) -> None:
    """Keep ``value`` under ``key`` as part of the transaction under way (not committed here)."""
    db.conn.execute(
        "INSERT INTO local_state (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at",
        [key, json.dumps(value, ensure_ascii=False, sort_keys=True), utc_now()],
    )


def write_state(db: Connected, key: str, value: dict[str, Any]) -> None:
    """Keep ``value`` under ``key``, committed at once."""
    with db.conn:
        put_state(db, key, value)
