"""PostHog's query API as the real service runs it, and csm-tui's client and pull against it.

Each rule of csm_tui/fakes/CONTRACT.md, "PostHog", is checked on both sides where it matters:
the fake PostHog refuses or answers as PostHog does, and the client and the analytics pull cope.
The fake project is in New York, so every test meets a project time zone that is not UTC.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlite_utils
from support.clocks import Clock
from support.sync import FAST

from csm_tui.config import load_settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.posthog import FakePostHog
from csm_tui.fakes.posthog_hogql import HOGQL_PARSER, posthog_parser
from csm_tui.fakes.router import FakeApis
from csm_tui.sources.http import ApiError, Endpoint, Forbidden
from csm_tui.sources.posthog import (
    MAX_ROWS,
    WEEKLY_COLUMNS,
    PostHog,
    TimezoneChanged,
    posthog_client,
    user_activity_query,
    weekly_usage_query,
)
from csm_tui.store.db import open_cache
from csm_tui.sync.progress import SyncReport
from csm_tui.sync.pull_analytics import AnalyticsPull, users_rows, utc_instant

NY = ZoneInfo("America/New_York")
PH = {"Authorization": "Bearer demo-posthog-token"}
# VENDOR-CONTRACTS 2.5, PostHog's own words (posthog/hogql/user_query_validator.py).
OFFSET_DETAIL = (
    "OFFSET is not supported on queries made with a personal API key. For pagination, use "
    "keyset pagination on the `timestamp` column, e.g. `WHERE timestamp > :last_seen_timestamp "
    "ORDER BY timestamp LIMIT N`. For bulk data extraction, use batch exports: "
    "https://posthog.com/docs/cdp/batch-exports"
)
# Monday 03:00 UTC is still Sunday 22:00 in New York: the project's day and week are not UTC's.
SUNDAY_NIGHT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 23)
# What csm-tui sent before: LIMIT/OFFSET paging and UTC-minded now() windows.
OLD_USAGE = (
    "SELECT $group_0 AS account, toStartOfWeek(timestamp, 1) AS week, event, count() AS events, "
    "count(DISTINCT person_id) AS users FROM events WHERE timestamp >= toStartOfWeek(now(), 1) - "
    "INTERVAL 2 WEEK AND $group_0 != '' GROUP BY account, week, event ORDER BY account, week, "
    "event LIMIT 50000 OFFSET {offset}"
)


@pytest.fixture(scope="module")
def book() -> Portfolio:
    return generate_portfolio(12, seed=5, today=MONDAY)


@pytest.fixture
def clock() -> Clock:
    return Clock(SUNDAY_NIGHT)


@pytest.fixture
def apis(book: Portfolio, clock: Clock) -> FakeApis:
    return FakeApis(book, clock=clock)


def source(apis: FakeApis, page_size: int = MAX_ROWS) -> PostHog:
    """csm-tui's PostHog source, talking to the fake in-process on its simulated clock."""
    endpoint = Endpoint("https://us.posthog.com", "demo-posthog-token", "the analytics token", 30)
    return PostHog(posthog_client(endpoint, FAST, apis.transport()), "1", page_size=page_size)


def post(apis: FakeApis | FakePostHog, text: str, **extra: Any) -> httpx.Response:
    """One query straight to the fake (no client, no pacing)."""
    body = {"query": {"kind": "HogQLQuery", "query": text}, **extra}
    request = httpx.Request(
        "POST", "https://us.posthog.com/api/projects/1/query/", json=body, headers=PH
    )
    return apis.handler(request)


def usage_query(limit: int, weeks: int = 2, after: Any = None, group: int = 0) -> str:
    """The client's weekly-usage query from ``weeks`` before the project's week at MONDAY."""
    return weekly_usage_query(group, date(2026, 11, 16) - timedelta(weeks=weeks), limit, after)


