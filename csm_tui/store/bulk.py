"""Fast bulk upserts: one prepared statement run with executemany.

sqlite-utils' upsert_all checks and rewrites each row in Python; the sync writes hundreds of
thousands of rows, so it uses this instead, with the same meaning: insert new rows, and on a
primary-key clash update only the columns given (others, such as a contact's last_active from
analytics, are kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils


def upsert_rows(
    db: sqlite_utils.Database, table: str, rows: Iterable[dict[str, Any]], pk: str | Sequence[str]
) -> int:
    """Insert or update ``rows`` (dicts) into ``table`` by ``pk``; return how many were written."""
    keys = (pk,) if isinstance(pk, str) else tuple(pk)
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        columns = tuple(row)
        groups.setdefault(columns, []).append(tuple(row[c] for c in columns))
    written = 0
    for columns, values in groups.items():
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        updates = [f'"{c}" = excluded."{c}"' for c in columns if c not in keys]
        conflict = ", ".join(f'"{k}"' for k in keys)
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        db.conn.executemany(
            f'INSERT INTO "{table}" ({names}) VALUES ({marks}) ON CONFLICT ({conflict}) {action}',
            values,
        )
        written += len(values)
    return written
