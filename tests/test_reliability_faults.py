"""Faults on the wire and in the data, beyond those of test_sync_engine / test_sync_http: each
ends in a complete sync (the cache equals a clean sync's) or a clean failure (one line, no
token, every cursor and table as it was, the error recorded), never something half-written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_reliability_crash import module_env  # noqa: F401  (fixture)
from test_sync_crm import TODAY, Clock, table_rows
from test_sync_engine import ALL_TABLES, SMALL_PAGES, both_settings, state

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
def untouched(portfolio: Portfolio, module_env: Path) -> dict[str, Any]:  # noqa: F811
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


@pytest.mark.parametrize(
    "fault",
    [
        {"path": r"/crm/v3/objects/contacts$", "exception": httpx.ConnectTimeout},
        {"path": r"/crm/v3/objects/deals$", "status": 502, "times": 2, "body": "Bad Gateway",
         "content_type": "text/html"},
        {"path": r"/crm/v3/owners$", "status": 503, "body": "down",
         "headers": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}},
        {"path": r"/crm/v3/objects/tickets$", "status": 429, "body": RATE_LIMITED,
         "headers": {"Retry-After": "0"}},
        {"path": r"/crm/v3/objects/companies$", "cut_body": True},
        {"path": r"/api/projects/1/query", "cut_body": True},
        {"path": r"/api/projects/1/query", "status": 200, "body": "[1, 2", "content_type": "application/json"},
        {"path": r"/crm/v3/objects/notes$", "status": 200, "body": {"results": [{"properties": {}}]}},
        {"path": r"/crm/v3/objects/contacts$", "status": 200, "body": "null", "content_type": "application/json"},
    ],
    ids=["connect-timeout", "502-html", "503-retry-after-date", "429-retry-after-0", "reset-mid-body",
         "analytics-reset-mid-body", "analytics-truncated-json", "record-without-id", "json-null"],
)  # fmt: skip
def test_transient_faults_end_in_a_complete_sync(
    fault: dict[str, Any], portfolio: Portfolio, apis: FakeApis, clock: Clock, untouched: Any
) -> None:
    apis.faults.add(**fault)
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    assert apis.faults.pending == 0, "the fault was met"
    assert table_rows(settings, ALL_TABLES) == untouched


def test_a_connection_reset_mid_body_on_a_real_socket_is_retried(
    portfolio: Portfolio, apis: FakeApis, clock: Clock, untouched: Any
) -> None:
    expected = untouched
    apis.faults.add(path=r"/crm/v3/objects/contacts$", cut_body=True)
    apis.faults.add(path=r"/api/projects/1/query", cut_body=True)
    with apis.serve(port=0) as server:
        settings = both_settings(portfolio.demo_owner_email)
        settings.crm.base_url = settings.analytics.base_url = server.url
        sync_blocking(settings, clock=clock, today=TODAY, policy=SMALL_PAGES)
    assert apis.faults.pending == 0
    assert table_rows(settings, ALL_TABLES) == expected


# -- lasting faults: one clear line, nothing half-written ---------------------------------------


@pytest.mark.parametrize(
    ("path", "fault", "says"),
    [
        (r"/crm/v3/objects/deals/search", {"status": 403, "body": {"status": "error",
          "message": "This app hasn't been granted all required scopes", "category": "MISSING_SCOPES"}},
         "CRM token rejected (403). Set CSM_TUI_CRM__TOKEN or crm.token in"),
        (r"/api/projects/1/query", {"status": 401, "body": {"detail": "Invalid personal API key."}},
         "Analytics token rejected (401). Set CSM_TUI_ANALYTICS__TOKEN or analytics.token in"),
        (r"/crm/v3/objects/contacts/search", {"exception": httpx.ConnectTimeout},
         "Check your connection and run the sync again."),
        (r"/crm/v3/objects/tickets/search", {"status": 200, "body": "<html>captive portal</html>",
          "content_type": "text/html"}, "unexpected content type 'text/html'"),
    ],
    ids=["crm-403", "analytics-401", "connect-timeouts", "wrong-content-type"],
)  # fmt: skip
def test_lasting_faults_fail_in_one_clear_line_and_leave_the_cache_as_it_was(
    path: str,
    fault: dict[str, Any],
    says: str,
    portfolio: Portfolio,
    apis: FakeApis,
    clock: Clock,
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    clock.advance(hours=1)
    for kind, field in (("deals", "dealname"), ("contacts", "jobtitle"), ("tickets", "subject")):
        for record in apis.hubspot.records(kind)[:6]:
            apis.hubspot.update(kind, record["id"], {field: "Changed meanwhile"})
    last = max(r[1] for r in apis.posthog.usage)  # late events land in the last week
    apis.posthog.set_data(
        [(a, w, e, n + (w == last), u) for a, w, e, n, u in apis.posthog.usage],
        apis.posthog.users,
    )
    clock.advance(minutes=1)
    before, rows = state(settings), table_rows(settings, ALL_TABLES)
    apis.faults.add(path=path, times=1000, **fault)
    with pytest.raises(SyncError) as info:
        run(settings, apis, clock)
    message = str(info.value)
    assert says in message
    assert "\n" not in message and "demo-hubspot-token" not in message
    assert "demo-posthog-token" not in message
    failed_object = {"deals": "deals", "query": "usage_weekly", "contacts": "contacts"}
    table = next((t for k, t in failed_object.items() if k in path), "tickets")
    assert table_rows(settings, (table,)) == {table: rows[table]}, "nothing of it half-written"
    assert {k: v for k, v in state(settings).items() if k[1] == table} == {
        k: v for k, v in before.items() if k[1] == table
    }, "its cursor did not move"
    db = open_cache(settings.cache_path, create=False)
    errors = [r["last_error"] for r in db["sync_state"].rows if r["last_error"]]
    db.conn.close()
    assert errors == [message]
    apis.faults.clear()
    run(settings, apis, clock)
    assert table_rows(settings, ALL_TABLES) == clean_copy(portfolio, apis, clock)


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


def grow_book(apis: FakeApis, portfolio: Portfolio, n: int) -> None:
    """``n`` more contacts at one account of the book (they sort last, by id)."""
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    company = next(
        r["id"] for r in apis.hubspot.records("companies")
        if r["properties"].get("hubspot_owner_id") == owner["id"] and not r["archived"]
    )  # fmt: skip
    for i in range(n):
        apis.hubspot.create(
            "contacts",
            {"firstname": f"Extra {i}", "email": f"extra{i}@example.com"},
            {"companies": [company]},
        )


def test_records_that_vanish_between_list_pages(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    grow_book(apis, portfolio, 30)
    contacts = book_contacts(apis, portfolio)

    def archive_two(request: httpx.Request, body: dict[str, Any], n: int) -> None:
        if n == 1:  # while the sync holds page 1: one of its records and one of page 2 go
            served = [r["id"] for r in body["results"]]
            apis.hubspot.archive("contacts", next(c for c in contacts if c in served))
            apis.hubspot.archive("contacts", next(c for c in contacts if c not in served))

    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock, page_hook(apis, "/crm/v3/objects/contacts", archive_two))
    assert table_rows(settings, ALL_TABLES) == clean_copy(portfolio, apis, clock)


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


def test_duplicate_ids_across_pages_are_stored_once(
    portfolio: Portfolio, apis: FakeApis, clock: Clock, untouched: Any
) -> None:
    first: list[dict[str, Any]] = []

    def repeat(request: httpx.Request, body: dict[str, Any], n: int) -> None:
        if n == 1:
            first.extend(body["results"][:3])
        else:
            body["results"][:0] = first  # page 2 starts again with page 1's records

    settings = both_settings(portfolio.demo_owner_email)
    report = run(settings, apis, clock, page_hook(apis, "/crm/v3/objects/contacts", repeat))
    assert first, "the list had a second page"
    rows = table_rows(settings, ALL_TABLES)
    assert rows == untouched
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