def book_cache(tmp_path: Path, book: Portfolio) -> sqlite_utils.Database:
    """A cache holding the book's accounts (what the CRM pull leaves before the analytics)."""
    db = open_cache(tmp_path / "cache.db")
    db.conn.executemany(
        "INSERT INTO accounts (id, name, domain) VALUES (?, ?, ?)",
        [(c["id"], c["properties"]["name"], c["properties"]["domain"]) for c in book.companies],
    )
    return db


def pull(db: sqlite_utils.Database, apis: FakeApis, *, full: bool = False) -> AnalyticsPull:
    """One analytics pull, as the sync engine runs it (after the CRM pull)."""
    settings = load_settings(analytics={"token": "demo-posthog-token", "project_id": "1"})
    job = AnalyticsPull(
        db,
        source(apis, page_size=400),
        settings=settings,
        full=full,
        report=SyncReport(),
        progress=lambda _: None,
        started="2026-11-23T03:00:00.000000+00:00",
    )
    asyncio.run(_run_and_close(job))
    return job


async def _run_and_close(job: AnalyticsPull) -> None:
    try:
        await job.run()
    finally:
        await job.ph.client.aclose()


def queries(apis: FakeApis, since: int = 0, *, kind: str) -> list[str]:
    marker = "AS week" if kind == "usage" else "person_id AS user"
    return [q for q in apis.posthog.queries[since:] if marker in q]


def synthetic_usage(n: int) -> list[tuple[str, str, str, int, int]]:
    """``n`` weekly-usage rows of many small accounts, in key order."""
    weeks = ("2026-11-02", "2026-11-09", "2026-11-16")
    rows = [
        (f"acct{a:04d}.example", week, f"event{e:02d}", 1 + (a + e) % 9, 1)
        for a in range(n // 30 + 1)
        for week in weeks
        for e in range(10)
    ]
    return rows[:n]


# -- OFFSET ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        OLD_USAGE.format(offset=0),
        OLD_USAGE.format(offset=50_000),
        "SELECT event FROM events LIMIT 10, 20",
        "SELECT event FROM events LIMIT 1 BY event OFFSET 2",
        "SELECT 1 UNION ALL SELECT 2 OFFSET 3",
        "SELECT x FROM (SELECT 1 AS x FROM events OFFSET 3)",
    ],
)
def test_any_offset_even_0_is_refused_in_posthogs_own_words(apis: FakeApis, text: str) -> None:
    answer = post(apis, text)
    assert answer.status_code == 400
    assert answer.json() == {
        "type": "validation_error",
        "code": "hogql_query_error",
        "detail": OFFSET_DETAIL,
        "attr": None,
    }


def test_samples_offset_is_a_sampling_parameter_and_not_refused_as_paging(apis: FakeApis) -> None:
    answer = post(apis, "SELECT event FROM events SAMPLE 1/10 OFFSET 1/2")
    assert answer.json()["detail"] != OFFSET_DETAIL


def test_the_clients_one_line_error_carries_posthogs_detail(apis: FakeApis) -> None:
    """A refused query shows why in the sync's one line: PostHog says it in ``detail``."""
    ph = source(apis)
    with pytest.raises(ApiError) as refused:
        asyncio.run(ph.query(OLD_USAGE.format(offset=0), WEEKLY_COLUMNS, name="old"))
    with pytest.raises(ApiError) as broken:
        asyncio.run(ph.query("SELECT FROM WHERE", WEEKLY_COLUMNS, name="broken"))
    line = str(refused.value)
    assert refused.value.status == 400 and "\n" not in line
    assert (
        "(400 hogql_query_error): OFFSET is not supported on queries made with a personal" in line
    )
    assert "(400 hogql_syntax_error): " in str(broken.value)
    assert "SELECT FROM WHERE" in str(broken.value), "the parser's own message"


# -- LIMIT and hasMore ---------------------------------------------------------------------------


