"""A whole analytics pull, staged in a scratch file, then copied into the cache by a thread.

A full pull brings some 1.7 million rows: their pages are staged in a scratch file next to the
cache as they arrive (nothing of the cache is locked meanwhile), then copied into the cache in
one transaction with the pull's cursor, so a failed page leaves the cache as it was.

- ``add``: the rows of a page (mapped by Python, which costs less than any SQL mapping of
  them) are written 2,000 per statement: half the time of executemany, which binds and steps
  once per row. On the caller's thread: a thread of its own would hand Python's lock back and
  forth with the event loop's at every statement, which on a busy machine costs the CRM pull
  more than the insert takes.
- ``finish``: with ``merge`` (two groups of one account: www. and the bare domain), the
  numbers of rows sharing a key add up; otherwise the later row wins, at the copy.
- ``replace_all``: one INSERT ... SELECT in key order, on a connection and a thread of its
  own, which SQLite runs without Python's lock while the sync goes on (the CRM pull's writes
  take turns with it: sync/write_turns.py).

``add`` and ``finish`` may run in the analytics helper process (sync/analytics_helper.py), which
stages into the ``Scratch`` it is given; the copy is always the sync's. The scratch file is
named for the sync's process, and files left by a killed sync are deleted.

(Tried and dropped: SQLite reading the pages' JSON text itself (json_each) costs 3-5x
Python's json and mapping with this SQLite (3.40). Building the cache's table, indexes and all,
in the scratch file, moved in by SQLite's transfer of ready records (1.6 s instead of 2.8 s for
the usage), and staging straight into that table: both cost more work in all (~2 s), and a sync
on two cores is bound by its work.)
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from csm_tui.store.db import open_connection
from csm_tui.store.transaction import transaction

T = TypeVar("T")

CHUNK_ROWS = 2_000  # rows per INSERT (5 values each: well under SQLite's 32,766 variables)


@dataclass(frozen=True)
class Scratch:
    """Where and how one pull of ``table`` is staged (picklable: the analytics helper process
    stages into it, sync/analytics_helper.py)."""

    path: str
    table: str
    columns: tuple[str, ...]
    key: tuple[str, ...]


class PageStaging:
    """The rows of one whole pull of a table (usage_weekly or user_activity), staged.

    ``add`` runs on the caller's thread; ``finish``, ``replace_all`` and ``drop`` on the
    staging's own thread, in the order called (never while an ``add`` runs). ``add`` and
    ``finish`` may run in another process (the analytics helper); ``replace_all`` needs the
    cache (``main``).
    """

    def __init__(self, scratch: Scratch, main: Path | None = None) -> None:
        self.scratch = scratch
        self.table = scratch.table
        self.path = Path(scratch.path)
        self.main = main
        self.rows = 0  # rows staged, once finished
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"staging-{self.table}")

    @classmethod
    def beside(
        cls, db: sqlite_utils.Database, table: str, columns: Sequence[str], key: Sequence[str]
    ) -> PageStaging:
        """A staging of ``table`` in a scratch file next to the cache ``db``."""
        main = _main_file(db)
        if main is None:  # an in-memory cache (tests): a file of the temp dir
            fd, name = tempfile.mkstemp(prefix=f"csm-tui-{table}-", suffix=".db")
            os.close(fd)
            path = Path(name)
        else:
            # Left by a sync that was killed: gone (one sync at a time holds the workspace).
            for left in main.parent.glob(f"{glob.escape(main.name)}-staging-{table}*"):
                left.unlink(missing_ok=True)
            # Named for this process: nothing of a killed sync can write into it.
            path = main.with_name(f"{main.name}-staging-{table}-{os.getpid()}")
        return cls(Scratch(str(path), table, tuple(columns), tuple(key)), main)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    # -- from the event loop ---------------------------------------------------------------------

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        """Stage rows (tuples in ``columns`` order), on the caller's thread: a thread of its
        own would hand Python's lock back and forth with the event loop's at every statement,
        which on a busy machine costs the CRM pull more than the insert takes here."""
        self._add(rows)

    async def finish(self, merge: bool) -> int:
        """All pages are in (``merge``: add up the numbers of rows sharing a key instead of
        keeping the later one); the rows staged."""
        return await self._run(self._finish, merge)

    async def replace_all(self, then: Callable[[sqlite_utils.Database], None]) -> int:
        """Replace every row of the cache table with the staged rows, in one transaction on a
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
            conn.execute(f"CREATE TABLE staged ({', '.join(self.scratch.columns)})")
            self._conn = conn
        return self._conn

    def _add(self, rows: Sequence[Sequence[Any]]) -> None:
        # Many rows per statement: half the time of executemany, which binds and steps (and
        # lets go of Python's lock) once per row.
        conn = self._open()
        width = len(self.scratch.columns)
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
        if merge:
            names = ", ".join(f'"{c}"' for c in self.scratch.columns)
            keys = ", ".join(f'"{c}"' for c in self.scratch.key)
            picked = ", ".join(
                f'"{c}"' if c in self.scratch.key else f'SUM("{c}")' for c in self.scratch.columns
            )
            conn.execute("BEGIN")
            conn.execute(f"CREATE TABLE merged ({names})")
            conn.execute(f"INSERT INTO merged SELECT {picked} FROM staged GROUP BY {keys}")
            conn.execute("DROP TABLE staged")
            conn.execute("ALTER TABLE merged RENAME TO staged")
            conn.execute("COMMIT")
        self.rows = conn.execute("SELECT COUNT(*) FROM staged").fetchone()[0]
        self._close()
        return self.rows

    def _replace(self, then: Callable[[sqlite_utils.Database], None]) -> int:
        assert self.main is not None
        names = ", ".join(f'"{c}"' for c in self.scratch.columns)
        keys = ", ".join(f'"{c}"' for c in self.scratch.key)
        conn = open_connection(self.main, create=False)
        try:
            conn.execute('ATTACH DATABASE ? AS "scratch"', [str(self.path)])
            db = sqlite_utils.Database(conn)
            with transaction(db):
                conn.execute(f'DELETE FROM "{self.table}"')
                # In key order, each index of the table grows at its end (several times faster
                # than at random places); where two staged rows share a key, the later wins.
                written = conn.execute(
                    f'INSERT OR REPLACE INTO "{self.table}" ({names}) SELECT {names} '
                    f"FROM scratch.staged ORDER BY {keys}, rowid"
                ).rowcount
                then(db)
            conn.execute('DETACH DATABASE "scratch"')
            return int(written)
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
