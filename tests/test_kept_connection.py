"""The saves' connection: kept open between worker threads, opened again when it must be."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from csm_tui.store.db import set_aside
from csm_tui.store.kept_connection import KeptConnection


def _rows(kept: KeptConnection) -> int:
    with kept.use() as db:
        db.execute("CREATE TABLE IF NOT EXISTS saved (name TEXT)")
        return db.execute("SELECT COUNT(*) FROM saved").fetchone()[0]


def test_one_connection_serves_saves_from_different_threads(tmp_path: Path) -> None:
    kept = KeptConnection(tmp_path / "cache.db")
    _rows(kept)
    seen: list[int] = []

    def save() -> None:
        with kept.use() as db:
            seen.append(id(db.conn))
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO saved (name) VALUES (?)",
                [f"t{len(seen)}"],
            )
            db.execute("COMMIT")

    threads = [threading.Thread(target=save) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1  # opened once, used by four threads in turn
    assert _rows(kept) == 4
    kept.close()


def test_a_cache_set_aside_and_rebuilt_is_opened_anew(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    kept = KeptConnection(path)
    _rows(kept)
    with kept.use() as db:
        db.execute("INSERT INTO saved (name) VALUES ('t')")
        first = db.conn
    set_aside(path)  # what a sync does with a damaged cache; it then builds a new one
    assert _rows(kept) == 0  # the new, empty cache, not the one set aside
    with kept.use() as db:
        assert db.conn is not first
    kept.close()


def test_an_error_inside_a_use_drops_the_connection(tmp_path: Path) -> None:
    kept = KeptConnection(tmp_path / "cache.db")
    with kept.use() as db:
        first = db.conn
    with pytest.raises(RuntimeError), kept.use() as db:
        db.execute("BEGIN IMMEDIATE")
        raise RuntimeError("the save failed half way")
    with kept.use() as db:
        assert db.conn is not first
        assert not db.conn.in_transaction  # nothing half done is left to the next save
    kept.close()
