"""Opening the SQLite cache: pragmas, migrations, and clear errors for caches we cannot use."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from csm_tui.errors import CsmError
from csm_tui.store.schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 10_000


class Connected(Protocol):
    """What the store's readers use of a database: its connection. A ``sqlite_utils.Database``
    is one; so is the rescore helper's plain read-only connection (store/rescore_worker.py)."""

    @property
    def conn(self) -> sqlite3.Connection: ...


class CacheError(CsmError):
    """The cache cannot be used; the message is one line saying why and what to do."""


def utc_now() -> str:
    """The current instant as an ISO string in UTC with microseconds (so strings sort in order)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _connect(path: Path, shared: bool = False) -> sqlite3.Connection:
    # isolation_level=None: we manage transactions explicitly (BEGIN IMMEDIATE / COMMIT).
    conn = sqlite3.connect(
        str(path),
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=not shared,
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    """The cache's schema version (0 for an empty file)."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if row is None:
        return 0
    found = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(found[0] or 0)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Run the migrations the cache lacks, each in its own transaction; return the new version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)"
    )
    current = schema_version(conn)
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            if schema_version(conn) >= version:
                conn.execute("ROLLBACK")
                continue
            MIGRATIONS[version - 1](conn)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, utc_now()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def open_cache(
    path: Path,
    *,
    create: bool = True,
    target: int = SCHEMA_VERSION,
    check: bool = False,
    shared: bool = False,
) -> sqlite_utils.Database:
    """Open (and create or upgrade) the cache at ``path``.

    Raises CacheError for a file that a newer csm-tui wrote, and for a damaged file, which is
    first moved aside (never deleted: it may hold unpushed notes) so the next sync rebuilds.
    ``check`` runs SQLite's quick_check too (sync and doctor do; opening the app does not).
    ``shared``: the connection may be used from other threads, one at a time (KeptConnection).
    """
    # sqlite-utils is imported here, not at module level: it costs ~80 ms (with its plugin
    # machinery), and the app's first screen reads through a plain connection.
    import sqlite_utils

    return sqlite_utils.Database(
        open_connection(path, create=create, target=target, check=check, shared=shared)
    )


def open_connection(
    path: Path,
    *,
    create: bool = True,
    target: int = SCHEMA_VERSION,
    check: bool = False,
    shared: bool = False,
) -> sqlite3.Connection:
    """A plain sqlite3 connection to the cache at ``path``, opened as ``open_cache`` does."""
    if not create and not path.exists():
        raise CacheError(f"No cache at {path}. Run `csm-tui sync` (or `csm-tui demo`) first.")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn: sqlite3.Connection | None = None
    try:
        conn = _connect(path, shared)
        _set_wal(conn)
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            raise CacheError(
                f"The cache {path} was written by a newer csm-tui (schema {version}, this one "
                f"knows {SCHEMA_VERSION}). Upgrade csm-tui, or use another workspace."
            )
        if version < target:
            migrate(conn, target)
        if check:
            found = conn.execute("PRAGMA quick_check").fetchone()[0]
            if found != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {found}")
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        if not is_corruption(exc):  # locked, busy, permissions: the file itself is fine
            raise CacheError(f"The cache {path} cannot be opened: {exc}.") from None
        kept = set_aside(path)
        raise CacheError(
            f"The cache {path} is damaged or not a csm-tui cache ({exc}); it was kept aside as "
            f"{kept.name}. Run `csm-tui sync` to rebuild it."
        ) from None
    except CacheError:
        if conn is not None:
            conn.close()
        raise
    return conn


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True when SQLite says the file itself is bad (not merely locked or unreadable)."""
    text = str(exc).lower()
    return any(
        mark in text for mark in ("not a database", "malformed", "integrity check", "corrupt")
    )


def set_aside(path: Path) -> Path:
    """Rename a damaged cache (and its WAL files) out of the way; return the new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    path.rename(kept)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(kept.with_name(kept.name + suffix))
    return kept


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL; another process may hold a lock for a moment, so retry briefly."""
    for attempt in range(50):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)


def table_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Row counts of every table, by name."""
    return {name: db[name].count for name in sorted(db.table_names())}
