"""Crash safety: a `csm-tui sync` killed with SIGKILL at many points never loses or doubles a
thing.

Each case runs the real `python -m csm_tui sync` (through a small wrapper script) in a
subprocess against both fakes served on loopback, and kills it with SIGKILL at one point:
- inside the process, when the Nth SQL statement matching a pattern starts (the wrapper gives
  every SQLite connection a trace callback): during migrations, inside each object's write
  transaction, around cursor writes, during the push's bookkeeping, during rescoring;
- from the fake's side, on the Nth matching HTTP request: before answering, or after the fake
  performed it (a note created in the CRM whose answer never reached the sync). The CRM pull's
  requests: the companies membership search, the companies batch read with ARR history, each
  child type's association read, modified-date search and batch read.
Then: the cache passes `PRAGMA integrity_check`; no cursor is ahead of its data (see
``no_cursor_ahead_of_its_data``); the next, unkilled sync completes; the fake CRM holds each
pushed action exactly once (its create counters), every local action is still there, and the
cache equals what a clean sync of the same CRM stores (a contact that sync itself enrolled shows
its new properties one sync later, when the search has them; see ``repair_and_check``).

The CRM's edits (every case the same): renames, new job titles, an archived ticket, a company
leaving the book, one joining it with its old contacts, a new company with a new contact.

Time: on loopback both sides use the machine's clock, so the fakes' clock starts at the real
"now" (a sync's cursor is the later of its own clock and the CRM's, and the CRM stamps modified
dates with the fakes' clock: the two must agree as they do for real). The fake's search index
lags (30 s of its clock by default): the CRM's edits are made a minute before the killed sync,
and the clock moves another minute before the next sync (a cron sync comes later), so what the
killed sync created is searchable by then. The fake's rate limits count real time too: the next
sync shares the killed one's rolling budget, and waits out a 429 as it would for real.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.loopback import (
    ANALYTICS_OBJECTS,
    TODAY,
    Snapshot,
    Tables,
    World,
    finish,
    integrity_ok,
    read_tables,
    snapshot,
)
from support.sync import FAST

from csm_tui.cli import main
from csm_tui.config import load_settings
from csm_tui.sources.hubspot import modified_property
from csm_tui.store import outbox
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking
from csm_tui.sync.pull_crm import CHILD_TYPES, TABLE, row_key
from csm_tui.sync.push import TOUCH_TYPE

CRM_OBJECTS = ("companies", *CHILD_TYPES)
SEARCH_CAUGHT_UP = timedelta(minutes=1)  # more than the fake's search lag (30 s by default)


# -- killing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """Where to kill the sync: an SQL statement (in the process) or an HTTP request (fake side)."""

    name: str
    sql: str | None = None  # regex searched in each statement SQLite runs
    http: str | None = None  # regex searched in "METHOD /path"
    n: int = 1  # the Nth match
    after_handling: bool = False  # HTTP: the fake performs the request, then the sync dies
    fresh: bool = False  # True: the first sync of an empty cache; else incremental, actions waiting

    def __str__(self) -> str:
        return self.name


# -- what must hold -----------------------------------------------------------------------------


def modified_ms(record: dict[str, Any], obj_type: str) -> int:
    value = str(record["properties"].get(modified_property(obj_type)) or "")
    if value.isdigit():
        return int(value)
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """A row without what other objects fill in later (contacts' last activity, from analytics)."""
    return {k: v for k, v in row.items() if k != "last_active"}


def clean_sync(w: World) -> Tables:
    """What a clean, complete sync of the world's CRM and analytics, as they are now, stores
    (in-process, into a workspace of its own).

    The reference is no party to the case: it does not queue behind the budget the case's own
    syncs spent (the fake's rate limits are lifted for it alone; search lag and every other
    rule stay). Its requests still count in the fake's rolling window: call it last.
    """
    hub = w.apis.hubspot
    settings = load_settings(workspace="clean")
    hub.rate_limit = False
    try:
        sync_blocking(
            settings, transport=w.apis.transport(), clock=w.clock, today=TODAY, policy=FAST
        )
    finally:
        hub.rate_limit = True
    return read_tables(settings.cache_path)


def without_our_records(tables: Tables, path: Path) -> Tables:
    """``tables`` less the CRM rows of what our own outbox pushed: the cache at ``path`` holds
    those as the local rows they came from, linked to their CRM records (see pushed_once)."""
    conn = sqlite3.connect(path)
    try:
        ours = {
            row_key(TOUCH_TYPE.get(kind, "notes"), str(rid))
            for kind, rid in conn.execute(
                "SELECT kind, remote_id FROM touches WHERE origin != 'crm' AND remote_id IS NOT NULL"
            )
        }
        ours |= {
            row_key("tasks", str(rid))
            for (rid,) in conn.execute(
                "SELECT remote_id FROM next_steps WHERE origin != 'crm' AND remote_id IS NOT NULL"
            )
        }
    finally:
        conn.close()
    out = dict(tables)
    for table in ("touches", "next_steps"):
        out[table] = {k: v for k, v in tables[table].items() if k not in ours}
    return out


def no_cursor_ahead_of_its_data(killed: Snapshot, w: World, clean: Tables) -> list[str]:
    """No cursor of the ``killed`` cache is ahead of its data; returns the objects checked.

    A CRM object's cursor is the start of the sync that last completed that object, and the
    next sync's search window starts ``crm.search_margin_minutes`` before it: so every record
    of the book modified before (cursor - margin) must be in the cache as a clean sync of the
    same CRM stores it (``clean``), for no later sync would read it again. Two exceptions, as
    the pull reads them without a window: a child of a company that joined or left the book
    since then (an owner change moves the company's modified date, never its children's: the
    next association read brings them), and rows of our own pushed records (``clean`` has none).
    Analytics cursors come with their rows: a cursor the killed sync moved has the rows of a
    clean sync; one it did not move has the rows it had before (less those of accounts that
    left the book).
    """
    hub = w.apis.hubspot
    margin = int(w.settings.crm.search_margin_minutes * 60_000)
    problems: list[str] = []
    checked: list[str] = []
    for obj in CRM_OBJECTS:
        cursor = killed.cursor("crm", obj)
        if cursor is None:
            continue
        checked.append(obj)
        since = int(cursor) - margin
        table = TABLE[obj]
        expected, cached = clean[table], killed.tables[table]
        for record in hub.records(obj):
            key = row_key(obj, record["id"])
            if record["archived"] or key not in expected or modified_ms(record, obj) >= since:
                continue  # not of the book, or inside the next search window
            if obj != "companies" and any(
                w.edits.moved.get(company, -1) >= since
                for company in hub.associations_of(obj, record["id"], "companies")
            ):
                continue  # its company joined or left the book since
            if key not in cached:
                problems.append(f"{obj} {key} is behind the cursor but not cached")
            elif comparable(cached[key]) != comparable(expected[key]):
                problems.append(f"{obj} {key} is stale: {cached[key]} != {expected[key]}")
    for obj in ANALYTICS_OBJECTS:
        state = killed.state.get(("analytics", obj))
        if state is None or state[0] is None:
            continue
        checked.append(obj)
        want = clean[obj]
        before = w.base
        if before is not None and before.state.get(("analytics", obj)) == state:
            book = killed.tables["accounts"]  # an account that left the book took its rows
            want = {k: r for k, r in before.tables[obj].items() if r["account_id"] in book}
        got = {k: r for k, r in killed.tables[obj].items() if r["account_id"] != w.edits.joiner}
        want = {k: r for k, r in want.items() if r["account_id"] != w.edits.joiner}
        if got != want:  # (the joined account's history: see without_history_of)
            diff = differences({obj: got}, {obj: want}, limit=3)
            problems.append(f"{obj}: its cursor {state[0]} does not match its rows:\n{diff}")
    assert not problems, "\n".join(problems)
    return checked


def pushed_once(world: World) -> None:
    """Each waiting action reached the CRM exactly once, and the cache knows it."""
    hub = world.apis.hubspot
    db = open_cache(world.settings.cache_path)
    try:
        items = {
            i.ref_id: i for i in outbox.items(db, (outbox.PENDING, outbox.FAILED, outbox.DONE))
        }
        assert all(i.state == outbox.DONE for i in items.values()), [
            (i.kind, i.state, i.last_error) for i in items.values()
        ]
        expected = {"notes": 1, "calls": 1, "tasks": 1, "enrollments": 1} if world.touches else {}
        assert dict(hub.created) == expected
        for local_id in [*world.touches, *world.steps]:
            marker = items[local_id].id
            holders = [
                (t, r["id"])
                for t in ("notes", "calls", "tasks")
                for r in hub.records(t)
                if marker in json.dumps(r["properties"])
            ]
            assert len(holders) == 1, f"{marker}: {holders}"
            table = "next_steps" if local_id in world.steps else "touches"
            assert db[table].get(local_id)["remote_id"] == holders[0][1]
        for local_id in world.enrollments:
            row = db["enrollments"].get(local_id)
            assert row["state"] == "active" and row["remote_id"]
            assert hub.enrollments[row["contact_id"]]["sequenceId"] == row["sequence_id"]
        local = {r[0] for r in db.execute("SELECT id FROM touches WHERE origin='local'")} | {
            r[0] for r in db.execute("SELECT id FROM next_steps WHERE origin='local'")
        }
        assert local == {*world.touches, *world.steps}, "every local action is still there"
        if world.snoozed:
            assert (
                db["snoozes"].get(world.snoozed)["until"] == (TODAY + timedelta(days=7)).isoformat()
            )
    finally:
        db.conn.close()


def later(path: Path, **delta: float) -> int:
    """Move the outbox's unconfirmed creates back in time (the next cron run comes later);
    return how many there are."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT id, updated_at FROM outbox WHERE state = 'pending' AND last_error LIKE "
        "'Unconfirmed create%'"
    ).fetchall()
    for item_id, updated in rows:
        moved = datetime.fromisoformat(updated) - timedelta(**delta)
        conn.execute("UPDATE outbox SET updated_at = ? WHERE id = ?", [moved.isoformat(), item_id])
    conn.commit()
    conn.close()
    return len(rows)


def kill_the_sync(w: World, kill: Kill) -> Snapshot | None:
    """Run `csm-tui sync` and kill it at ``kill``; the cache as it left it (after checking its
    integrity), or None when it left none with a committed migration."""
    extra: dict[str, str] = {}
    if kill.sql:
        extra = {"CSM_TEST_KILL_SQL": kill.sql, "CSM_TEST_KILL_AT": str(kill.n)}
    else:
        assert kill.http
        w.killer.arm(kill.http, kill.n, kill.after_handling)
    code, _, err = finish(w.run("sync", extra_env=extra))
    assert code == -signal.SIGKILL, f"the kill point was never reached (exit {code}): {err[-800:]}"
    w.killer.pattern = None
    path = w.settings.cache_path
    if not path.exists():
        return None
    integrity_ok(path)
    return snapshot(path)


def differences(got: Tables, want: Tables, limit: int = 12) -> str:
    """The rows that differ between two caches' tables (the first ``limit``), one a line."""
    lines = []
    for table in sorted(set(got) | set(want)):
        mine, theirs = got.get(table, {}), want.get(table, {})
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key):
                lines.append(f"{table} {key}: {mine.get(key)} != {theirs.get(key)}")
    return "\n".join(lines[:limit])