def test_a_full_page_means_ask_again_though_has_more_is_null() -> None:
    """31,479 rows in pages of 10,000: with a LIMIT of its own PostHog says nothing of more
    rows (hasMore null), so a client trusting hasMore stopped after the first page."""
    apis = FakeApis(None, clock=Clock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)))
    usage = synthetic_usage(31_479)
    apis.posthog.set_data(usage, [])
    one = post(apis, usage_query(10_000, weeks=3)).json()
    assert (one["hasMore"], one["limit"], one["offset"]) == (None, None, None)
    apis.posthog.queries.clear()

    async def read() -> list[list[Any]]:
        ph = source(apis, page_size=10_000)
        pages = [p.rows async for p in ph.weekly_usage(0, date(2026, 11, 2))]
        await ph.client.aclose()
        return pages

    pages = asyncio.run(read())
    assert [len(p) for p in pages] == [10_000, 10_000, 10_000, 1_479]
    assert [tuple(r) for p in pages for r in p] == usage
    sent = apis.posthog.queries
    assert "OFFSET" not in " ".join(sent)
    for page, later in zip(pages, sent[1:], strict=False):
        account, week, event = page[-1][:3]
        assert f"$group_0 = '{account}' AND toStartOfWeek(timestamp, 1) = toDate('{week}') " \
               f"AND event > '{event}'" in later, "each page starts after the last key"  # fmt: skip


def test_a_last_page_that_is_exactly_full_costs_one_empty_page_and_loses_nothing() -> None:
    apis = FakeApis(None, clock=Clock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)))
    apis.posthog.set_data(synthetic_usage(2_000), [])

    async def read() -> list[int]:
        ph = source(apis, page_size=1_000)
        sizes = [len(p.rows) async for p in ph.weekly_usage(0, date(2026, 11, 2))]
        await ph.client.aclose()
        return sizes

    assert asyncio.run(read()) == [1_000, 1_000, 0]


def test_a_page_size_past_posthogs_cap_is_cut_to_it_so_a_capped_page_is_not_the_last() -> None:
    """PostHog cuts any LIMIT to 50,000 without a word: asked for 60,000, a full page would
    look short, and the pull would stop there."""
    apis = FakeApis(None, clock=Clock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)))
    apis.posthog.set_data(synthetic_usage(50_010), [])
    capped = post(apis, usage_query(60_000, weeks=3)).json()
    assert len(capped["results"]) == 50_000 and capped["hasMore"] is None

    async def read() -> list[int]:
        ph = source(apis, page_size=60_000)
        assert ph.page_size == 50_000
        sizes = [len(p.rows) async for p in ph.weekly_usage(0, date(2026, 11, 2))]
        await ph.client.aclose()
        return sizes

    assert asyncio.run(read()) == [50_000, 10]


def test_without_a_limit_posthog_returns_100_rows_and_says_whether_more_exist(
    apis: FakeApis, book: Portfolio
) -> None:
    text = usage_query(1).replace(" LIMIT 1", "")
    body = post(apis, text).json()
    assert len(body["results"]) == 100 and len(book.usage_weekly) > 100
    assert (body["hasMore"], body["limit"], body["offset"]) == (True, 100, 0)


# -- time zone -----------------------------------------------------------------------------------


def test_the_project_and_every_answer_name_its_time_zone(apis: FakeApis, clock: Clock) -> None:
    async def read() -> Any:
        ph = source(apis)
        project = await ph.project()
        page = await ph.query(usage_query(5), WEEKLY_COLUMNS, name="t")
        types = await ph.group_types()
        await ph.client.aclose()
        return project, page, types

    project, page, types = asyncio.run(read())
    assert project.timezone == page.timezone == "America/New_York"
    assert project.now == SUNDAY_NIGHT, "the service's clock, from its Date header"
    assert [(t["group_type"], t["group_type_index"]) for t in types] == [("company", 0)]


