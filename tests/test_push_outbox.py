"""Retry and discard act on one outbox item, named by its id or an unambiguous prefix."""

from __future__ import annotations

import pytest
import sqlite_utils

from csm_tui.store import outbox
from csm_tui.store.db import utc_now


def _item(db: sqlite_utils.Database, item_id: str, state: str) -> None:
    now = utc_now()
    db["outbox"].insert(
        {"id": item_id, "kind": "touch", "ref_id": "t" + item_id, "payload": "{}", "state": state,
         "attempts": 1, "last_error": "boom", "remote_id": None, "created_at": now, "updated_at": now}
    )  # fmt: skip


def test_retry_needs_a_prefix_matching_exactly_one_failed_item(db: sqlite_utils.Database) -> None:
    _item(db, "abc111" + "0" * 26, outbox.FAILED)
    _item(db, "abc222" + "0" * 26, outbox.FAILED)
    with pytest.raises(outbox.AmbiguousIdError) as info:
        outbox.retry(db, "abc")
    assert "matches 2 outbox items" in str(info.value)
    assert outbox.counts(db)[outbox.FAILED] == 2  # nothing changed
    assert outbox.retry(db, "abc1") is True
    assert outbox.counts(db) == {outbox.PENDING: 1, outbox.FAILED: 1, outbox.DONE: 0}
    assert outbox.retry(db, "zzz") is False
    assert outbox.retry(db, "%") is False  # no LIKE wildcards


def test_discard_needs_a_prefix_matching_exactly_one_item(db: sqlite_utils.Database) -> None:
    _item(db, "def111" + "0" * 26, outbox.PENDING)
    _item(db, "def222" + "0" * 26, outbox.FAILED)
    _item(db, "def333" + "0" * 26, outbox.DONE)
    with pytest.raises(outbox.AmbiguousIdError):
        outbox.discard(db, "def")
    assert outbox.discard(db, "def3") is False  # pushed items stay (audit)
    assert outbox.discard(db, "def2") is True
    assert [i.id[:6] for i in outbox.items(db)] == ["def111"]
