"""A whole analytics pull, staged by a thread of its own, then moved into the cache whole.

A full pull brings some 1.7 million rows. They were written to a scratch table with
executemany on the sync's one Python thread, then copied into the cache, sorted, at the end
of the sync (~4.5 s after the CRM). Now:

- ``add``: the rows of a page (mapped by Python, which costs less than any SQL mapping) are
  written to a scratch file next to the cache, 2,000 rows per statement (half the time of
  executemany).
- ``finish``: when the last page is in (the CRM is usually still being pulled), a thread of
  the staging's own writes the rows in key order into a copy of the cache table, with the
  cache's own definition and indexes, in the scratch file: one long statement, which SQLite
  runs without Python's lock while the CRM goes on. Where two rows share a key the later one wins;
  with ``merge`` (two groups of one account: www. and the bare domain), their numbers add up.
- ``replace_all``: ``INSERT INTO t SELECT * FROM copy`` into the emptied cache table, which
  SQLite does as a transfer of the whole table and its indexes (no per-row work: ~1 s for the
  usage, where the sorted copy took ~3 s), in one transaction with the pull's cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from csm_tui.store.db import open_connection
from csm_tui.store.transaction import transaction

T = TypeVar("T")

CHUNK_ROWS = 2_000  # rows per INSERT (5 values each: well under SQLite's 32,766 variables)


class PageStaging:
    """The rows of one whole pull of ``table`` (usage_weekly or user_activity), staged.

    ``add`` runs on the caller's thread; ``finish``, ``replace_all`` and ``drop`` on the
    staging's own thread, in the order called (never while an ``add`` runs).
    """

    def __init__(
        self, db: sqlite_utils.Database, table: str, columns: Sequence[str], key: Sequence[str]
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.key = tuple(key)
        self.rows = 0  # rows in the copy, once finished
        self.main = _main_file(db)
        if self.main is None:  # an in-memory cache (tests): a file of the temp dir
            fd, name = tempfile.mkstemp(prefix=f"csm-tui-{table}-", suffix=".db")
            os.close(fd)
            self.path = Path(name)
        else:
            self.path = self.main.with_name(f"{self.main.name}-staging-{table}")
        self.path.unlink(missing_ok=True)  # left by a sync that was killed
        # The cache's own definition of the table and its indexes, for the copy.
        self._schema = [
            r[0]
            for r in db.conn.execute(
                "SELECT sql FROM main.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                "AND type IN ('table', 'index') ORDER BY type DESC, name",
                [table],
            )
        ]
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"staging-{table}")

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    # -- from the event loop ---------------------------------------------------------------------

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        """Stage rows (tuples in ``columns`` order), on the caller's thread: a thread of its
        own would hand Python's lock back and forth with the event loop's at every statement,
        which on a busy machine costs the CRM pull more than the insert takes here."""
        self._add(rows)

    async def finish(self, merge: bool) -> int:
        """Write what was staged into the copy (``merge``: add up the numbers of rows sharing
        a key instead of keeping the later one); the rows of the copy."""
        return await self._run(self._finish, merge)

    async def replace_all(self, then: Callable[[sqlite_utils.Database], None]) -> int:
        """Replace every row of the cache table with the copy, in one transaction on a
        connection of its own (``then`` runs in it: the pull's cursor); rows written."""
        if self.main is None:
            raise ValueError("a staged pull needs a cache in a file")
        return await self._run(self._replace, then)

    async def drop(self) -> None:
        """Let go of the scratch file and delete it (after any work still running)."""
        with contextlib.suppress(BaseException):
            await self._run(self._close)
        self._thread.shutdown(wait=False)
        self.path.unlink(missing_ok=True)

    # -- on the staging thread -----------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            # Thrown away whatever happens: no journal, no syncs.
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute(f"CREATE TABLE staged ({', '.join(self.columns)})")
            self._conn = conn
        return self._conn

    def _add(self, rows: Sequence[Sequence[Any]]) -> None:
        # Many rows per statement: half the time of executemany, which binds and steps (and
        # lets go of Python's lock) once per row.
        conn = self._open()
        width = len(self.columns)
        marks = "(" + ", ".join("?" for _ in range(width)) + ")"
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        chunk = max(1, min(CHUNK_ROWS, limit // width))
        conn.execute("BEGIN")
        try:
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                conn.execute(
                    f"INSERT INTO staged VALUES {', '.join([marks] * len(part))}",
                    list(itertools.chain.from_iterable(part)),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _finish(self, merge: bool) -> int:
        conn = self._open()
        names = ", ".join(f'"{c}"' for c in self.columns)
        keys = ", ".join(f'"{c}"' for c in self.key)
        conn.execute("BEGIN")
        for sql in self._schema:  # the cache's CREATE TABLE and indexes, as they are
            conn.execute(sql)
        if merge:
            picked = ", ".join(f'"{c}"' if c in self.key else f'SUM("{c}")' for c in self.columns)
            select = f"SELECT {picked} FROM staged GROUP BY {keys}"
        else:
            # In key order (as the cache always had them), so every index grows at its end; a
            # later row with the same key replaces the earlier.
            select = f"SELECT {names} FROM staged ORDER BY {keys}, rowid"
        conn.execute(f'INSERT OR REPLACE INTO "{self.table}" ({names}) {select}')
        conn.execute("DROP TABLE staged")
        conn.execute("COMMIT")
        self.rows = conn.execute(f'SELECT COUNT(*) FROM "{self.table}"').fetchone()[0]
        self._close()
        return self.rows

    def _replace(self, then: Callable[[sqlite_utils.Database], None]) -> int:
        assert self.main is not None
        conn = open_connection(self.main, create=False)
        try:
            conn.execute('ATTACH DATABASE ? AS "scratch"', [str(self.path)])
            db = sqlite_utils.Database(conn)
            with transaction(db):
                conn.execute(f'DELETE FROM main."{self.table}"')
                # Same columns and indexes, into an empty table, SELECT *: SQLite copies the
                # table and its indexes in order (its "transfer" of a table), no per-row work.
                conn.execute(
                    f'INSERT INTO main."{self.table}" SELECT * FROM scratch."{self.table}"'
                )
                then(db)
            conn.execute('DETACH DATABASE "scratch"')
            return self.rows
        finally:
            conn.close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _main_file(db: sqlite_utils.Database) -> Path | None:
    """The cache's file (None for an in-memory database)."""
    for _, name, file in db.conn.execute("PRAGMA database_list"):
        if name == "main":
            return Path(file) if file else None
    return None
