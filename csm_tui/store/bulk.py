"""Bulk writes of the sync: hundreds of thousands of rows, with little Python per row.

- ``upsert_rows``: one prepared statement run with executemany, meaning what sqlite-utils'
  upsert_all means (insert new rows; on a primary-key clash update only the columns given,
  keeping others such as a contact's last_active from analytics), without its per-row checks.
- ``write_differences``: a re-pull written as the few rows that differ from the cache (the
  cache's rows read beforehand with ``rows_in_scope``, or then).
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
        # A dict's values come in the order of its keys: no per-column lookups.
        groups.setdefault(tuple(row), []).append(tuple(row.values()))
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


def write_differences(
    db: sqlite_utils.Database,
    table: str,
    columns: Sequence[str],
    key_size: int,
    rows: Iterable[Sequence[Any]],
    scope: str,
    params: Sequence[Any] = (),
    *,
    delete_missing: bool = True,
    existing: set[tuple[Any, ...]] | None = None,
) -> int:
    """Make the rows of ``table`` in ``scope`` (a WHERE clause) equal ``rows``, writing only
    the rows that differ (call inside a transaction); returns the rows written or deleted.

    ``rows`` are tuples in ``columns`` order whose first ``key_size`` columns are the key (a
    later row with the same key wins). Cached rows in scope that are not in ``rows`` are
    deleted unless ``delete_missing`` is false; ``existing``: the rows in scope, when the
    caller read them already (``rows_in_scope``). A re-pull mostly brings what the cache holds
    already: comparing in Python costs far less than rewriting every row (and the triggers
    that note changes see only real ones).
    """
    names = ", ".join(f'"{c}"' for c in columns)
    if existing is None:
        existing = rows_in_scope(db, table, columns, scope, params)
    wanted = {row[:key_size]: row for row in map(tuple, rows)}
    # Whole rows compared as tuples, set against set: a row the cache holds as it is needs no
    # write, and only the cached rows that differ can be gone.
    kept = set(wanted.values())
    changed = list(kept - existing)
    gone = (
        [row[:key_size] for row in existing - kept if row[:key_size] not in wanted]
        if delete_missing
        else []
    )
    if gone:
        match = " AND ".join(f'"{c}" = ?' for c in columns[:key_size])
        db.conn.executemany(f'DELETE FROM "{table}" WHERE {match}', gone)
    if changed:
        marks = ", ".join("?" for _ in columns)
        db.conn.executemany(f'INSERT OR REPLACE INTO "{table}" ({names}) VALUES ({marks})', changed)
    return len(changed) + len(gone)


def rows_in_scope(
    db: sqlite_utils.Database,
    table: str,
    columns: Sequence[str],
    scope: str,
    params: Sequence[Any] = (),
) -> set[tuple[Any, ...]]:
    """The rows of ``table`` in ``scope`` (a WHERE clause), as tuples in ``columns`` order."""
    names = ", ".join(f'"{c}"' for c in columns)
    return set(db.conn.execute(f'SELECT {names} FROM "{table}" WHERE {scope}', list(params)))
