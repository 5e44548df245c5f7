"""Pulling the CRM: a first full sync, incremental syncs, the book, archived records, the cap."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from support.clocks import Clock
from support.sync import BOOK_TABLES, FAST, TODAY, crm_settings, table_rows

from csm_tui.config import Settings
from csm_tui.fakes.hubspot import FakeHubSpot
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import paced_transport
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import SyncError, sync_blocking
from csm_tui.sync.progress import SyncReport


def sync(
    settings: Settings,
    fake: FakeHubSpot,
    clock: Clock,
    *,
    full: bool = False,
    handler: Callable[[httpx.Request], httpx.Response] | None = None,
) -> SyncReport:
    return sync_blocking(
        settings,
        full=full,
        analytics=False,
        transport=paced_transport(fake, handler),
        clock=clock,
        today=TODAY,
        policy=FAST,
    )


def cursors(settings: Settings) -> dict[str, str | None]:
    db = open_cache(settings.cache_path, create=False)
    try:
        return {r["object"]: r["cursor"] for r in db["sync_state"].rows if r["source"] == "crm"}
    finally:
        db.conn.close()


@pytest.fixture
def portfolio() -> Portfolio:
    return generate_portfolio(12, 3, today=TODAY)


def test_first_sync_fills_the_book_of_the_owner(portfolio: Portfolio, clock: Clock) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    settings = crm_settings(portfolio.demo_owner_email)
    progress: list[str] = []
    report = sync_blocking(
        settings, analytics=False, transport=paced_transport(fake), clock=clock,
        today=TODAY, policy=FAST, progress=lambda e: progress.append(e.object),
    )  # fmt: skip
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    mine = {
        c["id"] for c in portfolio.companies if c["properties"]["hubspot_owner_id"] == owner["id"]
    }
    rows = table_rows(settings)
    assert {dict(r)["id"] for r in rows["accounts"]} == mine
    contacts_of_mine = {
        c["id"] for c in portfolio.contacts if c["associations"]["companies"][0] in mine
    }
    assert {dict(r)["id"] for r in rows["contacts"]} == contacts_of_mine
    # Names, titles and phones where the CRM has them: some contacts, not all.
    crm = {c["id"]: c["properties"] for c in portfolio.contacts}
    cached = [dict(r) for r in rows["contacts"]]
    for c in cached:
        p = crm[c["id"]]
        assert (c["first_name"], c["title"]) == (p.get("firstname"), p.get("jobtitle"))
        assert (c["phone"], c["mobile_phone"]) == (p.get("phone"), p.get("mobilephone"))
    for column in ("title", "phone", "mobile_phone"):
        have = sum(1 for c in cached if c[column])
        assert 0 < have < len(cached), column
    assert report.pulled["accounts" if "accounts" in report.pulled else "companies"] == len(mine)
    touches = {dict(r)["id"] for r in rows["touches"]}
    expected = {
        f"crm:{kind}:{r['id']}"
        for kind in ("notes", "calls", "meetings", "emails")
        for r in portfolio.objects(kind)
        if r["associations"]["companies"][0] in mine
    }
    assert touches == expected
    assert all(dict(r)["origin"] == "crm" for r in rows["touches"])
    assert rows["arr_history"], "ARR history is backfilled from propertiesWithHistory"
    assert {dict(r)["user_id"] for r in rows["sequences"]} == {str(owner["userId"])}
    assert "companies" in progress and "tasks" in progress
    db = open_cache(settings.cache_path, create=False)
    enrolled = {r["contact_id"]: r["sequence_id"] for r in db["enrollments"].rows}
    db.conn.close()
    assert enrolled and enrolled == {
        e["contactId"]: e["sequenceId"]
        for e in portfolio.enrollments
        if e["contactId"] in contacts_of_mine
    }
    assert report.rescored
    # A second look: every CRM cursor is set, none past the sync's start.
    start_ms = int(clock.now.timestamp() * 1000)
    for obj, cursor in cursors(settings).items():
        if obj in ("owners", "sequences", "enrollments"):
            continue
        assert cursor is not None and int(cursor) <= start_ms, obj


def test_the_whole_portal_when_no_owner_is_set(portfolio: Portfolio, clock: Clock) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    settings = crm_settings("")
    sync(settings, fake, clock)
    rows = table_rows(settings)
    assert len(rows["accounts"]) == len(portfolio.companies)
    assert len(rows["contacts"]) == len(portfolio.contacts)


def test_an_unknown_owner_email_stops_the_sync_in_one_line(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    with pytest.raises(SyncError) as info:
        sync(crm_settings("nobody@example.com"), fake, clock)
    assert "No CRM owner has the email nobody@example.com" in str(info.value)


def test_full_then_incremental_equals_one_fresh_full_sync(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    owner_email = portfolio.demo_owner_email
    owner_id = next(o["id"] for o in portfolio.owners if o["email"] == owner_email)
    other_owner = next(o["id"] for o in portfolio.owners if o["email"] != owner_email)
    settings = crm_settings(owner_email)
    sync(settings, fake, clock)
    before = cursors(settings)

    # Between syncs the CRM changes: edits, new records, archived ones, an account changes hands.
    clock.advance(hours=1)
    mine = [c for c in portfolio.companies if c["properties"]["hubspot_owner_id"] == owner_id]
    fake.update("companies", mine[0]["id"], {"arr": "123456", "name": "Renamed Inc"})
    fake.update("companies", mine[1]["id"], {"hubspot_owner_id": other_owner})  # leaves the book
    theirs = next(c for c in portfolio.companies if c["properties"]["hubspot_owner_id"] != owner_id)
    fake.update("companies", theirs["id"], {"hubspot_owner_id": owner_id})  # joins the book
    new_company = fake.create(
        "companies", {"name": "Newco", "domain": "newco.example", "hubspot_owner_id": owner_id, "arr": "5000"}
    )  # fmt: skip
    new_contact = fake.create(
        "contacts", {"firstname": "Nia", "email": "nia@newco.example", "cs_role": "champion"},
        {"companies": [new_company]},
    )  # fmt: skip
    fake.create(
        "notes", {"hs_timestamp": clock.now.isoformat(), "hs_note_body": "Kickoff"},
        {"companies": [new_company], "contacts": [new_contact]},
    )  # fmt: skip
    contact = next(
        c for c in portfolio.contacts if c["associations"]["companies"][0] == mine[2]["id"]
    )
    fake.update("contacts", contact["id"], {"jobtitle": "VP Success", "cs_role": "admin"})
    fake.archive("contacts", next(
        c["id"] for c in portfolio.contacts
        if c["associations"]["companies"][0] == mine[3]["id"] and c["id"] != contact["id"]
    ))  # fmt: skip
    task = next(
        t for t in portfolio.tasks if t["associations"]["companies"][0] in {m["id"] for m in mine}
    )
    fake.update("tasks", task["id"], {"hs_task_status": "COMPLETED"})
    note = next(
        n for n in portfolio.notes if n["associations"]["companies"][0] in {m["id"] for m in mine}
    )
    fake.archive("notes", note["id"])
    fake.archive("companies", mine[4]["id"])
    clock.advance(minutes=5)

    seen_before = len(fake.requests)
    report = sync(settings, fake, clock)
    after = cursors(settings)
    second = fake.requests[seen_before:]
    assert any(r.url.path == "/crm/v3/objects/contacts/search" for r in second)
    assert not any(r.method == "GET" and "/crm/v3/objects/" in r.url.path for r in second), (
        "a later sync lists nothing: it searches changes and reads them by id"
    )
    read_contacts = [
        i["id"]
        for r in second
        if r.url.path == "/crm/v3/objects/contacts/batch/read"
        for i in json.loads(r.content)["inputs"]
    ]
    assert new_contact in read_contacts and len(read_contacts) < 10, "only what changed is read"
    fresh = crm_settings(owner_email, workspace="fresh")
    sync(fresh, fake, clock)

    incremental, full = table_rows(settings), table_rows(fresh)
    for table in BOOK_TABLES:
        assert incremental[table] == full[table], table
    ids = {dict(r)["id"]: dict(r) for r in incremental["accounts"]}
    assert ids[mine[0]["id"]]["name"] == "Renamed Inc" and ids[mine[0]["id"]]["arr"] == 123456
    assert mine[1]["id"] not in ids and theirs["id"] in ids and new_company in ids
    assert mine[4]["id"] not in ids, "an archived company leaves the book"
    assert report.left_book >= 1 and report.archived >= 1
    assert int(after["companies"]) > int(before["companies"])
    sync(settings, fake, clock, full=True)  # --full lists everything again: same cache
    assert table_rows(settings) == full


def test_a_crash_mid_pull_leaves_every_cursor_where_it_was(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    settings = crm_settings(portfolio.demo_owner_email)
    sync(settings, fake, clock)
    before = cursors(settings)
    clock.advance(hours=1)
    for c in portfolio.contacts[:5]:
        fake.update("contacts", c["id"], {"jobtitle": "Changed"})
    clock.advance(minutes=1)
    fake.faults.add(path=r"/crm/v3/objects/contacts/search", status=400, body={"message": "nope"})
    with pytest.raises(SyncError):
        sync(settings, fake, clock)
    after = cursors(settings)
    # Each object's cursor moves with its own rows: the companies (done) moved, the contacts
    # (failed) stayed, so nothing they changed is skipped.
    assert int(after["companies"]) > int(before["companies"])
    assert after["contacts"] == before["contacts"]
    fake.faults.clear()
    sync(settings, fake, clock)
    db = open_cache(settings.cache_path, create=False)
    titles = {db["contacts"].get(c["id"])["title"] for c in portfolio.contacts[:5]
              if db["contacts"].count_where("id = ?", [c["id"]])}  # fmt: skip
    db.conn.close()
    assert titles <= {"Changed"}


def test_an_account_joining_the_book_brings_its_children_even_across_a_crash(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    owner_email = portfolio.demo_owner_email
    owner_id = next(o["id"] for o in portfolio.owners if o["email"] == owner_email)
    settings = crm_settings(owner_email)
    sync(settings, fake, clock)
    clock.advance(hours=1)
    theirs = next(c for c in portfolio.companies if c["properties"]["hubspot_owner_id"] != owner_id)
    fake.update("companies", theirs["id"], {"hubspot_owner_id": owner_id})
    clock.advance(minutes=1)
    # The sync dies after the companies are in, before any child of the newcomer is.
    fake.faults.add(path=r"/crm/v3/objects/contacts/search", status=500, times=1000)
    with pytest.raises(SyncError):
        sync(settings, fake, clock)
    fake.faults.clear()
    sync(settings, fake, clock)
    theirs_contacts = {
        c["id"] for c in portfolio.contacts if c["associations"]["companies"][0] == theirs["id"]
    }
    db = open_cache(settings.cache_path, create=False)
    cached = {
        r["id"] for r in db.query("SELECT id FROM contacts WHERE account_id = ?", [theirs["id"]])
    }
    db.conn.close()
    assert theirs_contacts and cached == theirs_contacts


def test_a_contact_that_moved_company_follows_it_on_the_next_incremental_sync(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    settings = crm_settings()
    sync(settings, fake, clock)
    contact = portfolio.contacts[0]
    old = contact["associations"]["companies"][0]
    new = next(c["id"] for c in portfolio.companies if c["id"] != old)
    db = open_cache(settings.cache_path, create=False)
    assert db["contacts"].get(contact["id"])["account_id"] == old
    db.conn.close()
    clock.advance(minutes=5)
    fake.reassociate("contacts", contact["id"], "companies", old, new)
    clock.advance(minutes=5)
    sync(settings, fake, clock)
    db = open_cache(settings.cache_path, create=False)
    try:
        assert db["contacts"].get(contact["id"])["account_id"] == new
    finally:
        db.conn.close()
    fresh = crm_settings(workspace="fresh")
    sync(fresh, fake, clock, full=True)
    assert table_rows(settings, ("contacts",)) == table_rows(fresh, ("contacts",))
