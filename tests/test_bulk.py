"""Bulk upserts mean what sqlite-utils' upsert_all means: new rows in, given columns updated."""

from __future__ import annotations

from csm_tui.store.bulk import upsert_rows


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
