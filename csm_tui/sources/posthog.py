"""PostHog's query API: the two HogQL aggregations csm-tui needs, paged with LIMIT/OFFSET.

The aggregation runs inside PostHog; the client never downloads raw events. Pages are as large
as PostHog allows (50,000 rows with an explicit LIMIT), and the next page is asked for as soon
as one arrives, so PostHog computes it while this one is decoded and stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from csm_tui.sources.http import ApiClient, BadResponse, Endpoint, HttpPolicy

PAGE_SIZE = 50_000  # PostHog's most rows per query with an explicit LIMIT

WEEKLY_USAGE = (
    "SELECT $group_{g} AS account, toStartOfWeek(timestamp, 1) AS week, event, count() AS events, "
    "count(DISTINCT person_id) AS users FROM events WHERE timestamp >= toStartOfWeek(now(), 1) - "
    "INTERVAL {w} WEEK AND $group_{g} != '' GROUP BY account, week, event ORDER BY account, week, "
    "event LIMIT {limit} OFFSET {offset}"
)
# events_30d counts whole days (from midnight UTC 30 days ago), so a user's number changes only
# with their own new events or at midnight: later syncs of the day ask only for users active
# that day (ACTIVE_TODAY) and keep everyone else's row.
USER_ACTIVITY = (
    "SELECT $group_{g} AS account, person_id AS user, any(person.properties.email) AS email, "
    "max(timestamp) AS last_seen, countIf(timestamp >= toStartOfDay(now()) - INTERVAL 30 DAY) AS "
    "events_30d FROM events WHERE timestamp >= now() - INTERVAL {w} WEEK AND $group_{g} != '' "
    "GROUP BY account, user{having} ORDER BY account, user LIMIT {limit} OFFSET {offset}"
)
ACTIVE_TODAY = " HAVING max(timestamp) >= toStartOfDay(now())"
WEEKLY_COLUMNS = ("account", "week", "event", "events", "users")
USER_COLUMNS = ("account", "user", "email", "last_seen", "events_30d")


def weekly_usage_query(group_index: int, weeks: int, limit: int, offset: int) -> str:
    """The weekly usage HogQL, exactly as CONTRACTS.md writes it."""
    return WEEKLY_USAGE.format(g=group_index, w=weeks, limit=limit, offset=offset)


def user_activity_query(
    group_index: int, weeks: int, limit: int, offset: int, *, active_today: bool = False
) -> str:
    """The per-user activity HogQL, exactly as CONTRACTS.md writes it (``active_today``: only
    users with an event since midnight UTC)."""
    having = ACTIVE_TODAY if active_today else ""
    return USER_ACTIVITY.format(g=group_index, w=weeks, limit=limit, offset=offset, having=having)


def posthog_client(
    endpoint: Endpoint, policy: HttpPolicy, transport: httpx.AsyncBaseTransport | None = None
) -> ApiClient:
    """The HTTP client of the analytics API (240 requests/min, 3 queries at once)."""
    return ApiClient(
        service="Analytics",
        base_url=endpoint.base_url,
        token=endpoint.token,
        token_hint=endpoint.token_hint,
        timeout=endpoint.timeout,
        concurrency=policy.analytics_concurrency,
        limiters={
            "default": AsyncLimiter(policy.analytics_per_minute, 60.0),
            "query": AsyncLimiter(policy.analytics_per_minute, 60.0),
        },
        policy=policy,
        transport=transport,
    )


class PostHog:
    """The analytics source."""

    def __init__(self, client: ApiClient, project_id: str, *, page_size: int = PAGE_SIZE) -> None:
        self.client = client
        self.project_id = project_id
        self.page_size = page_size

    async def _pages(
        self,
        build: Callable[[int, int, int, int], str],
        group_index: int,
        weeks: int,
        columns: tuple[str, ...],
    ) -> AsyncIterator[list[Sequence[Any]]]:
        path = f"/api/projects/{self.project_id}/query/"

        def fetch(offset: int) -> Awaitable[tuple[list[Sequence[Any]], bool]]:
            query = build(group_index, weeks, self.page_size, offset)
            return self.client.request(
                "POST",
                path,
                json_body={"query": {"kind": "HogQLQuery", "query": query}},
                limiter="query",
                validate=lambda body: (_rows(body, columns), bool(body.get("hasMore"))),
            )

        offset = 0
        pending: asyncio.Future[tuple[list[Sequence[Any]], bool]] | None
        pending = asyncio.ensure_future(fetch(offset))
        try:
            while pending is not None:
                rows, more = await pending
                pending = None
                if more and rows:
                    # Two queries in flight at most (PostHog allows three at once).
                    pending = asyncio.ensure_future(fetch(offset + len(rows)))
                yield rows
                offset += len(rows)
        finally:
            if pending is not None:  # the caller stopped early: drop the page asked ahead
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    def weekly_usage(self, group_index: int, weeks: int) -> AsyncIterator[list[Sequence[Any]]]:
        """Pages of rows (account, week, event, events, users)."""
        return self._pages(weekly_usage_query, group_index, weeks, WEEKLY_COLUMNS)

    def user_activity(
        self, group_index: int, weeks: int, *, active_today: bool = False
    ) -> AsyncIterator[list[Sequence[Any]]]:
        """Pages of rows (account, user, email, last_seen, events_30d); ``active_today``: only
        users with an event since midnight UTC."""
        build = functools.partial(user_activity_query, active_today=active_today)
        return self._pages(build, group_index, weeks, USER_COLUMNS)


def _rows(body: Any, expected: tuple[str, ...]) -> list[Sequence[Any]]:
    """The page's rows with the ``expected`` columns first, in that order; a body of the wrong
    shape is refused whole.

    A page holds up to 50,000 rows, so rows stay the lists JSON gave (no dict per row), and the
    shape is checked with whole-page passes rather than a Python loop per row.
    """
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise BadResponse("analytics answer has no results list")
    columns = body.get("columns") or list(expected)
    if not isinstance(columns, list) or any(c not in columns for c in expected):
        raise BadResponse(f"analytics answer lacks columns {list(expected)}")
    results: list[Any] = body["results"]
    if results and (not set(map(type, results)) <= {list} or min(map(len, results)) < len(columns)):
        raise BadResponse("analytics answer has a malformed row")
    if columns == list(expected):
        return results
    pick = operator.itemgetter(*(columns.index(name) for name in expected))
    return list(map(pick, results))