def test_weeks_days_and_last_seen_are_the_projects_and_stored_in_utc(
    tmp_path: Path, apis: FakeApis, clock: Clock, book: Portfolio
) -> None:
    """At 22:00 on Sunday in New York (03:00 Monday UTC) the project's week began on the 16th
    and its day is the 22nd; an hour after its midnight a new day begins."""
    db = book_cache(tmp_path, book)
    pull(db, apis)
    usage, users = queries(apis, kind="usage"), queries(apis, kind="users")
    # 26 weeks before the project's week (16 Nov), not UTC's (23 Nov).
    assert "timestamp >= toDateTime('2026-05-18 00:00:00')" in usage[0]
    assert "countIf(timestamp >= toDateTime('2026-10-23 00:00:00'))" in users[0]
    assert "HAVING" not in users[0], "the first pull of the project's day reads every user"
    state = dict(db.execute("SELECT object, cursor FROM sync_state").fetchall())
    assert state["user_activity"] == "2026-11-16"
    cutoff = datetime(2026, 5, 24, tzinfo=NY)  # the project's midnight 26 weeks before the 22nd
    expected = {
        (user, datetime.fromisoformat(seen).astimezone(UTC).isoformat(timespec="microseconds"))
        for _, user, _, seen, _ in book.user_activity
        if datetime.fromisoformat(seen) >= cutoff
    }
    stored = set(db.execute("SELECT user_key, last_seen FROM user_activity").fetchall())
    assert stored == expected and all(seen.endswith("+00:00") for _, seen in stored)

    clock.now = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)  # 23:30 on Sunday in New York
    n = len(apis.posthog.queries)
    pull(db, apis)
    assert (
        "HAVING max(timestamp) >= toDateTime('2026-11-22 00:00:00')"
        in queries(apis, n, kind="users")[0]
    ), "later that project day: the users active since its midnight"
    assert "timestamp >= toDateTime('2026-11-02 00:00:00')" in queries(apis, n, kind="usage")[0]

    clock.now = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)  # 00:30 on Monday in New York
    n = len(apis.posthog.queries)
    pull(db, apis)
    assert "HAVING" not in queries(apis, n, kind="users")[0], "a new project day: every user"
    assert "timestamp >= toDateTime('2026-11-09 00:00:00')" in queries(apis, n, kind="usage")[0]
    db.conn.close()


def test_a_key_with_only_query_read_learns_the_zone_from_posthogs_now(
    tmp_path: Path, apis: FakeApis, book: Portfolio
) -> None:
    """PostHog's docs ask for a key with Query Read, which may not read the project: the pull
    asks PostHog's now() instead, and its answer names the zone."""
    apis.posthog.scopes = {"query:read"}
    now = post(apis, "SELECT now() AS now").json()
    assert now["results"] == [["2026-11-22T22:00:00-05:00"]] and now["timezone"] == NY.key
    assert now["types"] == [["now", "DateTime64(6, 'America/New_York')"]]
    db = book_cache(tmp_path, book)
    pull(db, apis)
    assert "timestamp >= toDateTime('2026-05-18 00:00:00')" in queries(apis, kind="usage")[0]
    assert db.execute("SELECT COUNT(*) FROM user_activity").fetchone()[0] > 0
    db.conn.close()


def test_instants_become_utc_and_one_without_an_offset_is_the_projects_wall_clock() -> None:
    assert utc_instant("2026-11-22 22:15:00", NY) == "2026-11-23T03:15:00.000000+00:00"
    assert utc_instant("2026-11-22T22:15:00.5-05:00", NY) == "2026-11-23T03:15:00.500000+00:00"
    assert utc_instant("2026-11-23T03:15:00Z", NY) == "2026-11-23T03:15:00.000000+00:00"
    assert utc_instant("", NY) is None and utc_instant("yesterday", NY) is None


