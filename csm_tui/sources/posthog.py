"""PostHog's query API: the two HogQL aggregations csm-tui needs, paged with LIMIT/OFFSET.

The aggregation runs inside PostHog; the client never downloads raw events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from csm_tui.sources.http import ApiClient, BadResponse

PAGE_SIZE = 10_000

WEEKLY_USAGE = (
    "SELECT $group_{g} AS account, toStartOfWeek(timestamp, 1) AS week, event, count() AS events, "
    "count(DISTINCT person_id) AS users FROM events WHERE timestamp >= toStartOfWeek(now(), 1) - "
    "INTERVAL {w} WEEK AND $group_{g} != '' GROUP BY account, week, event ORDER BY account, week, "
    "event LIMIT {limit} OFFSET {offset}"
)
USER_ACTIVITY = (
    "SELECT $group_{g} AS account, person_id AS user, any(person.properties.email) AS email, "
    "max(timestamp) AS last_seen, countIf(timestamp >= now() - INTERVAL 30 DAY) AS events_30d FROM "
    "events WHERE timestamp >= now() - INTERVAL {w} WEEK AND $group_{g} != '' GROUP BY account, user "
    "ORDER BY account, user LIMIT {limit} OFFSET {offset}"
)
WEEKLY_COLUMNS = ("account", "week", "event", "events", "users")
USER_COLUMNS = ("account", "user", "email", "last_seen", "events_30d")


def weekly_usage_query(group_index: int, weeks: int, limit: int, offset: int) -> str:
    """The weekly usage HogQL, exactly as CONTRACTS.md writes it."""
    return WEEKLY_USAGE.format(g=group_index, w=weeks, limit=limit, offset=offset)


def user_activity_query(group_index: int, weeks: int, limit: int, offset: int) -> str:
    """The per-user activity HogQL, exactly as CONTRACTS.md writes it."""
    return USER_ACTIVITY.format(g=group_index, w=weeks, limit=limit, offset=offset)


class PostHog:
    """The analytics source."""

    def __init__(self, client: ApiClient, project_id: str, *, page_size: int = PAGE_SIZE) -> None:
        self.client = client
        self.project_id = project_id
        self.page_size = page_size

    async def _pages(
        self, build: Any, group_index: int, weeks: int, columns: tuple[str, ...]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        offset = 0
        path = f"/api/projects/{self.project_id}/query/"
        while True:
            query = build(group_index, weeks, self.page_size, offset)
            rows, more = await self.client.request(
                "POST",
                path,
                json_body={"query": {"kind": "HogQLQuery", "query": query}},
                limiter="query",
                validate=lambda body: (_rows(body, columns), bool(body.get("hasMore"))),
            )
            yield rows
            if not more or not rows:
                return
            offset += len(rows)

    def weekly_usage(self, group_index: int, weeks: int) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of {account, week, event, events, users}."""
        return self._pages(weekly_usage_query, group_index, weeks, WEEKLY_COLUMNS)

    def user_activity(self, group_index: int, weeks: int) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of {account, user, email, last_seen, events_30d}."""
        return self._pages(user_activity_query, group_index, weeks, USER_COLUMNS)


def _rows(body: Any, expected: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows as dicts by column name; a body of the wrong shape is refused whole."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise BadResponse("analytics answer has no results list")
    columns = body.get("columns") or list(expected)
    if not isinstance(columns, list) or any(c not in columns for c in expected):
        raise BadResponse(f"analytics answer lacks columns {list(expected)}")
    index = {name: columns.index(name) for name in expected}
    rows: list[dict[str, Any]] = []
    for raw in body["results"]:
        if not isinstance(raw, list) or len(raw) < len(columns):
            raise BadResponse("analytics answer has a malformed row")
        rows.append({name: raw[i] for name, i in index.items()})
    return rows