def without_history_of(tables: Tables, joined: str) -> Tables:
    """``tables`` without the analytics of an account that joined the book, nor its contacts'
    last activity (which comes from them).

    A gap of the analytics pull, not of crash safety: an incremental pull re-pulls only the
    last ``analytics.repull_weeks`` weeks of usage and the users active that day, so an account
    joining the book lacks its older history until a --full sync (a clean sync has it all).
    """
    out = dict(tables)
    for table in ANALYTICS_OBJECTS:
        out[table] = {k: r for k, r in tables[table].items() if r["account_id"] != joined}
    out["contacts"] = {
        k: r if r["account_id"] != joined else comparable(r) for k, r in tables["contacts"].items()
    }
    return out


def drop(tables: Tables, contacts: list[str]) -> Tables:
    """``tables`` without these contacts' rows and the CRM's enrollment rows of them."""
    out = dict(tables)
    out["contacts"] = {k: v for k, v in tables["contacts"].items() if k not in contacts}
    gone = {f"crm:enrollment:{c}" for c in contacts}
    out["enrollments"] = {k: v for k, v in tables["enrollments"].items() if k not in gone}
    return out


def repair_and_check(
    w: World, killed: Snapshot | None, capsys: pytest.CaptureFixture[str]
) -> Tables:
    """The next syncs after a killed one: they complete, push each action once, and leave the
    cache a clean sync of the same CRM would; the killed cache had no cursor ahead of its data.
    Returns the repaired cache's tables."""
    path = w.settings.cache_path
    hub = w.apis.hubspot
    # Contacts our push enrolls only now: the enrollment moves the contact's properties, which
    # reach search after the lag, so the sync that enrolled them shows them at its next run.
    late = [c for c in w.enrolled_contacts if c not in hub.enrollments]
    w.clock.advance(seconds=SEARCH_CAUGHT_UP.total_seconds())  # a cron sync comes later
    assert main(["sync"]) == 0, capsys.readouterr().err
    if later(path, minutes=10):  # a create with no answer waits for the search to catch up
        assert main(["sync"]) == 0, capsys.readouterr().err
    integrity_ok(path)
    pushed_once(w)
    repaired = read_tables(path)
    settled = None
    if late:
        w.clock.advance(seconds=SEARCH_CAUGHT_UP.total_seconds())
        assert main(["sync"]) == 0, capsys.readouterr().err
        settled = read_tables(path)
    clean = without_our_records(clean_sync(w), path)
    if killed is not None:
        no_cursor_ahead_of_its_data(killed, w, clean)
    if w.edits.joiner:
        clean = without_history_of(clean, w.edits.joiner)
        repaired = without_history_of(repaired, w.edits.joiner)
        if settled is not None:
            settled = without_history_of(settled, w.edits.joiner)
    got, want = drop(repaired, late), drop(clean, late)
    assert got == want, f"the repaired cache differs from a clean sync's:\n{differences(got, want)}"
    if settled is not None:
        assert settled == clean, f"the next sync did not settle:\n{differences(settled, clean)}"
    conn = sqlite3.connect(path)
    scored = conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    book = conn.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
    errors = conn.execute("SELECT COUNT(*) FROM sync_state WHERE last_error IS NOT NULL").fetchone()
    conn.close()
    assert scored == book > 0 and errors[0] == 0
    return repaired


