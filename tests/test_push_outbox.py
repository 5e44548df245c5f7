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
    _item(db, "abcdef111" + "0" * 23, outbox.FAILED)
    _item(db, "abcdef222" + "0" * 23, outbox.FAILED)
    with pytest.raises(outbox.AmbiguousIdError) as info:
        outbox.retry(db, "abcdef")
    assert "matches 2 outbox items" in str(info.value)
    assert outbox.counts(db)[outbox.FAILED] == 2  # nothing changed
    assert outbox.retry(db, "abcdef1") is True
    assert outbox.counts(db) == {outbox.PENDING: 1, outbox.FAILED: 1, outbox.DONE: 0}
    assert outbox.retry(db, "zzzzzz") is False
    assert outbox.retry(db, "%") is False  # no LIKE wildcards


def test_discard_needs_a_prefix_matching_exactly_one_item(db: sqlite_utils.Database) -> None:
    _item(db, "defabc111" + "0" * 23, outbox.PENDING)
    _item(db, "defabc222" + "0" * 23, outbox.FAILED)
    _item(db, "defabc333" + "0" * 23, outbox.DONE)
    with pytest.raises(outbox.AmbiguousIdError):
        outbox.discard(db, "defabc")
    assert outbox.discard(db, "defabc3") is False  # pushed items stay (audit)
    assert outbox.discard(db, "defabc2") is True
    assert [i.id[:6] for i in outbox.items(db)] == ["defabc"]


def test_a_prefix_under_six_characters_names_nothing_even_when_it_matches_one(
    db: sqlite_utils.Database,
) -> None:
    _item(db, "7c0ffee1" + "0" * 24, outbox.PENDING)  # the only item: "7c" would match it
    with pytest.raises(outbox.AmbiguousIdError) as info:
        outbox.discard(db, "7c")
    assert "at least 6 characters" in str(info.value)
    assert outbox.counts(db)[outbox.PENDING] == 1


def test_discarding_from_the_command_line_asks_first(
    db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from csm_tui.cli import main

    _item(db, "7c0ffee1" + "0" * 24, outbox.PENDING)
    assert main(["outbox", "--discard", "7c0ffee1"]) == 2  # no terminal to ask on: --yes needed
    assert "add --yes" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["outbox", "--discard", "7c0ffee1"]) == 1
    assert outbox.counts(db)[outbox.PENDING] == 1
    assert main(["outbox", "--discard", "7c0ffee1", "--yes"]) == 0
    assert outbox.counts(db)[outbox.PENDING] == 0
