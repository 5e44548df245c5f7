"""A cache connection kept open between uses that come one at a time from different threads.

The app's saves run in worker threads, each a new thread. Opening the cache for each save cost
~2.5 ms of it (SQLite parses the whole schema on a new connection's first statement), on the
path from the save key to its result on screen. Kept open, one connection serves them all: a
lock gives it to one thread at a time, and it is opened again when the file at the cache's path
is no longer the one it has open (a sync set a damaged cache aside and built a new one) and
after any error, so a failed save never leaves a half-done transaction to the next one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from csm_tui.store.db import open_cache

if TYPE_CHECKING:
    import sqlite_utils


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class KeptConnection:
    """One sqlite-utils Database for ``path``, opened on first use and kept until close()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite_utils.Database | None = None
        self._file: tuple[int, int] | None = None

    @contextmanager
    def use(self) -> Iterator[sqlite_utils.Database]:
        """The connection, for this thread alone until the block ends."""
        with self._lock:
            if self._db is not None and _file_identity(self.path) != self._file:
                self._close()
            if self._db is None:
                self._db = open_cache(self.path, shared=True)
                self._file = _file_identity(self.path)
            try:
                yield self._db
            except BaseException:
                self._close()
                raise

    def close(self) -> None:
        """Close the connection (the next use opens a new one)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.conn.close()