def test_an_answer_in_another_zone_than_the_projects_fails_the_pull_in_one_line(
    tmp_path: Path, apis: FakeApis, book: Portfolio
) -> None:
    """The windows were the project's wall-clock times: an answer in another zone covers
    something else, so nothing is written."""
    real = apis.posthog._project
    apis.posthog._project = lambda: {**real(), "timezone": "Europe/Paris"}  # type: ignore[method-assign]
    db = book_cache(tmp_path, book)
    with pytest.raises(TimezoneChanged, match="America/New_York, the project's is Europe/Paris"):
        pull(db, apis)
    assert db.execute("SELECT COUNT(*) FROM usage_weekly").fetchone()[0] == 0
    db.conn.close()


def test_last_seen_in_a_page_is_read_with_the_pages_offsets() -> None:
    from csm_tui.sync.pull_analytics import Groups

    groups = Groups({"a.example": "1"}, "domain")
    page = [["a.example", "u1", "U1@A.example", "2026-07-01T09:00:00-04:00", 3]]
    assert users_rows(page, groups, NY) == [
        ("1", "u1", "u1@a.example", "2026-07-01T13:00:00.000000+00:00", 3)
    ]


# -- result cache ----------------------------------------------------------------------------


def test_identical_text_is_answered_from_posthogs_cache_for_5_minutes_unless_forced(
    apis: FakeApis, clock: Clock
) -> None:
    text = usage_query(50_000)
    first = post(apis, text).json()
    apis.posthog.set_data(
        [(a, w, e, n + 100, u) for a, w, e, n, u in apis.posthog.usage], apis.posthog.users
    )
    stale = post(apis, text).json()
    fresh = post(apis, text, refresh="force_blocking").json()
    clock.advance(minutes=5)
    later = post(apis, text).json()
    assert not first["is_cached"] and stale["is_cached"], "same text within 5 minutes"
    assert stale["results"] == first["results"], "the cached answer, not today's numbers"
    assert not fresh["is_cached"] and fresh["results"] != first["results"]
    assert not later["is_cached"] and later["results"] == fresh["results"]


def test_every_sync_query_asks_for_a_fresh_answer(
    tmp_path: Path, apis: FakeApis, clock: Clock, book: Portfolio
) -> None:
    """Two syncs a minute apart send the same text; the second must see the late events."""
    db = book_cache(tmp_path, book)
    pull(db, apis)
    last_week = max(r[1] for r in apis.posthog.usage)
    apis.posthog.set_data(
        [(a, w, e, n + 7 if w == last_week else n, u) for a, w, e, n, u in apis.posthog.usage],
        apis.posthog.users,
    )
    clock.advance(minutes=1)
    pull(db, apis)
    assert {entry.refresh for entry in apis.posthog.log} == {"force_blocking"}
    assert not any(entry.is_cached for entry in apis.posthog.log)
    stored = dict(
        db.execute(
            "SELECT a.domain || '|' || u.event, u.count FROM usage_weekly u "
            "JOIN accounts a ON a.id = u.account_id WHERE u.week = ?",
            [last_week],
        ).fetchall()
    )
    expected = {f"{a}|{e}": n for a, w, e, n, _ in apis.posthog.usage if w == last_week}
    assert stored == {k: v for k, v in expected.items() if k in stored} and stored
    db.conn.close()


# -- rate limits and concurrency -----------------------------------------------------------


