"""Bulk writes of the sync: hundreds of thousands of rows, with little Python per row.

- ``upsert_rows``: one prepared statement run with executemany, meaning what sqlite-utils'
  upsert_all means (insert new rows; on a primary-key clash update only the columns given,
  keeping others such as a contact's last_active from analytics), without its per-row checks.
- ``Staging``: pages gathered outside the cache, then moved in with one INSERT ... SELECT.
- ``write_differences``: a re-pull written as the few rows that differ from the cache.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from csm_tui.store.db import open_connection
from csm_tui.store.transaction import transaction


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
    """Rows gathered in a scratch database while pages arrive, then moved into ``table`` at once.

    The scratch file sits next to the cache but is not the cache: filling it takes no lock the
    open app would wait for, and it is written without a journal (it is thrown away whatever
    happens). The move is one INSERT ... SELECT that SQLite runs without Python per row: on
    this connection inside the caller's transaction (``replace_all``), or on a connection of its
    own in a worker thread (``replace_all_in_thread``) while this one goes on with other work.
    A pull that fails half-way leaves the cache as it was.
    """

    def __init__(self, db: sqlite_utils.Database, table: str, columns: Sequence[str]) -> None:
        self.db = db
        self.table = table
        self.columns = tuple(columns)
        self.schema = f"staging_{table}"
        self.rows = 0
        main = _main_file(db)
        if main is None:  # an in-memory cache (tests): a file of the temp dir
            fd, name = tempfile.mkstemp(prefix=f"csm-tui-{table}-", suffix=".db")
            os.close(fd)
            self.path = Path(name)
        else:
            self.path = main.with_name(f"{main.name}-staging-{table}")
        self.path.unlink(missing_ok=True)  # left by a sync that was killed
        names = ", ".join(f'"{c}"' for c in self.columns)
        conn = db.conn
        conn.execute(f'ATTACH DATABASE ? AS "{self.schema}"', [str(self.path)])
        self._attached = True
        conn.execute(f'PRAGMA "{self.schema}".journal_mode = OFF')
        conn.execute(f'PRAGMA "{self.schema}".synchronous = OFF')
        conn.execute(f'CREATE TABLE "{self.schema}".staged ({names})')
        marks = ", ".join("?" for _ in self.columns)
        self._insert = f'INSERT INTO "{self.schema}".staged ({names}) VALUES ({marks})'

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        """Stage rows (tuples in ``columns`` order)."""
        conn = self.db.conn
        # A deferred transaction that writes only the scratch file: the cache is not locked.
        outer = conn.in_transaction  # joined, if the caller holds one
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
        conn = self.db.conn
        conn.execute(
            f'CREATE TABLE "{self.schema}".merged AS SELECT {keys}, {picked} '
            f'FROM "{self.schema}".staged GROUP BY {keys}'
        )
        conn.execute(f'DROP TABLE "{self.schema}".staged')
        conn.execute(f'ALTER TABLE "{self.schema}".merged RENAME TO staged')
        self.rows = conn.execute(f'SELECT COUNT(*) FROM "{self.schema}".staged').fetchone()[0]

    def _copy_sql(self, schema: str, key: Sequence[str]) -> str:
        names = ", ".join(f'"{c}"' for c in self.columns)
        order = ", ".join(f'"{c}"' for c in key)
        # In key order, each index of the table grows at its end instead of at random places
        # (several times faster for a few hundred thousand rows); OR REPLACE with rowid last:
        # where two staged rows share a key, the later one wins.
        return (
            f'INSERT OR REPLACE INTO "{self.table}" ({names}) SELECT {names} '
            f'FROM "{schema}".staged ORDER BY {order}, rowid'
        )

    def replace_all(self, key: Sequence[str]) -> int:
        """Replace every row of ``table`` with the staged rows (call inside a transaction)."""
        self.db.conn.execute(f'DELETE FROM "{self.table}"')
        return self.db.conn.execute(self._copy_sql(self.schema, key)).rowcount

    async def replace_all_in_thread(
        self, key: Sequence[str], then: Callable[[sqlite_utils.Database], None]
    ) -> int:
        """``replace_all`` in a transaction of its own, on a connection of its own, in a worker
        thread: SQLite does the copy without holding Python's lock, so this thread goes on
        meanwhile (its connection must not write to the cache until this returns). ``then``
        runs in the same transaction (to store the pull's cursor with its rows)."""
        main = _main_file(self.db)
        if main is None:
            raise ValueError("replace_all_in_thread needs a cache in a file")
        self._detach()  # the worker reads the scratch file; this connection has let go of it
        return await asyncio.to_thread(self._replace_all_on_own_connection, main, key, then)

    def _replace_all_on_own_connection(
        self, main: Path, key: Sequence[str], then: Callable[[sqlite_utils.Database], None]
    ) -> int:
        conn = open_connection(main, create=False)
        try:
            conn.execute('ATTACH DATABASE ? AS "scratch"', [str(self.path)])
            db = sqlite_utils.Database(conn)
            with transaction(db):
                conn.execute(f'DELETE FROM "{self.table}"')
                written = conn.execute(self._copy_sql("scratch", key)).rowcount
                then(db)
            conn.execute('DETACH DATABASE "scratch"')
            return int(written)
        finally:
            conn.close()

    def _detach(self) -> None:
        if self._attached:
            self._attached = False
            self.db.conn.execute(f'DETACH DATABASE "{self.schema}"')

    def drop(self) -> None:
        """Let go of the scratch file and delete it."""
        self._detach()
        self.path.unlink(missing_ok=True)


def _main_file(db: sqlite_utils.Database) -> Path | None:
    """The cache's file (None for an in-memory database)."""
    for _, name, file in db.conn.execute("PRAGMA database_list"):
        if name == "main":
            return Path(file) if file else None
    return None


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
) -> int:
    """Make the rows of ``table`` in ``scope`` (a WHERE clause) equal ``rows``, writing only
    the rows that differ (call inside a transaction); returns the rows written or deleted.

    ``rows`` are tuples in ``columns`` order whose first ``key_size`` columns are the key (a
    later row with the same key wins). Cached rows in scope that are not in ``rows`` are
    deleted unless ``delete_missing`` is false. A re-pull mostly brings what the cache holds
    already: comparing in Python costs far less than rewriting every row (and the triggers
    that note changes see only real ones).
    """
    names = ", ".join(f'"{c}"' for c in columns)
    existing = set(db.conn.execute(f'SELECT {names} FROM "{table}" WHERE {scope}', list(params)))
    wanted = {row[:key_size]: row for row in map(tuple, rows)}
    # Whole rows compared as tuples: a row the cache holds as it is needs no write.
    changed = [row for row in wanted.values() if row not in existing]
    gone = list({row[:key_size] for row in existing}.difference(wanted)) if delete_missing else []
    if gone:
        match = " AND ".join(f'"{c}" = ?' for c in columns[:key_size])
        db.conn.executemany(f'DELETE FROM "{table}" WHERE {match}', gone)
    if changed:
        marks = ", ".join("?" for _ in columns)
        db.conn.executemany(f'INSERT OR REPLACE INTO "{table}" ({names}) VALUES ({marks})', changed)
    return len(changed) + len(gone)
