"""A whole sync against both fakes: analytics, faults on the wire, clean failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from support.clocks import Clock
from support.sync import (
    ALL_TABLES,
    BOOK_TABLES,
    SMALL_PAGES,
    TODAY,
    both_settings,
    state,
    table_rows,
)

from csm_tui.config import Settings, load_settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import SyncError, sync_blocking
from csm_tui.sync.lock import SyncBusyError, sync_lock
from csm_tui.sync.progress import SyncReport
from csm_tui.sync.pull_crm import TABLE


@pytest.fixture
def portfolio() -> Portfolio:
    return generate_portfolio(10, 5, today=TODAY)


def run(settings: Settings, apis: FakeApis, clock: Clock, **kw: Any) -> SyncReport:
    kw.setdefault("policy", SMALL_PAGES)
    return sync_blocking(settings, transport=apis.transport(), clock=clock, today=TODAY, **kw)


def test_analytics_land_per_account_week_and_event_and_unmatched_groups_are_counted(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    report = run(settings, apis, clock)
    db = open_cache(settings.cache_path, create=False)
    domains = {r["domain"]: r["id"] for r in db["accounts"].rows}
    # The fakes hold older weeks too (the demo's past outcomes): the sync pulls analytics.weeks.
    pulled = set(portfolio.weeks[-settings.analytics.weeks :])
    assert len(pulled) < len(portfolio.weeks)
    expected = {
        (domains[d], week, event): (events, users)
        for d, week, event, events, users in portfolio.usage_weekly
        if d in domains and week in pulled
    }
    got = {
        (r["account_id"], r["week"], r["event"]): (r["count"], r["users"])
        for r in db["usage_weekly"].rows
    }
    assert got == expected
    others = {row[0] for row in portfolio.usage_weekly} - set(domains)
    assert report.unmatched_groups == len(others) > 0
    assert any("not accounts of this book" in w for w in report.warnings)
    active = db.execute("SELECT COUNT(*) FROM contacts WHERE last_active IS NOT NULL").fetchone()[0]
    assert active > 0
    users_queries = [q for q in apis.posthog.queries if "person_id AS user" in q]
    usage_queries = [q for q in apis.posthog.queries if "AS week" in q]
    assert users_queries and len(usage_queries) > 1, "pages of 400 rows"
    assert not any("OFFSET" in q for q in apis.posthog.queries), "PostHog refuses OFFSET"
    # Every later page starts after the previous page's last key (keyset pagination).
    assert all("$group_0 > '" in q for q in usage_queries[1:])
    db.conn.close()


def test_later_syncs_repull_only_the_last_weeks_and_match_a_fresh_full_sync(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    # Late events arrive for last week; a new week's numbers appear too.
    usage = list(apis.posthog.usage)
    last_week = max(r[1] for r in usage)
    usage = [(a, w, e, n + 7 if w == last_week else n, u) for a, w, e, n, u in usage]
    apis.posthog.set_data(usage, list(apis.posthog.users))
    clock.advance(hours=2)
    n = len(apis.posthog.queries)
    run(settings, apis, clock)
    # The last 2 weeks before this one, this one being the project's (not UTC's) week.
    local = clock().astimezone(ZoneInfo(apis.posthog.timezone)).date()
    since = local - timedelta(days=local.weekday(), weeks=2)
    repulled = [q for q in apis.posthog.queries[n:] if "AS week" in q]
    assert repulled and all(f"timestamp >= toDateTime('{since} 00:00:00')" in q for q in repulled)
    fresh = both_settings(portfolio.demo_owner_email, workspace="fresh")
    run(fresh, apis, clock)
    assert table_rows(settings, ALL_TABLES) == table_rows(fresh, ALL_TABLES)


@pytest.mark.parametrize(
    "fault",
    [
        {"path": r"/crm/v3/objects/contacts", "status": 429, "headers": {"Retry-After": "1"},
         "body": {"status": "error", "errorType": "RATE_LIMIT", "policyName": "SECONDLY"}},
        {"path": r"/crm/v3/objects/deals", "status": 429, "times": 2,
         "body": {"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}},
        {"path": r"/crm/v3/objects/companies", "status": 500, "times": 2},
        {"path": r"/crm/v3/owners", "status": 503, "body": "Service Unavailable"},
        {"path": r"/crm/v3/objects/tickets", "exception": httpx.ReadTimeout},
        {"path": r"/crm/v3/objects/notes", "exception": httpx.ConnectError},
        {"path": r"/crm/v3/objects/calls", "status": 200, "body": '{"results": [{"id": "1"',
         "content_type": "application/json"},
        {"path": r"/crm/v3/objects/emails", "status": 200, "body": "<html>proxy</html>",
         "content_type": "text/html"},
        {"path": r"/api/projects/1/query", "status": 429},
        {"path": r"/api/projects/1/query", "status": 200, "body": {"results": "nope"}},
    ],
)  # fmt: skip
def test_passing_faults_end_in_a_complete_sync(
    fault: dict[str, Any], portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    clean = both_settings(portfolio.demo_owner_email, workspace="clean")
    run(clean, apis, clock)
    apis.faults.add(**fault)
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    assert apis.faults.pending == 0, "the fault was met"
    assert table_rows(settings, ALL_TABLES) == table_rows(clean, ALL_TABLES)


def object_rows(settings: Settings, obj: str) -> list[Any]:
    """The cache rows one object's pull writes (engagements share `touches`, by id prefix)."""
    if obj == "companies":
        rows = table_rows(settings, ("accounts", "arr_history"))
        return rows["accounts"] + rows["arr_history"]
    table = TABLE.get(obj, obj)
    rows = table_rows(settings, (table,))[table]
    if table in ("touches", "next_steps"):
        return [r for r in rows if dict(r)["id"].startswith(f"crm:{obj}:")]
    return rows