CURSOR = r"INSERT INTO sync_state .*'crm', '{}'"
ROWS = r'INSERT (?:OR \w+ )?INTO "?{}"? '
SEARCH = r"POST /crm/v3/objects/{}/search$"
BATCH_READ = r"POST /crm/v3/objects/{}/batch/read$"
LINKS = r"POST /crm/v4/associations/{}/{}/batch/read$"

KILLS = [
    # The first sync of an empty cache (no local actions): migrations, then each step of the
    # pull (companies, then the child types side by side, sequences), analytics, rescore.
    Kill("migration-half-done", sql=r"CREATE TABLE accounts", fresh=True),
    Kill("companies-membership-search", http=SEARCH.format("companies"), fresh=True),
    Kill("companies-batch-read-with-history", http=BATCH_READ.format("companies"), fresh=True),
    Kill("companies-rows-write", sql=ROWS.format("accounts"), fresh=True),
    Kill("companies-cursor-write", sql=CURSOR.format("companies"), fresh=True),
    Kill("contacts-association-read", http=LINKS.format("companies", "contacts"), fresh=True),
    Kill("contacts-batch-read", http=BATCH_READ.format("contacts"), fresh=True),
    Kill("contacts-rows-write", sql=ROWS.format("contacts"), n=5, fresh=True),
    Kill("enrollments-from-contacts-write", sql=ROWS.format("enrollments"), fresh=True),
    Kill("deals-batch-read", http=BATCH_READ.format("deals"), fresh=True),
    Kill("tickets-cursor-write", sql=CURSOR.format("tickets"), fresh=True),
    Kill(
        "feedback-contact-association-read",
        http=LINKS.format("feedback_submissions", "contacts"),
        fresh=True,
    ),
    Kill("calls-batch-read", http=BATCH_READ.format("calls"), fresh=True),
    Kill("meetings-rows-write", sql=ROWS.format("touches") + r".*'crm:meetings:", fresh=True),
    Kill(
        "emails-association-read-answer-lost",
        http=LINKS.format("companies", "emails"),
        after_handling=True,
        fresh=True,
    ),
    Kill("sequences-replaced", sql=r"DELETE FROM sequences", fresh=True),
    Kill("usage-write", sql=ROWS.format("usage_weekly"), fresh=True),
    Kill("last-active-refresh", sql=r"UPDATE contacts SET last_active", fresh=True),
    Kill("rescore-history", sql=r"INSERT OR REPLACE INTO score_history", n=5, fresh=True),
    # An incremental sync with four actions waiting in the outbox and a changed CRM: the push's
    # creates and bookkeeping, then the pull's steps, analytics, rescore.
    Kill("note-created-answer-lost", http=r"POST /crm/v3/objects/notes$", after_handling=True),
    Kill("call-created-answer-lost", http=r"POST /crm/v3/objects/calls$", after_handling=True),
    Kill("task-create-never-sent", http=r"POST /crm/v3/objects/tasks$"),
    Kill(
        "enrolled-answer-lost",
        http=r"POST /automation/v4/sequences/enrollments$",
        after_handling=True,
    ),
    Kill("unconfirmed-mark-before-create", sql=r"UPDATE outbox SET attempts=attempts\+0", n=2),
    Kill("mark-first-item-done", sql=r"UPDATE outbox SET state", n=1),
    Kill("note-linked-mid-transaction", sql=r"UPDATE touches SET remote_id", n=1),
    Kill("between-two-pushes", sql=r"UPDATE outbox SET state", n=3),
    Kill("link-enrollment", sql=r"UPDATE enrollments SET remote_id"),
    Kill("companies-membership-search-incremental", http=SEARCH.format("companies")),
    Kill("companies-batch-read-incremental", http=BATCH_READ.format("companies")),
    Kill("company-leaves-the-book-mid-transaction", sql=r"DELETE FROM contacts WHERE account_id"),
    Kill("companies-cursor-write-incremental", sql=CURSOR.format("companies")),
    Kill("contacts-modified-search", http=SEARCH.format("contacts")),
    Kill("contacts-batch-read-incremental", http=BATCH_READ.format("contacts")),
    Kill("contacts-cursor-write-incremental", sql=CURSOR.format("contacts")),
    Kill("archived-ticket-removed", sql=r"DELETE FROM tickets WHERE id IN"),
    Kill("notes-association-read", http=LINKS.format("companies", "notes")),
    # The push looked for the task's marker first: the second tasks search is the pull's.
    Kill("tasks-modified-search", http=SEARCH.format("tasks"), n=2),
    Kill("user-activity-write", sql=r"INSERT OR REPLACE INTO user_activity"),
    Kill("rescore-scores", sql=r"UPDATE scores SET computed_at = '[^']*', health", n=2),
    Kill("run-marked-clean", sql=r"""INSERT INTO sync_state .*'sync', 'run', '\{"clean": true"""),
]


