"""The cache: pragmas, migrations, refusal of caches we cannot use, one-transaction writes."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from csm_tui.store import actions, outbox
from csm_tui.store.db import CacheError, open_cache
from csm_tui.store.schema import SCHEMA_VERSION

DESIGN_TABLES = {
    "owners", "accounts", "arr_history", "contacts", "deals", "tickets", "survey_responses",
    "usage_weekly", "user_activity", "touches", "next_steps", "sequences", "enrollments",
    "snoozes", "outbox", "sync_state", "scores", "score_history",
}  # fmt: skip


def schema_of(path) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    conn.close()
    return {(t, n, " ".join((s or "").split())) for t, n, s in rows}


def test_fresh_cache_has_every_table_in_wal_mode(settings) -> None:
    db = open_cache(settings.cache_path)
    assert set(db.table_names()) >= DESIGN_TABLES
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    db.conn.close()


def test_cache_created_at_version_1_and_migrated_equals_a_fresh_one(tmp_path) -> None:
    old = tmp_path / "old.db"
    db = open_cache(old, target=1)
    assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1
    db["accounts"].insert({"id": "1", "name": "Kept Across Upgrade"})
    db.conn.close()
    assert "idx_accounts_owner" not in {n for _, n, _ in schema_of(old)}

    open_cache(old).conn.close()  # upgrade in place
    fresh = tmp_path / "fresh.db"
    open_cache(fresh).conn.close()
    strip = lambda s: {x for x in s if x[1] != "schema_version"}  # noqa: E731
    assert strip(schema_of(old)) == strip(schema_of(fresh))
    db = open_cache(old)
    assert db["accounts"].get("1")["name"] == "Kept Across Upgrade"
    assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_cache_from_a_newer_csm_tui_is_refused(tmp_path) -> None:
    path = tmp_path / "newer.db"
    db = open_cache(path)
    db.execute("INSERT INTO schema_version (version, applied_at) VALUES (999, 'x')")
    db.conn.close()
    with pytest.raises(CacheError, match="newer csm-tui"):
        open_cache(path)


def test_a_file_that_is_not_a_database_is_kept_aside_and_rebuilt(tmp_path) -> None:
    path = tmp_path / "cache.db"
    garbage = b"this is not sqlite at all" * 100
    path.write_bytes(garbage)
    with pytest.raises(CacheError, match="damaged or not a csm-tui cache") as caught:
        open_cache(path)
    [kept] = tmp_path.glob("cache.db.damaged-*")
    assert kept.name in str(caught.value)
    assert kept.read_bytes() == garbage  # nothing the user had is deleted
    db = open_cache(path)  # the next open (a sync) starts a fresh cache
    assert db["accounts"].count == 0


def test_a_truncated_cache_is_caught_by_the_integrity_check(tmp_path) -> None:
    path = tmp_path / "cache.db"
    db = open_cache(path)
    db["accounts"].insert_all({"id": str(i), "name": "x" * 200} for i in range(2000))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheError, match="kept aside"):
        db = open_cache(path, check=True)
        db.execute("SELECT COUNT(*), MAX(name) FROM accounts").fetchone()
    assert list(tmp_path.glob("cache.db.damaged-*"))


def test_local_action_and_its_outbox_row_are_written_together(db) -> None:
    touch_id = actions.log_touch(
        db,
        account_id="42",
        kind="call",
        summary="Walked through the renewal",
        occurred_at="2026-11-23T10:00:00+00:00",
    )
    [item] = outbox.items(db)
    assert item.kind == "touch" and item.ref_id == touch_id
    assert item.payload["summary"] == "Walked through the renewal"
    assert db["touches"].get(touch_id)["account_id"] == "42"


def test_a_failing_write_leaves_neither_row_nor_outbox_item(db) -> None:
    db["touches"].insert(
        {"id": "dup", "account_id": "1", "kind": "note", "occurred_at": "x", "created_at": "x"}
    )
    with pytest.raises(sqlite3.IntegrityError):
        outbox.record_local_action(
            db,
            table="touches",
            row={
                "id": "dup",
                "account_id": "1",
                "kind": "note",
                "occurred_at": "x",
                "created_at": "x",
            },
            kind="touch",
            payload={},
        )
    assert outbox.items(db) == []


def test_snooze_is_local_and_undo_takes_back_the_latest_action(db) -> None:
    actions.log_touch(
        db, account_id="1", kind="note", summary="a", occurred_at="2026-11-23T09:00:00+00:00"
    )
    actions.snooze(db, account_id="2", until=date(2026, 11, 30), reason="on holiday")
    assert outbox.counts(db)[outbox.PENDING] == 1  # the snooze has no outbox row
    undone = actions.undo_last(db)
    assert undone is not None and undone.kind == "snooze"
    assert db["snoozes"].count == 0
    undone = actions.undo_last(db)
    assert undone is not None and undone.kind == "touch"
    assert db["touches"].count == 0 and outbox.items(db) == []
    assert actions.undo_last(db) is None
