"""Faults on the wire and in the data, beyond those of test_sync_engine / test_sync_http: each
ends in a complete sync (the cache equals a clean sync's) or a clean failure (one line, no
token, the failed object's cursor and rows as they were, the error recorded), never something
half-written. Each fault hits a request the CRM pull really makes (sync/pull_crm.py): the
owner's company search, v4 association batch reads from the book's companies, batch reads of
the records, and the modified-date search of a later sync.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.clocks import Clock
from support.sync import ALL_TABLES, SMALL_PAGES, TODAY, both_settings, state, table_rows

from csm_tui.config import Settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import SyncError, sync_blocking
from csm_tui.sync.progress import SyncReport

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    return generate_portfolio(20, 5, today=TODAY)


def recorded_errors(settings: Settings) -> dict[tuple[str, str], str]:
    """(source, object) -> the error recorded for it, where doctor shows it."""
    db = open_cache(settings.cache_path, create=False)
    try:
        return {
            (r["source"], r["object"]): r["last_error"]
            for r in db["sync_state"].rows
            if r["last_error"]
        }
    finally:
        db.conn.close()


def run(
    settings: Settings,
    apis: FakeApis,
    clock: Clock,
    handler: Handler | None = None,
    *,
    local: Clock | None = None,
    **kw: Any,
) -> SyncReport:
    """One sync through ``handler`` (the fakes' own by default); ``local`` is the laptop's clock."""
    return sync_blocking(
        settings,
        transport=apis.transport(handler),
        clock=local or clock,
        today=TODAY,
        policy=SMALL_PAGES,
        **kw,
    )


@pytest.fixture(scope="module")
def untouched(portfolio: Portfolio, module_env: Path) -> dict[str, Any]:
    """What a clean sync of the CRM as generated stores (the same in every test that does not
    change the CRM itself)."""
    clock = Clock(portfolio.now + timedelta(hours=8))
    return clean_copy(portfolio, FakeApis(portfolio, clock=clock), clock)


def clean_copy(portfolio: Portfolio, apis: FakeApis, clock: Clock) -> dict[str, Any]:
    """What a clean, complete sync of the CRM as it is now stores."""
    fresh = both_settings(portfolio.demo_owner_email, workspace="clean")
    run(fresh, apis, clock, full=True)
    return table_rows(fresh, ALL_TABLES)


# -- transient faults: retried, the sync completes ----------------------------------------------

RATE_LIMITED = {"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}


# The requests of a first sync of the book (sync/pull_crm.py): the owner's company search, a
# batch read of those companies with their ARR history, per child type a v4 association read
# from the book's companies and batch reads of the records, and the contacts of engagements.
BOOK_SEARCH = r"/crm/v3/objects/companies/search$"


def batch_read(obj_type: str) -> str:
    return rf"/crm/v3/objects/{obj_type}/batch/read$"


def links(from_type: str, to_type: str) -> str:
    return rf"/crm/v4/associations/{from_type}/{to_type}/batch/read$"


@pytest.mark.parametrize(
    "fault",
    [
        {"path": batch_read("contacts"), "exception": httpx.ConnectTimeout},
        {"path": batch_read("deals"), "status": 502, "times": 2, "body": "Bad Gateway",
         "content_type": "text/html"},
        {"path": r"/crm/v3/owners$", "status": 503, "body": "down",
         "headers": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}},
        {"path": links("companies", "tickets"), "status": 429, "body": RATE_LIMITED,
         "headers": {"Retry-After": "0"}},
        {"path": batch_read("companies"), "cut_body": True},
        {"path": r"/api/projects/1/query", "cut_body": True},
        {"path": r"/api/projects/1/query", "status": 200, "body": "[1, 2", "content_type": "application/json"},
        {"path": batch_read("notes"), "status": 200, "body": {"results": [{"properties": {}}]}},
        {"path": links("companies", "contacts"), "status": 200, "body": "null",
         "content_type": "application/json"},
        {"path": BOOK_SEARCH, "status": 200, "body": {"results": [{"properties": {}}]}},
        {"path": links("notes", "contacts"), "exception": httpx.ReadTimeout},
    ],
    ids=["connect-timeout", "502-html", "503-retry-after-date", "429-retry-after-0", "reset-mid-body",
         "analytics-reset-mid-body", "analytics-truncated-json", "record-without-id", "json-null",
         "book-search-record-without-id", "read-timeout"],
)  # fmt: skip
def test_transient_faults_end_in_a_complete_sync(
    fault: dict[str, Any], portfolio: Portfolio, apis: FakeApis, clock: Clock, untouched: Any
) -> None:
    apis.faults.add(**fault)
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    assert apis.faults.pending == 0, "the fault was met"
    assert table_rows(settings, ALL_TABLES) == untouched


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 502, "times": 2, "body": "Bad Gateway", "content_type": "text/html"},
        {"cut_body": True},
        {"status": 429, "body": {"status": "error", "errorType": "RATE_LIMIT",
                                 "message": "You have reached your secondly limit."}},
    ],
    ids=["502-html", "reset-mid-body", "429-secondly"],
)  # fmt: skip
def test_transient_faults_on_a_later_syncs_modified_search_end_in_a_complete_sync(
    fault: dict[str, Any], portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    clock.advance(hours=1)
    change_deals_contacts_tickets_and_usage(apis)
    clock.advance(minutes=1)  # past the search's index lag
    apis.faults.add(path=r"/crm/v3/objects/contacts/search$", **fault)
    run(settings, apis, clock)
    assert apis.faults.pending == 0, "the fault was met"
    assert table_rows(settings, ALL_TABLES) == clean_copy(portfolio, apis, clock)


def test_a_connection_reset_mid_body_on_a_real_socket_is_retried(
    portfolio: Portfolio, apis: FakeApis, clock: Clock, untouched: Any
) -> None:
    expected = untouched
    apis.faults.add(path=batch_read("contacts"), cut_body=True)
    apis.faults.add(path=r"/api/projects/1/query", cut_body=True)
    with apis.serve(port=0) as server:
        settings = both_settings(portfolio.demo_owner_email)
        settings.crm.base_url = settings.analytics.base_url = server.url
        sync_blocking(settings, clock=clock, today=TODAY, policy=SMALL_PAGES)
    assert apis.faults.pending == 0
    assert table_rows(settings, ALL_TABLES) == expected


# -- lasting faults: one clear line, nothing half-written ---------------------------------------


MISSING_SCOPE = {
    "status": "error", "category": "MISSING_SCOPES",
    "message": "This app hasn't been granted all required scopes to make this call.",
    "errors": [{"message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": ["crm.objects.companies.read"]}}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "fault", "says", "failed", "table"),
    [
        # The book itself cannot be read: nothing else can be synced (a child type's 403 is a
        # warning instead: see the test below).
        (BOOK_SEARCH, {"status": 403, "body": MISSING_SCOPE},
         "CRM token lacks the scope crm.objects.companies.read needed for POST "
         "/crm/v3/objects/companies/search: add it to the app's scopes", "companies", "accounts"),
        (r"/api/projects/1/query", {"status": 401, "body": {"detail": "Invalid personal API key."}},
         "Analytics token rejected (401). Set CSM_TUI_ANALYTICS__TOKEN or analytics.token in",
         "usage_weekly", "usage_weekly"),
        (r"/crm/v3/objects/contacts/search", {"exception": httpx.ConnectTimeout},
         "Check your connection and run the sync again.", "contacts", "contacts"),
        (r"/crm/v3/objects/tickets/search", {"status": 200, "body": "<html>captive portal</html>",
          "content_type": "text/html"}, "unexpected content type 'text/html'", "tickets", "tickets"),
        (batch_read("deals"), {"status": 200, "body": "<html>captive portal</html>",
          "content_type": "text/html"}, "unexpected content type 'text/html'", "deals", "deals"),
    ],
    ids=["crm-403", "analytics-401", "connect-timeouts", "wrong-content-type",
         "batch-read-wrong-content-type"],
)  # fmt: skip
def test_lasting_faults_fail_in_one_clear_line_and_leave_the_cache_as_it_was(
    path: str,
    fault: dict[str, Any],
    says: str,
    failed: str,
    table: str,
    portfolio: Portfolio,
    apis: FakeApis,
    clock: Clock,
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    clock.advance(hours=1)
    change_deals_contacts_tickets_and_usage(apis)
    clock.advance(minutes=1)  # past the search's index lag
    before, rows = state(settings), table_rows(settings, ALL_TABLES)
    apis.faults.add(path=path, times=1000, **fault)
    with pytest.raises(SyncError) as info:
        run(settings, apis, clock)
    message = str(info.value)
    assert says in message
    assert "\n" not in message and "demo-hubspot-token" not in message
    assert "demo-posthog-token" not in message
    assert table_rows(settings, (table,)) == {table: rows[table]}, "nothing of it half-written"
    after = state(settings)
    source = "analytics" if table == "usage_weekly" else "crm"
    assert after[source, failed] == before[source, failed], "its cursor did not move"
    # Objects pulled whole before the failure moved their cursors with their rows (each in its
    # own transaction): to this sync's start, never anywhere else.
    started = str(int(clock.now.timestamp() * 1000))
    moved = {key for key in after if after[key] != before.get(key)}
    assert all(key[0] == "crm" and after[key] == started for key in moved), moved
    assert recorded_errors(settings) == {(source, failed): message}, "recorded where doctor shows"
    apis.faults.clear()
    run(settings, apis, clock)
    assert not recorded_errors(settings)
    assert table_rows(settings, ALL_TABLES) == clean_copy(portfolio, apis, clock)


def change_deals_contacts_tickets_and_usage(apis: FakeApis) -> None:
    """Edits in the CRM (6 records each of deals, contacts, tickets) and late analytics events."""
    for kind, field in (("deals", "dealname"), ("contacts", "jobtitle"), ("tickets", "subject")):
        for record in apis.hubspot.records(kind)[:6]:
            apis.hubspot.update(kind, record["id"], {field: "Changed meanwhile"})
    last = max(r[1] for r in apis.posthog.usage)  # late events land in the last week
    apis.posthog.set_data(
        [(a, w, e, n + (w == last), u) for a, w, e, n, u in apis.posthog.usage],
        apis.posthog.users,
    )


def test_a_missing_scope_for_one_child_type_turns_off_that_type_alone_with_one_warning(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    clock.advance(hours=1)
    change_deals_contacts_tickets_and_usage(apis)
    clock.advance(minutes=1)
    tickets_before = table_rows(settings, ("tickets",))
    tickets_cursor = state(settings)["crm", "tickets"]
    apis.hubspot.scopes.discard("tickets")  # the private app was saved without it
    report = run(settings, apis, clock)
    lines = [w for w in report.warnings if w.startswith("tickets")]
    assert lines == [
        "tickets not synced: CRM token lacks the scope tickets needed for POST "
        "/crm/v4/associations/companies/tickets/batch/read: add it to the app's scopes"
    ], report.warnings
    assert report.rescored
    assert not any("demo-hubspot-token" in w for w in report.warnings)
    # The tickets stay as they were (not emptied, not half-updated); everything else is current.
    assert table_rows(settings, ("tickets",)) == tickets_before
    assert state(settings)["crm", "tickets"] == tickets_cursor
    assert recorded_errors(settings) == {("crm", "tickets"): lines[0].split(": ", 1)[1]}
    rows = table_rows(settings, ALL_TABLES)
    apis.hubspot.scopes.add("tickets")  # (the clean copy's own sync reads them)
    clean = clean_copy(portfolio, apis, clock)
    assert {t: r for t, r in rows.items() if t != "tickets"} == {
        t: r for t, r in clean.items() if t != "tickets"
    }
    report = run(settings, apis, clock)  # the scope granted: tickets come back, the line goes
    assert not [w for w in report.warnings if w.startswith("tickets")]
    assert not recorded_errors(settings)
    assert table_rows(settings, ALL_TABLES) == clean


# -- faults in the data ---------------------------------------------------------------------------


def test_properties_whose_type_changed_are_stored_as_unknown_not_a_crash(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    clock.advance(hours=1)
    hub = apis.hubspot
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    company = next(
        r["id"] for r in hub.records("companies")
        if r["properties"].get("hubspot_owner_id") == owner["id"] and not r["archived"]
    )  # fmt: skip
    # Someone turned number and date properties into free text (and an enumeration changed).
    hub.update("companies", company, {"arr": "about 12k", "seats": "lots", "renewal_date":
               "next spring", "contract_start_date": "1700000000000", "churn_date": "n/a"})  # fmt: skip
    contact = hub.associations_of("companies", company, "contacts")[0]
    hub.update("contacts", contact, {"hs_email_optout": "maybe", "cs_role": "Chief Everything",
                                     "lastmodifieddate": None})  # fmt: skip
    for kind, props in (
        ("deals", {"amount": "1,000.00 EUR", "closedate": "Q3", "dealstage": "???"}),
        ("tickets", {"csat_score": "great", "hs_ticket_priority": "P0", "closed_date": "never"}),
        ("feedback_submissions", {"hs_response_value": "ten", "hs_submission_timestamp": "x"}),
    ):
        for rid in hub.associations_of("companies", company, kind)[:1]:
            hub.update(kind, rid, props)
    clock.advance(minutes=1)
    report = run(settings, apis, clock)
    assert report.rescored
    db = open_cache(settings.cache_path, create=False)
    row = db["accounts"].get(company)
    assert (row["arr"], row["seats"], row["renewal_date"]) == (None, None, None)
    assert db["contacts"].get(contact)["unsubscribed"] in (0, 1)
    assert db["scores"].get(company)["health"] is not None  # still scored, from what is known
    db.conn.close()
    assert table_rows(settings, ALL_TABLES) == clean_copy(portfolio, apis, clock)


def test_touches_and_surveys_stop_naming_a_contact_archived_in_the_crm(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    db = open_cache(settings.cache_path, create=False)
    archived = [r[0] for r in db.execute(
        "SELECT contact_id FROM touches WHERE contact_id IS NOT NULL GROUP BY contact_id "
        "ORDER BY COUNT(*) DESC, contact_id LIMIT 2"
    )]  # fmt: skip
    moved = db.execute(
        "SELECT contact_id FROM survey_responses WHERE contact_id IS NOT NULL "
        "AND contact_id NOT IN (SELECT value FROM json_each(?)) ORDER BY id",
        [json.dumps(archived)],
    ).fetchone()[0]
    db.conn.close()
    clock.advance(hours=1)
    # Archiving a contact drops it from its engagements' associations, and moving one to an
    # account outside the book does not; neither moves the engagements' modified dates.
    for cid in archived:
        apis.hubspot.archive("contacts", cid)
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    outside = next(
        r["id"] for r in apis.hubspot.records("companies")
        if r["properties"].get("hubspot_owner_id") != owner["id"]
    )  # fmt: skip
    (company,) = apis.hubspot.associations_of("contacts", moved, "companies")
    apis.hubspot.reassociate("contacts", moved, "companies", company, outside)
    clock.advance(minutes=1)
    run(settings, apis, clock)
    db = open_cache(settings.cache_path, create=False)
    marks = json.dumps(archived)
    for table in ("touches", "survey_responses"):
        named = f"SELECT COUNT(*) FROM {table} WHERE contact_id IN (SELECT value FROM json_each(?))"
        assert db.execute(named, [marks]).fetchone()[0] == 0
    assert db.execute("SELECT 1 FROM survey_responses WHERE contact_id = ?", [moved]).fetchone()
    db.conn.close()
    assert table_rows(settings, ALL_TABLES) == clean_copy(portfolio, apis, clock)


def page_hook(
    apis: FakeApis, path: str, hook: Callable[[httpx.Request, dict[str, Any], int], None]
) -> Handler:
    """The fakes' handler, calling ``hook(request, body, n)`` on the nth answer to ``path``."""
    seen = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        response = apis.handler(request)
        if request.url.path != path or response.status_code != 200:
            return response
        if request.url.params.get("archived") == "true":
            return response
        seen["n"] += 1
        body = json.loads(response.content)
        hook(request, body, seen["n"])
        return httpx.Response(200, json=body, headers={"Content-Type": "application/json"})

    return handler


def book_contacts(apis: FakeApis, portfolio: Portfolio) -> list[str]:
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    book = {
        r["id"] for r in apis.hubspot.records("companies")
        if r["properties"].get("hubspot_owner_id") == owner["id"]
    }  # fmt: skip
    return [
        c["id"]
        for c in apis.hubspot.records("contacts")
        if book & set(apis.hubspot.associations_of("contacts", c["id"], "companies"))
    ]


def grow_book(apis: FakeApis, portfolio: Portfolio, n: int) -> list[str]:
    """``n`` more contacts at one account of the book (they sort last, by id); their ids."""
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    company = next(
        r["id"] for r in apis.hubspot.records("companies")
        if r["properties"].get("hubspot_owner_id") == owner["id"] and not r["archived"]
    )  # fmt: skip
    return [
        apis.hubspot.create(
            "contacts",
            {"firstname": f"Extra {i}", "email": f"extra{i}@example.com"},
            {"companies": [company]},
        )
        for i in range(n)
    ]


def test_records_that_vanish_between_the_association_read_and_the_batch_reads(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    extra = grow_book(apis, portfolio, 50)  # more contacts than one batch read takes (100)
    contacts = book_contacts(apis, portfolio)
    assert contacts.index(extra[0]) < 100 <= contacts.index(extra[-1])
    archived: list[str] = []

    def archive_two(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/objects/contacts/batch/read") and not archived:
            # The book's contacts are listed; before the first batch read is answered, one
            # contact of each of the two batch reads is archived.
            archived.extend([extra[0], extra[-1]])
            for cid in archived:
                apis.hubspot.archive("contacts", cid)
        return apis.handler(request)

    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock, archive_two)
    assert archived
    rows = table_rows(settings, ALL_TABLES)
    assert not {dict(r)["id"] for r in rows["contacts"]} & set(archived)
    assert rows == clean_copy(portfolio, apis, clock)


def test_records_that_vanish_between_search_pages_do_not_hide_the_next_ones(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    clock.advance(hours=1)
    # More changes in the book than one search page holds (every one in the window is in the
    # book, so whichever record the shifted offsets would skip is one the cache must get).
    grow_book(apis, portfolio, 150)
    contacts = book_contacts(apis, portfolio)
    for cid in contacts:
        apis.hubspot.update("contacts", cid, {"jobtitle": "Renamed in bulk"})
    clock.advance(minutes=1)

    def archive_from_page_one(request: httpx.Request, body: dict[str, Any], n: int) -> None:
        if n == 1:
            served = [r["id"] for r in body["results"]]
            assert body.get("paging"), "the window needs a second page"
            for cid in [c for c in contacts if c in served][:3]:
                apis.hubspot.archive("contacts", cid)

    run(
        settings,
        apis,
        clock,
        page_hook(apis, "/crm/v3/objects/contacts/search", archive_from_page_one),
    )
    clock.advance(minutes=1)
    assert table_rows(settings, ALL_TABLES) == clean_copy(portfolio, apis, clock)


@pytest.mark.parametrize("pages", ["batch-reads", "association-pages"])
def test_duplicate_ids_across_pages_are_stored_once(
    pages: str, portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    # Two batch reads of the contacts (100 each), and one account whose contacts take several
    # association pages (10 a record).
    grow_book(apis, portfolio, 50)
    first: list[dict[str, Any]] = []
    repeated: list[int] = []

    def repeat_records(request: httpx.Request, body: dict[str, Any], n: int) -> None:
        if n == 1:
            first.extend(body["results"][:3])
        else:
            body["results"][:0] = first  # the next read starts again with the first's records
            repeated.append(n)

    def repeat_links(request: httpx.Request, body: dict[str, Any], n: int) -> None:
        results = body["results"]
        if n == 1:
            paged = next(r for r in results if r.get("paging"))
            first.append({"from": paged["from"], "to": paged["to"][:3]})
            return
        for result in results:
            if result["from"] == first[0]["from"]:
                result["to"][:0] = first[0]["to"]  # its next page starts with the first's links
                repeated.append(n)

    if pages == "batch-reads":
        handler = page_hook(apis, "/crm/v3/objects/contacts/batch/read", repeat_records)
    else:
        handler = page_hook(
            apis, "/crm/v4/associations/companies/contacts/batch/read", repeat_links
        )
    settings = both_settings(portfolio.demo_owner_email)
    report = run(settings, apis, clock, handler)
    assert first and repeated, "a second page repeated the first one's"
    rows = table_rows(settings, ALL_TABLES)
    assert rows == clean_copy(portfolio, apis, clock)
    assert report.pulled["contacts"] >= len(rows["contacts"])


def test_a_server_clock_ahead_of_the_local_one_loses_no_change(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    laptop = Clock(clock.now - timedelta(hours=3))  # the CRM's clock runs 3 hours ahead
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock, local=laptop)
    for minutes in (5, 60):
        clock.advance(minutes=minutes)
        laptop.advance(minutes=minutes)
        owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
        company = next(
            r["id"] for r in apis.hubspot.records("companies")
            if r["properties"].get("hubspot_owner_id") == owner["id"]
        )  # fmt: skip
        apis.hubspot.update("companies", company, {"name": f"Renamed after {minutes} min"})
        clock.advance(seconds=30)
        laptop.advance(seconds=30)
        run(settings, apis, clock, local=laptop)
        db = open_cache(settings.cache_path, create=False)
        assert db["accounts"].get(company)["name"] == f"Renamed after {minutes} min"
        db.conn.close()
    assert table_rows(settings, ALL_TABLES) == clean_copy(portfolio, apis, clock)
    assert datetime.now(UTC) > laptop.now  # (the test's clocks are in the past: no real waits)