def test_240_queries_a_minute_and_2400_an_hour_then_429_with_retry_after() -> None:
    """DRF's throttles, as PostHog runs them: each counts what it let through, even a request
    another throttle refused, so the refused 241st still counts against the hour."""
    tick = [0.0]
    fake = FakePostHog(None, ticker=lambda: tick[0])
    cheap = "SELECT 1 FROM events"  # refused after the throttles counted it, as in PostHog
    assert {post(fake, cheap).status_code for _ in range(240)} == {400}
    throttled = post(fake, cheap)
    assert throttled.status_code == 429
    assert throttled.json()["type"] == "throttled_error" and throttled.json()["code"] == "throttled"
    wait = int(throttled.headers["Retry-After"])
    assert (
        throttled.json()["detail"]
        == f"Request was throttled. Expected available in {wait} seconds."
    )
    for _ in range(8):  # eight more minutes of 240: 2,161 in the hour
        tick[0] += 61
        assert {post(fake, cheap).status_code for _ in range(240)} == {400}
    tick[0] += 61
    tenth = [post(fake, cheap).status_code for _ in range(240)]
    assert tenth == [400] * 239 + [429], "the minute has room, the hour is full at 2,400"
    hourly = post(fake, cheap)
    assert int(hourly.headers["Retry-After"]) > 60


def test_a_fourth_query_at_once_is_refused_without_retry_after(book: Portfolio) -> None:
    fake = FakePostHog(book, query_seconds=0.5, clock=lambda: SUNDAY_NIGHT)
    text = usage_query(10)
    answers: list[httpx.Response] = []

    def ask() -> None:
        answers.append(post(fake, text))

    workers = [threading.Thread(target=ask) for _ in range(3)]
    for worker in workers:
        worker.start()
    while fake.running < 3:
        threading.Event().wait(0.01)
    fourth = post(fake, text)
    for worker in workers:
        worker.join()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert fourth.status_code == 429 and "Retry-After" not in fourth.headers
    assert fourth.json()["detail"].startswith("Too many queries are running right now")


def test_the_clients_pace_keeps_a_long_pull_clear_of_429s(
    tmp_path: Path, apis: FakeApis, book: Portfolio
) -> None:
    """Pages of 6 rows: some 400 queries, past 240 in a minute; the client waits its turn (on
    the simulated clock) instead of being throttled."""
    apis.posthog.parser = "fallback"  # the same AST, faster: this test is about the pace
    db = book_cache(tmp_path, book)
    settings = load_settings(analytics={"token": "demo-posthog-token", "project_id": "1"})
    job = AnalyticsPull(
        db, source(apis, page_size=6), settings=settings, full=True, report=SyncReport(),
        progress=lambda _: None, started="2026-11-23T03:00:00+00:00",
    )  # fmt: skip
    asyncio.run(_run_and_close(job))
    assert job.requests == len(apis.posthog.requests) > 240
    assert {entry.status for entry in apis.posthog.log} == {200}
    assert apis.pacing_clock is not None and apis.pacing_clock.waited >= 55
    db.conn.close()


# -- errors, access, parser ------------------------------------------------------------------------


def test_errors_come_only_in_posthogs_shape(book: Portfolio) -> None:
    fake = FakePostHog(book, scopes=("query:read",), clock=lambda: SUNDAY_NIGHT)
    base = "https://us.posthog.com/api/projects"
    answers = [
        fake.handler(httpx.Request("GET", f"{base}/1/", headers={"Authorization": "Bearer no"})),
        fake.handler(httpx.Request("GET", f"{base}/1/", headers=PH)),  # scope project:read
        fake.handler(httpx.Request("POST", f"{base}/2/query/", headers=PH, json={})),
        fake.handler(httpx.Request("GET", f"{base}/1/query/", headers=PH)),
        fake.handler(httpx.Request("GET", f"{base}/1/insights/", headers=PH)),
        post(fake, "SELECT FROM WHERE"),
        post(fake, "SELECT nope FROM events"),
    ]
    assert [a.status_code for a in answers] == [401, 403, 403, 405, 404, 400, 400]
    for answer in answers:
        assert set(answer.json()) == {"type", "code", "detail", "attr"}
        assert not [h for h in answer.headers if h.lower().startswith("x-hubspot")]
    assert answers[1].json()["detail"] == "API key missing required scope 'project:read'"
    assert answers[5].json()["code"] == "hogql_syntax_error"
    assert answers[6].json()["detail"] == "Unable to resolve field: nope"


