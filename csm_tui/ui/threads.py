"""What the app's thread workers share: a cache connection of their own, one line for a failure.

A SQLite connection belongs to the thread that opened it: each worker opens its own and closes it
when done (the saves keep one open: csm_tui/store/kept_connection.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from csm_tui.errors import CsmError
from csm_tui.store.db import open_cache, open_connection
from csm_tui.ui.safe_text import clean

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    import sqlite_utils


@contextmanager
def cache_db(path: Path) -> Iterator[sqlite_utils.Database]:
    """A sqlite-utils connection for this thread only."""
    db = open_cache(path)
    try:
        yield db
    finally:
        db.conn.close()


@contextmanager
def reader(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection for this thread's reads (no sqlite-utils: the opening reads)."""
    conn = open_connection(path)
    try:
        yield conn
    finally:
        conn.close()


def one_line(exc: BaseException) -> str:
    """The first line of an error; unexpected errors (not CsmError) are named by their type."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if not isinstance(exc, CsmError):
        first = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return clean(first, 200)
