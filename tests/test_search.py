"""Finding accounts: every word matches on its own, anywhere (name, domain, contacts, notes, survey
comments, tickets), what the user types is never query syntax, snoozed accounts are found, and
the index follows every write (sync's upserts and replaces, local actions, undo, deletes)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlite_utils
from support.apps import TODAY, fill_cache

from csm_tui.store import actions
from csm_tui.store.bulk import upsert_rows, write_differences
from csm_tui.store.db import open_cache
from csm_tui.store.schema import MIGRATIONS, SCHEMA_VERSION, _v10_search_and_snoozes
from csm_tui.store.search import MARK_END, MARK_START, match_parts, refresh_index, search
from csm_tui.store.views import attention_rows


@pytest.fixture
def book(db: sqlite_utils.Database) -> sqlite_utils.Database:
    """The six accounts of support.apps, with a contact, notes, a ticket and an NPS comment."""
    fill_cache(db)
    refresh_index(db.conn)
    return db


def found(db: sqlite_utils.Database, text: str) -> list[str]:
    """The accounts ``text`` finds, once the index has caught up (the rescore after a write)."""
    refresh_index(db.conn)
    return [row.account_id for row in attention_rows(db, TODAY, text=text)]


def test_each_word_matches_on_its_own_anywhere(book: sqlite_utils.Database) -> None:
    # "acme" is in 101's name, "exports" in its ticket and NPS comment, "quote" in a note.
    assert found(book, "acme exports") == ["101"]
    assert found(book, "exports acme") == ["101"]
    assert found(book, "quote acme") == ["101"]
    assert found(book, "acme kubernetes") == []  # each word must match the same account
    assert found(book, "  Kubernetes  ") == ["104"]


@pytest.mark.parametrize(
    ("text", "account", "kind"),
    [
        ("industries", "106", None),  # the name only (the list shows it: no snippet)
        # The name holds the word: a contact's email at its domain would only repeat it.
        ("umbrella", "105", None),
        ("Doe104", "104", "contact"),  # a contact's last name
        ("vp ops initech", "104", "contact"),  # a title, with the account's name
        ("jane@umbrella.co", "105", "contact"),  # an email
        ("kubernetes", "104", "note"),  # a touch's summary
        ("slow", "101", "survey comment"),  # an NPS comment
        ("time out", "101", "ticket"),  # a ticket's subject
    ],
)
def test_every_source_is_searched_and_says_where(
    book: sqlite_utils.Database, text: str, account: str, kind: str | None
) -> None:
    rows = attention_rows(book, TODAY, text=text)
    assert [r.account_id for r in rows] == [account]
    if kind is None:
        assert rows[0].match is None
    else:
        assert rows[0].match is not None and rows[0].match.startswith(f"{kind}: ")
        assert MARK_START in rows[0].match


def test_a_ticket_body_is_searched(book: sqlite_utils.Database) -> None:
    book.execute("UPDATE tickets SET body = 'The CSV export fails on large workspaces'")
    refresh_index(book.conn)
    rows = attention_rows(book, TODAY, text="large workspace")
    assert [r.account_id for r in rows] == ["101"]
    assert rows[0].match == (
        f"ticket: …time out [urgent] · The CSV export fails on {MARK_START}large{MARK_END} "
        f"{MARK_START}workspaces{MARK_END}"
    )


@pytest.mark.parametrize(
    "text", ['"', 'acme"', "AND", "acme AND", "-", "acme -x", "NEAR(", "*", "^", "a:b", "'", "%_\\"]
)
def test_query_syntax_typed_is_plain_text(book: sqlite_utils.Database, text: str) -> None:
    # Never an SQL or FTS5 error: each word is a quoted phrase, or only matched as a substring.
    attention_rows(book, TODAY, text=text)
    search(book, text, TODAY.isoformat())


def test_syntax_characters_match_literally(book: sqlite_utils.Database) -> None:
    book.execute("UPDATE accounts SET name = 'Hyphen-Ated \"Quoted\" AND Co' WHERE id = '105'")
    assert found(book, '"Quoted"') == ["105"]
    assert found(book, "hyphen-ated") == ["105"]
    assert found(book, "and co") == ["105"]
    assert found(book, "%") == []


def test_a_prefix_matches_while_typing(book: sqlite_utils.Database) -> None:
    assert found(book, "kube") == ["104"]
    assert found(book, "kubernetesx") == []


def test_snoozed_accounts_are_found_with_their_day(book: sqlite_utils.Database) -> None:
    actions.snooze(book, account_id="104", until=date(2026, 12, 15), reason="holiday")
    assert "104" not in [r.account_id for r in attention_rows(book, TODAY)]
    rows = attention_rows(book, TODAY, text="kubernetes")
    assert [(r.account_id, r.snoozed_until) for r in rows] == [("104", "2026-12-15")]
    hits = search(book, "kubernetes", TODAY.isoformat())
    assert [(h.account_id, h.snoozed_until) for h in hits] == [("104", "2026-12-15")]
    assert hits[0].found is not None and hits[0].found.label == "note"


def test_the_snoozed_view_lists_only_snoozed_accounts(book: sqlite_utils.Database) -> None:
    actions.snooze(book, account_id="104", until=date(2026, 12, 15))
    actions.snooze(book, account_id="105", until=TODAY)  # ends today: back already
    rows = attention_rows(book, TODAY, snoozed=True)
    assert [(r.account_id, r.snoozed_until) for r in rows] == [("104", "2026-12-15")]


def test_a_touch_logged_and_undone_is_found_then_not(book: sqlite_utils.Database) -> None:
    actions.log_touch(
        book,
        account_id="103",
        kind="call",
        summary="Budget freeze until Q3",
        occurred_at="2026-11-22T10:00:00+00:00",
    )
    assert found(book, "freeze") == ["103"]
    actions.undo_last(book)
    assert found(book, "freeze") == []


def test_the_index_follows_sync_writes(book: sqlite_utils.Database) -> None:
    # An upsert (ON CONFLICT DO UPDATE), an INSERT OR REPLACE (no delete trigger fires), a delete.
    upsert_rows(book, "contacts", [{"id": "c103", "title": "Chief Wizard"}], "id")
    assert found(book, "wizard") == ["103"]
    assert found(book, "vp globex") == []
    write_differences(
        book,
        "touches",
        ["id", "account_id", "kind", "occurred_at", "summary", "origin", "created_at"],
        1,
        [("crm:note:1", "105", "note", "2026-11-20T15:00:00+00:00", "Moved", "crm", "x")],
        "id = 'crm:note:1'",
    )
    assert found(book, "kubernetes") == []
    assert found(book, "moved") == ["105"]
    book.execute("DELETE FROM accounts WHERE id = '103'")
    book.execute("DELETE FROM contacts WHERE account_id = '103'")
    assert found(book, "wizard") == []
    assert (
        book.execute("SELECT COUNT(*) FROM search_index").fetchone()[0]
        == book.execute("SELECT COUNT(*) FROM search_keys").fetchone()[0]
    )


def test_an_older_cache_is_indexed_when_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = open_cache(path, target=MIGRATIONS.index(_v10_search_and_snoozes))  # before the index
    assert old.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION
    fill_cache(old)
    old.conn.close()
    db = open_cache(path)
    assert found(db, "kubernetes") == ["104"]
    db.conn.close()


def test_match_parts_splits_a_snippet() -> None:
    snippet = f"…the {MARK_START}renewal{MARK_END} call{MARK_START}s{MARK_END}"
    assert match_parts(snippet) == [
        ("…the ", False),
        ("renewal", True),
        (" call", False),
        ("s", True),
    ]


def test_unsnooze_brings_the_account_back_and_undo_snoozes_it_again(
    book: sqlite_utils.Database,
) -> None:
    actions.snooze(book, account_id="104", until=date(2026, 12, 15), reason="holiday")
    assert actions.unsnooze(book, account_id="104", today=TODAY) == "2026-12-15"
    assert "104" in [r.account_id for r in attention_rows(book, TODAY)]
    assert attention_rows(book, TODAY, snoozed=True) == []
    assert book["outbox"].count == 0  # local only, as the snooze
    undone = actions.undo_last(book)
    assert undone is not None and (undone.kind, undone.account_id) == ("unsnooze", "104")
    rows = attention_rows(book, TODAY, snoozed=True)
    assert [(r.account_id, r.snoozed_until) for r in rows] == [("104", "2026-12-15")]
    undone = actions.undo_last(book)  # then the snooze itself
    assert undone is not None and undone.kind == "snooze"
    assert book["snoozes"].count == 0


def test_unsnoozing_an_account_not_snoozed_says_so(book: sqlite_utils.Database) -> None:
    with pytest.raises(actions.ActionError, match="not snoozed"):
        actions.unsnooze(book, account_id="104", today=TODAY)


def test_a_new_snooze_after_an_unsnooze_is_undone_as_a_snooze(book: sqlite_utils.Database) -> None:
    actions.snooze(book, account_id="104", until=date(2026, 12, 15))
    actions.unsnooze(book, account_id="104", today=TODAY)
    actions.snooze(book, account_id="104", until=date(2026, 12, 1))
    undone = actions.undo_last(book)
    assert undone is not None and undone.kind == "snooze"
    assert attention_rows(book, TODAY, snoozed=True) == []


def test_the_search_command_prints_where_each_account_matched(
    book: sqlite_utils.Database, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import csm_tui.commands.today as today_cmd
    from csm_tui.cli import main

    monkeypatch.setattr(today_cmd, "local_today", lambda: TODAY)
    actions.snooze(book, account_id="104", until=date(2026, 12, 15))
    book.conn.close()
    assert main(["search", "kubernetes", "migration"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (
        "Initech (initech.com) [snoozed until 2026-12-15] — note: Discussed the kubernetes "
        "migration plan"
    )
    assert main(["search", "--json", "exports"]) == 0
    (hit,) = json.loads(capsys.readouterr().out)
    assert (hit["account_id"], hit["matched_in"]) == ("101", "survey comment")
    assert hit["snippet"] == "Slow exports"
    assert main(["search", '"', "AND"]) == 0
    assert "No account matches" in capsys.readouterr().out
    assert main(["search"]) == 2
    assert "what to search for" in capsys.readouterr().err


def test_a_pulled_ticket_keeps_its_description_for_search() -> None:
    from csm_tui.sync.mapping import PropertyNames, properties_for, ticket_row

    record = {"id": 7, "properties": {"subject": "Login", "content": "SSO loops forever"}}
    assert ticket_row(record, "101")["body"] == "SSO loops forever"
    assert "content" in properties_for("tickets", PropertyNames())


def test_the_rescore_after_a_write_brings_the_index_up_to_date(
    book: sqlite_utils.Database, settings: object
) -> None:
    from csm_tui.config import Settings
    from csm_tui.store.rescore import rescore

    assert isinstance(settings, Settings)
    actions.log_touch(
        book,
        account_id="103",
        kind="call",
        summary="Budget freeze until Q3",
        occurred_at="2026-11-22T10:00:00+00:00",
    )
    assert attention_rows(book, TODAY, text="freeze") == []  # noted, not indexed yet
    rescore(book, settings, TODAY, account_ids=["103"])
    assert [r.account_id for r in attention_rows(book, TODAY, text="freeze")] == ["103"]
    assert book["search_dirty"].count == 0