def test_a_token_without_project_read_cannot_read_the_projects_time_zone(book: Portfolio) -> None:
    fake = FakePostHog(book, scopes=("query:read",), clock=lambda: SUNDAY_NIGHT)
    transport = httpx.MockTransport(fake.handler)
    endpoint = Endpoint("https://us.posthog.com", "demo-posthog-token", "the token", 30)
    ph = PostHog(posthog_client(endpoint, FAST, transport), "1")
    with pytest.raises(Forbidden, match="API key missing required scope 'project:read'"):
        asyncio.run(ph.project())


def test_the_fake_reads_every_query_with_posthogs_own_parser(apis: FakeApis) -> None:
    assert posthog_parser() is not None, "hogql-parser is installed with the test extra"
    post(apis, usage_query(10))
    post(apis, user_activity_query(0, date(2026, 10, 1), date(2026, 11, 22), 10))
    assert apis.posthog.parsers_used == {HOGQL_PARSER}


def test_types_are_name_type_pairs_and_last_seen_is_in_the_projects_zone(apis: FakeApis) -> None:
    body = post(apis, user_activity_query(0, date(2026, 10, 1), date(2026, 11, 22), 5)).json()
    assert body["types"] == [
        ["account", "String"],
        ["user", "UUID"],
        ["email", "String"],
        ["last_seen", "DateTime64(6, 'America/New_York')"],
        ["events_30d", "UInt64"],
    ]
    assert all(row[3][-6:] in ("-04:00", "-05:00") for row in body["results"])


def test_a_group_type_without_events_has_no_rows(apis: FakeApis) -> None:
    assert post(apis, usage_query(10, group=3)).json()["results"] == []


def test_other_spellings_of_the_keyset_page_the_same_and_uuids_sort_as_clickhouse_does(
    apis: FakeApis, book: Portfolio
) -> None:
    account, week, event = book.usage_weekly[40][:3]
    expanded = post(
        apis, usage_query(30, weeks=26, after=(account, date.fromisoformat(week), event))
    )
    as_tuple = usage_query(30, weeks=26).replace(
        "!= ''", f"!= '' AND ($group_0, toStartOfWeek(timestamp, 1), event) > "
        f"('{account}', toDate('{week}'), '{event}')",
    )  # fmt: skip
    assert post(apis, as_tuple).json()["results"] == expanded.json()["results"]
    assert [tuple(r) for r in expanded.json()["results"]] == book.usage_weekly[41:71]
    # Ordered by the raw UUID, ClickHouse sorts by its second half: not the text's order.
    first, second = "00000000-0000-0000-ffff-000000000000", "ffffffff-0000-0000-0000-000000000001"
    seen = "2026-11-20T10:00:00.000000Z"
    apis.posthog.set_data([], [("a.example", u, "", seen, 1) for u in (first, second)])
    by_text = user_activity_query(0, date(2026, 11, 1), date(2026, 11, 22), 10)
    by_uuid = by_text.replace("toString(person_id) LIMIT", "user LIMIT")
    assert [r[1] for r in post(apis, by_text).json()["results"]] == [first, second]
    assert [r[1] for r in post(apis, by_uuid).json()["results"]] == [second, first]


@pytest.mark.parametrize("status", [402, 503, 504, 512, 513])
def test_posthogs_server_errors_can_be_injected_in_its_shape(apis: FakeApis, status: int) -> None:
    apis.posthog.fail_with(status)
    answer = post(apis, usage_query(1))
    assert answer.status_code == status
    assert set(answer.json()) == {"type", "code", "detail", "attr"}
    assert post(apis, usage_query(1)).status_code == 200, "once"


def test_a_query_past_the_10_second_budget_is_a_504(apis: FakeApis) -> None:
    apis.posthog.execution_seconds = 11
    answer = post(apis, usage_query(1))
    assert answer.status_code == 504
    assert answer.json()["detail"].startswith("Query has hit the max execution time")
