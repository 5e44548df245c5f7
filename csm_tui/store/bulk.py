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


class Staging:
    """Rows gathered in a TEMP table while pages arrive, then moved into ``table`` at once.

    The temp table lives outside the cache file, so filling it takes no lock other processes
    (the open app) would wait for; the move is one INSERT ... SELECT that SQLite runs without
    Python per row, in a short write transaction the caller holds. A pull that fails half-way
    leaves the cache as it was.
    """

    def __init__(self, db: sqlite_utils.Database, table: str, columns: Sequence[str]) -> None:
        self.db = db
        self.table = table
        self.columns = tuple(columns)
        self.name = f"staged_{table}"
        self.rows = 0
        names = ", ".join(f'"{c}"' for c in self.columns)
        db.conn.execute(f'DROP TABLE IF EXISTS temp."{self.name}"')
        db.conn.execute(f'CREATE TEMP TABLE "{self.name}" ({names})')
        marks = ", ".join("?" for _ in self.columns)
        self._insert = f'INSERT INTO temp."{self.name}" ({names}) VALUES ({marks})'

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        """Stage rows (tuples in ``columns`` order)."""
        conn = self.db.conn
        # A deferred transaction: it locks only the temp database, never the cache.
        outer = conn.in_transaction
        if not outer:
            conn.execute("BEGIN")
        try:
            before = conn.total_changes
            conn.executemany(self._insert, rows)
            self.rows += conn.total_changes - before
        except BaseException:
            if not outer:
                conn.execute("ROLLBACK")
            raise
        if not outer:
            conn.execute("COMMIT")

    def merge_duplicates(self, key: Sequence[str]) -> None:
        """Collapse staged rows sharing ``key`` into one, adding up every other column."""
        keys = ", ".join(f'"{c}"' for c in key)
        picked = ", ".join(f'SUM("{c}") AS "{c}"' for c in self.columns if c not in key)
        merged = f"{self.name}_merged"
        conn = self.db.conn
        conn.execute(f'DROP TABLE IF EXISTS temp."{merged}"')
        conn.execute(
            f'CREATE TEMP TABLE "{merged}" AS SELECT {keys}, {picked} '
            f'FROM temp."{self.name}" GROUP BY {keys}'
        )
        conn.execute(f'DROP TABLE temp."{self.name}"')
        conn.execute(f'ALTER TABLE temp."{merged}" RENAME TO "{self.name}"')
        self.rows = conn.execute(f'SELECT COUNT(*) FROM temp."{self.name}"').fetchone()[0]

    def replace_all(self, key: Sequence[str]) -> int:
        """Replace every row of ``table`` with the staged rows (call inside a transaction)."""
        names = ", ".join(f'"{c}"' for c in self.columns)
        order = ", ".join(f'"{c}"' for c in key)
        self.db.conn.execute(f'DELETE FROM "{self.table}"')
        # In key order, each index of the table grows at its end instead of at random places
        # (several times faster for a few hundred thousand rows); OR REPLACE with rowid last:
        # where two staged rows share a key, the later one wins.
        return self.db.conn.execute(
            f'INSERT OR REPLACE INTO "{self.table}" ({names}) SELECT {names} '
            f'FROM temp."{self.name}" ORDER BY {order}, rowid'
        ).rowcount

    def update_changed(
        self, key: Sequence[str], scope: str | None = None, params: Sequence[Any] = ()
    ) -> int:
        """Make ``table`` hold the staged rows, writing only rows that differ (call inside a
        transaction); with ``scope`` (a WHERE clause on ``table``), cached rows in scope that
        were not staged are deleted. Returns the rows written or deleted."""
        conn = self.db.conn
        names = ", ".join(f'"{c}"' for c in self.columns)
        on_key = " AND ".join(f't."{c}" = s."{c}"' for c in key)
        same = " AND ".join(f't."{c}" IS s."{c}"' for c in self.columns)
        index = f"{self.name}_key"
        key_names = ", ".join(f'"{c}"' for c in key)
        conn.execute(f'CREATE INDEX IF NOT EXISTS temp."{index}" ON "{self.name}" ({key_names})')
        written = 0
        if scope is not None:
            written += conn.execute(
                f'DELETE FROM "{self.table}" AS t WHERE ({scope}) AND NOT EXISTS '
                f'(SELECT 1 FROM temp."{self.name}" AS s WHERE {on_key})',
                list(params),
            ).rowcount
        written += conn.execute(
            f'INSERT OR REPLACE INTO "{self.table}" ({names}) SELECT {names} '
            f'FROM temp."{self.name}" AS s WHERE NOT EXISTS '
            f'(SELECT 1 FROM "{self.table}" AS t WHERE {on_key} AND {same})'
        ).rowcount
        return written

    def drop(self) -> None:
        """Remove the temp table."""
        self.db.conn.execute(f'DROP TABLE IF EXISTS temp."{self.name}"')
