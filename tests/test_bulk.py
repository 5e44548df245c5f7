"""Bulk upserts mean what sqlite-utils' upsert_all means: new rows in, given columns updated."""

from __future__ import annotations

from csm_tui.store.bulk import upsert_rows, write_differences
from csm_tui.store.transaction import transaction


def test_upsert_inserts_new_rows_and_updates_only_the_given_columns(db) -> None:
    db["contacts"].insert({"id": "c1", "account_id": "a1", "email": "old@x.test",
                           "last_active": "2026-11-20T10:00:00+00:00"})  # fmt: skip
    written = upsert_rows(
        db,
        "contacts",
        [
            {"id": "c1", "account_id": "a2", "email": "new@x.test"},
            {"id": "c2", "account_id": "a1", "email": "two@x.test"},
            {"id": "c3", "account_id": "a1"},  # another set of columns
        ],
        "id",
    )
    assert written == 3
    c1 = db["contacts"].get("c1")
    assert (c1["account_id"], c1["email"]) == ("a2", "new@x.test")
    assert c1["last_active"] == "2026-11-20T10:00:00+00:00", "columns not given are kept"
    assert db["contacts"].get("c3")["email"] is None
    assert db["contacts"].count == 3


def test_upsert_with_a_compound_key(db) -> None:
    upsert_rows(db, "arr_history", [{"account_id": "a", "date": "2026-01-01", "arr": 1.0}],
                ("account_id", "date"))  # fmt: skip
    upsert_rows(db, "arr_history", [{"account_id": "a", "date": "2026-01-01", "arr": 2.0}],
                ("account_id", "date"))  # fmt: skip
    assert [r["arr"] for r in db["arr_history"].rows] == [2.0]


def test_differences_write_only_changed_rows_and_remove_rows_gone_from_scope(db) -> None:
    columns = ("account_id", "week", "event", "count", "users")
    db["usage_weekly"].insert_all(
        dict(zip(columns, row, strict=True))
        for row in [("a", "2026-11-09", "login", 1, 1), ("a", "2026-11-16", "login", 2, 1),
                    ("a", "2026-11-16", "export", 5, 1), ("b", "2026-11-16", "login", 9, 3)]
    )  # fmt: skip
    rowid = "SELECT rowid FROM usage_weekly WHERE account_id = 'a' AND week = '2026-11-16' " \
            "AND event = 'login'"  # fmt: skip
    kept = db.execute(rowid).fetchone()[0]
    with transaction(db):
        written = write_differences(
            db, "usage_weekly", columns, 3,
            [("a", "2026-11-16", "login", 2, 1), ("b", "2026-11-16", "login", 10, 3)],
            "week >= ?", ["2026-11-16"],
        )  # fmt: skip
    assert written == 2, "b changed, a/export is gone; a/login unchanged"
    left = db.execute("SELECT account_id, week, event, count FROM usage_weekly").fetchall()
    assert sorted(left) == [("a", "2026-11-09", "login", 1), ("a", "2026-11-16", "login", 2),
                            ("b", "2026-11-16", "login", 10)]  # fmt: skip
    assert db.execute(rowid).fetchone()[0] == kept, "an unchanged row is not rewritten"
