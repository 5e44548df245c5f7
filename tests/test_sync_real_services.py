"""The CRM pull against a fake as strict as HubSpot: page caps, property history, search that
shows changes late, association edits that move no modified date, per-record association
paging, primary companies, missing scopes, and a network that is down.

Each test failed on the client before this round (it sent limit=100 with history, trusted the
search window's end, read one page of associations, never recognised the primary, ended the
whole sync on any 403 and retried a dead network for half a minute).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import httpx
import pytest
from support.clocks import Clock
from support.sync import BOOK_TABLES, crm_settings, table_rows

from csm_tui.fakes.hubspot import FakeHubSpot
from csm_tui.fakes.hubspot_schema import DEFAULT_SCOPES
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import paced_transport
from csm_tui.sources.http import HttpPolicy
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import SyncError, sync_blocking
from csm_tui.sync.progress import SyncReport

TODAY = date(2026, 11, 16)
POLICY = HttpPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)


@pytest.fixture
def portfolio() -> Portfolio:
    return generate_portfolio(40, 5, today=TODAY)


def sync(settings, fake: FakeHubSpot, clock: Clock, *, full: bool = False) -> SyncReport:
    return sync_blocking(
        settings,
        full=full,
        analytics=False,
        transport=paced_transport(fake),
        clock=clock,
        today=TODAY,
        policy=POLICY,
    )


def owner_of(portfolio: Portfolio) -> str:
    return next(o["id"] for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)


def book_of(portfolio: Portfolio) -> list[str]:
    owner = owner_of(portfolio)
    return sorted(
        (c["id"] for c in portfolio.companies if c["properties"]["hubspot_owner_id"] == owner),
        key=lambda v: (len(v), v),
    )


def column(settings, table: str, row_id: str, name: str):
    db = open_cache(settings.cache_path, create=False)
    try:
        rows = list(db.query(f"SELECT {name} FROM {table} WHERE id = ?", [row_id]))
        return rows[0][name] if rows else None
    finally:
        db.conn.close()


def fresh_equals(settings, fake: FakeHubSpot, clock: Clock, owner_email: str) -> None:
    """The incremental cache equals a fresh full sync of the same CRM at the same moment."""
    fresh = crm_settings(owner_email, workspace="fresh")
    sync(fresh, fake, clock, full=True)
    incremental, full = table_rows(settings), table_rows(fresh)
    for table in BOOK_TABLES:
        assert incremental[table] == full[table], table


def test_the_first_sync_stays_within_every_page_and_history_cap(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    settings = crm_settings(portfolio.demo_owner_email)
    sync(settings, fake, clock)
    history_reads = [
        json.loads(r.content)
        for r in fake.requests
        if r.url.path.endswith("/batch/read") and json.loads(r.content).get("propertiesWithHistory")
    ]
    assert history_reads, "ARR history comes from batch reads with propertiesWithHistory"
    assert all(len(body["inputs"]) <= 50 for body in history_reads)
    for r in fake.requests:
        if r.method == "GET" and "limit" in r.url.params:
            cap = 50 if r.url.params.get("propertiesWithHistory") else 100
            assert int(r.url.params["limit"]) <= cap, r.url
    rows = table_rows(settings)
    assert {dict(r)["id"] for r in rows["accounts"]} == set(book_of(portfolio))
    assert rows["arr_history"]


def test_a_change_search_shows_late_reaches_the_cache_by_the_next_sync(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock, search_lag=120)
    email = portfolio.demo_owner_email
    settings = crm_settings(email)
    sync(settings, fake, clock)
    book = book_of(portfolio)
    contact = next(c for c in portfolio.contacts if c["associations"]["companies"][0] in book)
    clock.advance(minutes=30)
    fake.update("contacts", contact["id"], {"jobtitle": "Chief Customer Officer"})
    fake.update("companies", book[0], {"name": "Renamed While Indexing"})
    clock.advance(seconds=10)
    sync(settings, fake, clock)  # search does not show either change yet
    assert column(settings, "contacts", contact["id"], "title") != "Chief Customer Officer"
    clock.advance(minutes=10)  # the index caught up; the next window overlaps the last one
    sync(settings, fake, clock)
    assert column(settings, "contacts", contact["id"], "title") == "Chief Customer Officer"
    assert column(settings, "accounts", book[0], "name") == "Renamed While Indexing"
    fresh_equals(settings, fake, clock, email)


def test_association_only_edits_reach_the_cache_by_the_next_sync(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    email = portfolio.demo_owner_email
    settings = crm_settings(email)
    book = book_of(portfolio)
    # A note logged on nobody yet, long before the first sync.
    note = fake.create("notes", {"hs_timestamp": clock.now.isoformat(), "hs_note_body": "Later"})
    clock.advance(hours=2)
    sync(settings, fake, clock)
    assert column(settings, "touches", f"crm:notes:{note}", "account_id") is None
    deal = next(d for d in portfolio.deals if d["associations"]["companies"][0] == book[0])
    clock.advance(hours=1)
    fake.reassociate("notes", note, "companies", "", book[1])  # linked later: no date moves
    fake.reassociate("deals", deal["id"], "companies", book[0], book[2])  # moved
    clock.advance(minutes=5)
    sync(settings, fake, clock)
    assert column(settings, "touches", f"crm:notes:{note}", "account_id") == book[1]
    assert column(settings, "deals", deal["id"], "account_id") == book[2]
    fresh_equals(settings, fake, clock, email)


def test_every_child_past_a_records_first_association_page_is_read(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock, association_page_size=2)
    book = book_of(portfolio)
    added = [
        fake.create("contacts", {"email": f"extra{i}@example.com"}, {"companies": [book[0]]})
        for i in range(7)
    ]
    clock.advance(hours=1)
    settings = crm_settings(portfolio.demo_owner_email)
    sync(settings, fake, clock)
    db = open_cache(settings.cache_path, create=False)
    cached = {r["id"] for r in db.query("SELECT id FROM contacts WHERE account_id=?", [book[0]])}
    db.conn.close()
    assert set(added) <= cached
    assert cached == set(fake.associations_of("companies", book[0], "contacts"))


def test_a_contact_of_two_companies_stays_with_its_primary_across_syncs(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock)
    book = book_of(portfolio)
    low, high = book[0], book[-1]
    contact = fake.create(
        "contacts",
        {"email": "two@example.com"},
        {"companies": [high, low]},  # primary: high
    )
    clock.advance(hours=1)
    settings = crm_settings(portfolio.demo_owner_email)
    sync(settings, fake, clock, full=True)
    assert column(settings, "contacts", contact, "account_id") == high
    clock.advance(hours=1)
    fake.update("contacts", contact, {"jobtitle": "Buyer"})
    clock.advance(minutes=10)
    sync(settings, fake, clock)
    assert column(settings, "contacts", contact, "account_id") == high


def test_a_missing_scope_turns_off_that_feature_alone_with_a_line_naming_it(
    portfolio: Portfolio, clock: Clock
) -> None:
    fake = FakeHubSpot(portfolio, clock=clock, scopes=set(DEFAULT_SCOPES) - {"tickets"})
    settings = crm_settings(portfolio.demo_owner_email)
    report = sync(settings, fake, clock)
    lines = [w for w in report.warnings if w.startswith("tickets")]
    assert len(lines) == 1 and "tickets" in lines[0].split(":", 1)[1], report.warnings
    assert "\n" not in lines[0]
    rows = table_rows(settings)
    assert rows["contacts"] and rows["touches"] and not rows["tickets"]


def test_a_dead_network_fails_at_once_in_one_line(portfolio: Portfolio, clock: Clock) -> None:
    tries: list[str] = []

    def offline(request: httpx.Request) -> httpx.Response:
        tries.append(request.url.path)
        raise httpx.ConnectError("Name or service not known", request=request)

    settings = crm_settings(portfolio.demo_owner_email)
    with pytest.raises(SyncError) as info:
        sync_blocking(
            settings,
            analytics=False,
            transport=httpx.MockTransport(offline),
            clock=clock,
            today=TODAY,
            policy=HttpPolicy(),  # the real retry policy: offline is not retried for long
        )
    message = str(info.value)
    assert "\n" not in message and "unreachable" in message and "connection" in message
    assert len(tries) == 2, "two tries without a connection, then it says so"


def test_the_demo_book_after_hidden_and_association_only_edits_equals_the_fakes_truth(
    isolated_env,
) -> None:
    from csm_tui.commands import demo
    from csm_tui.config import Settings

    clock = Clock(datetime(2026, 11, 16, 7, 0, tzinfo=UTC))
    apis, _ = demo.build_demo(60, 7, TODAY, clock=clock)
    base = Settings(data_dir=isolated_env / "data")
    mine = demo.demo_settings(
        base, apis.portfolio.demo_owner_email, apis.hubspot.token, apis.posthog.token
    )

    def run(settings, *, full: bool = False) -> None:
        sync_blocking(
            settings,
            full=full,
            transport=apis.transport(),
            clock=clock,
            today=TODAY,
            policy=POLICY,
        )

    run(mine, full=True)
    book = book_of(apis.portfolio)
    contact = next(c for c in apis.portfolio.contacts if c["associations"]["companies"][0] in book)
    deal = next(d for d in apis.portfolio.deals if d["associations"]["companies"][0] == book[0])
    clock.advance(hours=2)
    hub = apis.hubspot
    hub.update("contacts", contact["id"], {"jobtitle": "Head of Ops"})  # search shows it late
    hub.update("companies", book[1], {"arr": "98765"})
    hub.reassociate("deals", deal["id"], "companies", book[0], book[3])  # no date moves
    note = hub.create(
        "notes", {"hs_timestamp": clock.now.isoformat(), "hs_note_body": "QBR booked"}
    )
    hub.reassociate("notes", note, "companies", "", book[2])
    clock.advance(seconds=5)
    run(mine)  # the search index has not caught up with the edits yet
    clock.advance(minutes=15)
    run(mine)
    fresh = mine.model_copy(update={"workspace": "fresh"})
    run(fresh, full=True)
    tables = (*BOOK_TABLES, "usage_weekly", "user_activity", "enrollments")
    incremental, truth = table_rows(mine, tables), table_rows(fresh, tables)
    for table in tables:
        assert incremental[table] == truth[table], table
    assert column(mine, "contacts", contact["id"], "title") == "Head of Ops"
    assert column(mine, "deals", deal["id"], "account_id") == book[3]
    assert column(mine, "touches", f"crm:notes:{note}", "account_id") == book[2]
