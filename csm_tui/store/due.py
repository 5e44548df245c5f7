"""The due queue: open next steps (and CRM tasks) due by a day, across the book."""

from __future__ import annotations

from datetime import date, timedelta

import sqlite_utils

from csm_tui.domain.models import plain

DUE_COLUMNS = ("step_id", "due_date", "days_late", "account_id", "account", "title")


def due_steps(
    db: sqlite_utils.Database, today: date, within_days: int = 0
) -> list[dict[str, object]]:
    """Open next steps due by ``today`` (+ ``within_days``), the most overdue first."""
    rows = db.conn.execute(
        "SELECT n.id, n.due_date, n.account_id, a.name, n.title FROM next_steps n "
        "JOIN accounts a ON a.id = n.account_id WHERE n.done = 0 AND a.archived = 0 "
        "AND n.due_date IS NOT NULL AND n.due_date <= ? ORDER BY n.due_date, a.name, n.id",
        [(today + timedelta(days=within_days)).isoformat()],
    ).fetchall()
    return [
        {
            "step_id": r[0],
            "due_date": r[1][:10],
            "days_late": (today - date.fromisoformat(r[1][:10])).days,
            "account_id": r[2],
            "account": plain(r[3] or r[2]),
            "title": plain(r[4]),
        }
        for r in rows
    ]