@pytest.mark.parametrize(
    ("changed", "path", "fault"),
    [
        # The modified-date search of a later sync.
        ("contacts", r"/crm/v3/objects/contacts/search", {"status": 500}),
        ("deals", r"/crm/v3/objects/deals/search", {"status": 429}),
        # The batch read of the records found new, moved or modified.
        ("tickets", r"/crm/v3/objects/tickets/batch/read", {"exception": httpx.ReadTimeout}),
        # The association read that lists the book's contacts.
        ("contacts", r"/crm/v4/associations/companies/contacts/batch/read",
         {"status": 200, "body": "{", "content_type": "application/json"}),
        ("usage", r"/api/projects/1/query", {"status": 502}),
    ],
    ids=["contacts-search-500", "deals-search-429", "tickets-batch-read-timeout",
         "contacts-links-truncated", "usage-502"],
)  # fmt: skip
def test_lasting_faults_fail_cleanly_in_one_line_and_no_cursor_runs_ahead_of_its_rows(
    changed: str,
    path: str,
    fault: dict[str, Any],
    portfolio: Portfolio,
    apis: FakeApis,
    clock: Clock,
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    before, rows_before = state(settings), table_rows(settings, ALL_TABLES)
    clock.advance(hours=1)
    if changed == "usage":
        apis.posthog.set_data(
            [(a, w, e, n + 1, u) for a, w, e, n, u in apis.posthog.usage], apis.posthog.users
        )
    else:
        for r in portfolio.objects(changed)[:5]:
            apis.hubspot.update(
                changed, r["id"], {"jobtitle": "Moved on", "dealname": "Renamed", "subject": "Re"}
            )
    clock.advance(minutes=1)  # past the search's index lag
    apis.faults.add(path=path, times=1000, **fault)
    with pytest.raises(SyncError) as info:
        run(settings, apis, clock)
    message = str(info.value)
    assert "\n" not in message and "demo-hubspot-token" not in message
    after = state(settings)
    failed = ("analytics", "usage_weekly") if changed == "usage" else ("crm", changed)
    assert after[failed] == before[failed], "the failed object's cursor did not move"
    # Nothing of the failed object was half-written.
    table = {"usage": "usage_weekly", "deals": "deals", "tickets": "tickets"}.get(changed, changed)
    assert table_rows(settings, (table,)) == {table: rows_before[table]}
    db = open_cache(settings.cache_path, create=False)
    errors = [r["last_error"] for r in db["sync_state"].rows if r["last_error"]]
    db.conn.close()
    assert errors == [message], "the failure is recorded where doctor shows it"
    # Each CRM object commits its rows with its own cursor: those done before the failure
    # moved to this sync's start, and hold what a complete sync stores for them.
    apis.faults.clear()
    clean = both_settings(portfolio.demo_owner_email, workspace="clean")
    run(clean, apis, clock)
    started = str(int(clock.now.timestamp() * 1000))
    moved = sorted(obj for key, obj in after if after[key, obj] != before.get((key, obj)))
    assert all(after["crm", obj] == started for obj in moved), moved
    assert failed[1] not in moved
    for obj in moved:
        assert object_rows(settings, obj) == object_rows(clean, obj), f"{obj} moved with its rows"
    if changed == "usage":
        assert "companies" in moved and "contacts" in moved, "the CRM pull was done before"
    else:
        assert not [key for key in after if key[0] == "analytics" and after[key] != before[key]]
    run(settings, apis, clock)  # the next sync picks the changes up
    assert table_rows(settings, (table,)) != {table: rows_before[table]}
    db = open_cache(settings.cache_path, create=False)
    assert not [r for r in db["sync_state"].rows if r["last_error"]]
    db.conn.close()
    # (A later sync re-pulls the last weeks of usage only: this change touched every week.)
    tables = BOOK_TABLES if changed == "usage" else ALL_TABLES
    assert table_rows(settings, tables) == table_rows(clean, tables)


def test_a_rejected_token_is_one_line_that_says_where_to_set_it(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = load_settings(
        crm={"base_url": "http://127.0.0.1:9", "token": "wrong-token"}, analytics={"token": "x", "project_id": "1"}
    )  # fmt: skip
    with pytest.raises(SyncError) as info:
        run(settings, apis, clock, analytics=False)
    assert str(info.value) == (
        f"CRM token rejected (401). Set CSM_TUI_CRM__TOKEN or crm.token in {settings.config_file}."
    )
    assert "wrong-token" not in str(info.value)


def test_unconfigured_analytics_are_skipped_with_a_warning_unless_asked_for_alone(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = load_settings(
        crm={"base_url": "http://127.0.0.1:9", "token": "demo-hubspot-token",
             "owner_email": portfolio.demo_owner_email}
    )  # fmt: skip
    report = run(settings, apis, clock)
    assert any("analytics not configured" in w for w in report.warnings)
    assert not apis.posthog.requests
    with pytest.raises(SyncError) as info:
        run(settings, apis, clock, crm=False)
    assert str(info.value).startswith("Analytics token is not set. Set CSM_TUI_ANALYTICS__TOKEN")


def test_analytics_only_leaves_the_crm_alone(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    run(settings, apis, clock)
    n = len(apis.hubspot.requests)
    report = run(settings, apis, clock, crm=False)
    assert len(apis.hubspot.requests) == n
    assert report.pulled["usage_weekly"] > 0


def test_a_second_sync_of_the_same_workspace_waits_briefly_then_says_so(
    portfolio: Portfolio, apis: FakeApis, clock: Clock
) -> None:
    settings = both_settings(portfolio.demo_owner_email)
    with sync_lock(settings.cache_path, settings.workspace), pytest.raises(SyncBusyError) as info:
        run(settings, apis, clock, lock_wait=0.05)
    assert str(info.value).startswith("Another sync is running for workspace default")
    assert not apis.hubspot.requests