@pytest.mark.parametrize("kill", KILLS, ids=str)
def test_a_sync_killed_anywhere_leaves_a_sound_cache_and_the_next_sync_repairs_it(
    kill: Kill, world: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    w = world(kill.fresh)
    killed = kill_the_sync(w, kill)
    repair_and_check(w, killed, capsys)


def test_a_company_joins_the_book_and_the_sync_dies_before_its_children_are_written(
    world: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing company moves into the book (its owner changed; its contacts did not, their
    modified dates stay old). The sync writes it with the companies' cursor, then dies at the
    first association read, before any child type is written: the next sync brings its
    contacts through the association read from the book's companies, though they are older
    than the contacts' search window."""
    w = world(False)
    hub = w.apis.hubspot
    joiner = w.edits.joiner
    contacts = hub.associations_of("companies", joiner, "contacts")
    assert w.base is not None and contacts and joiner not in w.base.tables["accounts"]
    killed = kill_the_sync(w, Kill("first-association-read", http=r"POST /crm/v4/associations/"))
    assert killed is not None
    assert joiner in killed.tables["accounts"]
    assert killed.cursor("crm", "companies") != w.base.cursor("crm", "companies")
    assert killed.cursor("crm", "contacts") == w.base.cursor("crm", "contacts")
    assert not set(contacts) & set(killed.tables["contacts"])
    margin = int(w.settings.crm.search_margin_minutes * 60_000)
    since = int(killed.cursor("crm", "contacts") or 0) - margin
    records = {r["id"]: r for r in hub.records("contacts")}
    assert all(modified_ms(records[c], "contacts") < since for c in contacts)
    repaired = repair_and_check(w, killed, capsys)
    assert set(contacts) <= set(repaired["contacts"])


def test_a_sync_killed_after_a_create_the_search_does_not_show_yet_makes_no_duplicate(
    world: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    """HubSpot's search shows a new record only after a while: a sync killed right after a
    create, then run again at once (the fake's clock has not moved), must not miss the marker
    and create it a second time; once the search caught up, the next sync links it."""
    w = world(False)
    w.apis.hubspot.search_lag = 60.0
    w.killer.arm(r"POST /crm/v3/objects/notes$", 1, True)
    code, _, err = finish(w.run("sync"))
    assert code == -signal.SIGKILL, err
    w.killer.pattern = None
    assert main(["sync"]) == 0  # at once: the note is not searchable yet
    assert w.apis.hubspot.created["notes"] == 1
    w.clock.advance(minutes=10)
    assert main(["sync"]) == 0, capsys.readouterr().err
    pushed_once(w)


def test_the_cursor_check_catches_a_cursor_ahead_of_its_data(
    world: Callable[..., World],
) -> None:
    """The check above is not vacuous: a cursor moved forward by hand past edits the cache does
    not hold fails it, and so does a row lost behind the cursor of a complete sync."""
    w = world(False, with_actions=False)
    path = w.settings.cache_path
    assert main(["sync"]) == 0
    synced = snapshot(path)
    clean = without_our_records(clean_sync(w), path)
    base = w.base
    assert base is not None and synced is not None
    for sound in (base, synced):
        assert "contacts" in no_cursor_ahead_of_its_data(sound, w, clean)
    margin = int(w.settings.crm.search_margin_minutes * 60_000)
    ahead = str(w.edits.at + margin + 60_000)  # the edits are now before its window
    moved = replace(base, state={**base.state, ("crm", "contacts"): (ahead, None)})
    edited = w.edits.contacts[0]
    with pytest.raises(AssertionError, match=f"contacts {edited} is stale"):
        no_cursor_ahead_of_its_data(moved, w, clean)
    older = next(
        key
        for key, row in sorted(clean["contacts"].items())
        if key not in w.edits.contacts and row["account_id"] not in w.edits.moved
    )
    del synced.tables["contacts"][older]
    with pytest.raises(AssertionError, match=f"contacts {older} is behind the cursor"):
        no_cursor_ahead_of_its_data(synced, w, clean)


def test_a_create_the_search_never_shows_is_not_made_again_once_the_pull_linked_it(
    world: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    """The search stays behind longer than the push waits for it (the fake's clock does not
    move while ten minutes pass for the push). The pull of the next sync read the note through
    the association read (current, unlike search) and linked it to its local row by its marker:
    the push does not create it a second time."""
    w = world(False)
    path = w.settings.cache_path
    w.killer.arm(r"POST /crm/v3/objects/notes$", 1, True)
    code, _, err = finish(w.run("sync"))
    assert code == -signal.SIGKILL, err
    w.killer.pattern = None
    assert main(["sync"]) == 0, capsys.readouterr().err
    note = w.touches[0]
    linked = sqlite3.connect(path).execute("SELECT remote_id FROM touches WHERE id = ?", [note])
    assert linked.fetchone()[0] is not None  # the pull found it by its marker
    assert later(path, minutes=10) == 1  # its outbox item still waits for the search
    assert main(["sync"]) == 0, capsys.readouterr().err
    assert w.apis.hubspot.created["notes"] == 1
    pushed_once(w)
