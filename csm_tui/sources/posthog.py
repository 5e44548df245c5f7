"""PostHog's query API: the two HogQL aggregations csm-tui needs, paged by keyset.

The aggregation runs inside PostHog; the client never downloads raw events. What the real
service does, and how this client copes (csm_tui/fakes/CONTRACT.md, "PostHog"):

- OFFSET is refused on queries made with a personal API key (400). A page continues after the
  last row's key: ``WHERE (key) > (last) ORDER BY key LIMIT n``, the key being the GROUP BY
  columns. HogQL's support for tuple comparison is not documented, so the condition is written
  out: ``a > x OR (a = x AND b > y) OR ...``.
- With an explicit LIMIT, ``hasMore``, ``limit`` and ``offset`` are null: a full page means ask
  again. At most 50,000 rows come back per query, whatever the LIMIT says.
- ``timestamp``, ``now()``, ``toStartOfWeek`` and ``toStartOfDay`` are in the project's time
  zone. The windows are written as the project's wall-clock instants (``toDateTime('...')``,
  which PostHog reads in the project's zone), computed once per pull: every page, and the part
  of the cache a pull replaces, cover the same window even across a midnight.
- Answers may come from PostHog's query cache: every query asks ``refresh: force_blocking``.
- Errors say why in ``detail`` (sources/http.py puts it in the one-line error).
"""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from csm_tui.sources.http import (
    ApiClient,
    BadResponse,
    Endpoint,
    HttpPolicy,
    SourceError,
    pacing_clock_of,
)
from csm_tui.sources.pacing import Window, WindowLimiter

MAX_ROWS = 50_000  # PostHog's most rows per query with an explicit LIMIT (printer caps it)
PAGE_SIZE = MAX_ROWS
GROUP_INDEXES = range(5)  # $group_0 .. $group_4: at most five group types per project
REFRESH = "force_blocking"  # always computed now, never PostHog's cached answer

WEEKLY_COLUMNS = ("account", "week", "event", "events", "users")
USER_COLUMNS = ("account", "user", "email", "last_seen", "events_30d")
USAGE_NAME = "csm-tui weekly usage"  # PostHog logs a query's name in its query log
USERS_NAME = "csm-tui user activity"
CLOCK_QUERY = "SELECT now() AS now"  # PostHog's now, in the project's zone (query:read only)

# HogQL string literals: backslash escapes, as PostHog's own escaper writes them
# (posthog/hogql/escape_sql.py); anything else stands for itself.
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
}


def hogql_string(value: str) -> str:
    """``value`` as a HogQL string literal."""
    return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"


def hogql_day(day: date) -> str:
    """The project's midnight starting ``day``: a wall-clock ``toDateTime``, which PostHog
    reads in the project's time zone (its own escaper writes instants this way)."""
    return f"toDateTime('{day.isoformat()} 00:00:00')"


def hogql_date(day: date) -> str:
    """``day`` as a HogQL Date."""
    return f"toDate('{day.isoformat()}')"


def keyset_after(keys: Sequence[str], values: Sequence[str]) -> str:
    """The rows whose key (``keys``, compared in order) comes after ``values`` (literals).

    ``(a > x OR (a = x AND b > y) OR (a = x AND b = y AND c > z))``: the tuple comparison
    written out, flat (PostHog's parser takes twice as long per level of nesting).
    """
    if not keys or len(keys) != len(values):
        raise ValueError("a keyset needs one value per key")
    terms = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        equal = [f"{k} = {v}" for k, v in zip(keys[:i], values[:i], strict=True)]
        term = " AND ".join([*equal, f"{key} > {value}"])
        terms.append(f"({term})" if equal else term)
    return "(" + " OR ".join(terms) + ")"


def _group(group_index: int) -> str:
    if group_index not in GROUP_INDEXES:
        raise ValueError(f"group index must be 0-4, not {group_index}")
    return f"$group_{group_index}"


def _only(group: str, values: Sequence[str]) -> str:
    """`` AND (g = 'a' OR g = 'b')``: only those groups (written out: the fake PostHog reads
    comparisons, not IN lists); nothing for none."""
    if not values:
        return ""
    return " AND (" + " OR ".join(f"{group} = {hogql_string(v)}" for v in values) + ")"


def weekly_usage_query(
    group_index: int,
    since: date,
    limit: int,
    after: Sequence[Any] | None = None,
    *,
    until: date | None = None,
    groups: Sequence[str] = (),
) -> str:
    """Weekly usage per (account, week, event) from the project's midnight starting ``since``
    (a Monday); ``after``: the last key of the previous page. ``until`` (a Monday) and
    ``groups``: only the weeks before it, of only those groups (an account joining the book:
    its history before the weeks a later sync re-pulls)."""
    group = _group(group_index)
    where = f"timestamp >= {hogql_day(since)} AND {group} != ''"
    if until is not None:
        where += f" AND timestamp < {hogql_day(until)}"
    where += _only(group, groups)
    if after is not None:
        account, week, event = after
        keys = (group, "toStartOfWeek(timestamp, 1)", "event")
        literals = (hogql_string(account), hogql_date(week), hogql_string(event))
        where += f" AND {keyset_after(keys, literals)}"
    return (
        f"SELECT {group} AS account, toStartOfWeek(timestamp, 1) AS week, event, "
        "count() AS events, count(DISTINCT person_id) AS users FROM events "
        f"WHERE {where} GROUP BY account, week, event ORDER BY account, week, event "
        f"LIMIT {limit}"
    )


def user_activity_query(
    group_index: int,
    since: date,
    today: date,
    limit: int,
    after: Sequence[Any] | None = None,
    *,
    active_today: bool = False,
    groups: Sequence[str] = (),
) -> str:
    """Per (account, user): email, last seen, events in the 30 whole days before ``today``
    and today, for users with events since the project's midnight starting ``since``;
    ``active_today``: only users with an event since ``today``'s midnight; ``groups``: only
    those groups (accounts joining the book).

    events_30d counts from a midnight, so a user's number changes only with their own new
    events or at midnight: later syncs of the day ask only for users active that day. The
    users are ordered and paged by the text of their id: ClickHouse sorts UUIDs by their
    second half, and a text order is the same everywhere.
    """
    group = _group(group_index)
    where = f"timestamp >= {hogql_day(since)} AND {group} != ''" + _only(group, groups)
    if after is not None:
        account, user = after
        keys = (group, "toString(person_id)")
        where += f" AND {keyset_after(keys, (hogql_string(account), hogql_string(user)))}"
    having = f" HAVING max(timestamp) >= {hogql_day(today)}" if active_today else ""
    return (
        f"SELECT {group} AS account, person_id AS user, any(person.properties.email) AS email, "
        "max(timestamp) AS last_seen, "
        f"countIf(timestamp >= {hogql_day(today - timedelta(days=30))}) AS events_30d "
        f"FROM events WHERE {where} GROUP BY account, user{having} "
        f"ORDER BY account, toString(person_id) LIMIT {limit}"
    )


def posthog_client(
    endpoint: Endpoint, policy: HttpPolicy, transport: httpx.AsyncBaseTransport | None = None
) -> ApiClient:
    """The HTTP client of the analytics API (240 queries/min and 2,400/hour, 3 at once)."""
    clock = pacing_clock_of(transport)
    budget = WindowLimiter(
        [Window(policy.analytics_per_minute, 60.0), Window(policy.analytics_per_hour, 3600.0)],
        clock,
        name="analytics",
    )
    return ApiClient(
        service="Analytics",
        base_url=endpoint.base_url,
        token=endpoint.token,
        token_hint=endpoint.token_hint,
        timeout=endpoint.timeout,
        concurrency=policy.analytics_concurrency,
        limiters={"default": (budget,), "query": (budget,)},
        policy=policy,
        transport=transport,
        clock=clock,
    )


@dataclass(frozen=True)
class Project:
    """What a pull needs to know of the PostHog project."""

    id: str
    name: str
    timezone: str  # IANA name: the zone every query's times are in
    now: datetime | None  # the service's clock when it answered (UTC), when it said


class TimezoneChanged(SourceError):
    """PostHog answered in another time zone than the project's: the windows asked for were
    the project's wall-clock times, so the answer covers something else."""


@dataclass(frozen=True)
class Page:
    """One answer's rows (the expected columns first, in order) and its time zone."""

    rows: list[Sequence[Any]]
    timezone: str | None


class PostHog:
    """The analytics source."""

    def __init__(self, client: ApiClient, project_id: str, *, page_size: int = PAGE_SIZE) -> None:
        self.client = client
        self.project_id = project_id
        # A page larger than PostHog returns would look like the last page.
        self.page_size = max(1, min(int(page_size), MAX_ROWS))

    async def project(self) -> Project:
        """``GET /api/projects/{id}/``: the project's name and time zone (scope project:read)."""
        body = await self.client.request("GET", f"/api/projects/{self.project_id}/")
        if not isinstance(body, dict) or not isinstance(body.get("timezone"), str):
            raise BadResponse("PostHog project answer has no timezone")
        return Project(
            id=str(body.get("id", self.project_id)),
            name=str(body.get("name") or ""),
            timezone=body["timezone"],
            now=self.client.server_time,
        )

    async def clock(self) -> Project:
        """The project's time zone and PostHog's now, from a one-row query: for a key with
        only ``query:read`` (what PostHog's docs ask for), which may not read the project."""
        page = await self.query(CLOCK_QUERY, ("now",), name="csm-tui clock")
        if page.timezone is None or len(page.rows) != 1:
            raise BadResponse("PostHog clock answer has no time zone or no row")
        try:
            now = datetime.fromisoformat(str(page.rows[0][0]).replace("Z", "+00:00"))
        except ValueError:
            raise BadResponse(f"PostHog now() {page.rows[0][0]!r} is not an instant") from None
        if now.tzinfo is None:  # a wall-clock time of the project's zone
            now = now.replace(tzinfo=ZoneInfo(page.timezone))
        return Project(id=self.project_id, name="", timezone=page.timezone, now=now)

    async def group_types(self) -> list[dict[str, Any]]:
        """``GET /api/projects/{id}/groups_types/``: the project's group types and their
        indexes (scope group:read)."""
        body = await self.client.request("GET", f"/api/projects/{self.project_id}/groups_types/")
        found = body.get("results") if isinstance(body, dict) else body
        if not isinstance(found, list) or not all(isinstance(t, dict) for t in found):
            raise BadResponse("PostHog group types answer is not a list")
        return found

    async def query(self, hogql: str, columns: tuple[str, ...], *, name: str) -> Page:
        """Run one HogQL query, computed now (never from PostHog's cache)."""
        return await self.client.request(
            "POST",
            f"/api/projects/{self.project_id}/query/",
            json_body={
                "query": {"kind": "HogQLQuery", "query": hogql},
                "refresh": REFRESH,
                "name": name,
            },
            limiter="query",
            validate=lambda body: Page(_rows(body, columns), _timezone(body)),
        )

    async def _keyset_pages(
        self,
        build: Callable[[int, tuple[Any, ...] | None], str],
        key_of: Callable[[Sequence[Any]], tuple[Any, ...]],
        columns: tuple[str, ...],
        name: str,
    ) -> AsyncIterator[Page]:
        """Pages until one comes back short of the LIMIT asked (``hasMore`` is null with a
        LIMIT), each after the previous page's last key."""
        after: tuple[Any, ...] | None = None
        while True:
            page = await self.query(build(self.page_size, after), columns, name=name)
            if len(page.rows) > self.page_size:
                raise BadResponse(f"PostHog answered {len(page.rows)} rows to a LIMIT of "
                                  f"{self.page_size}")  # fmt: skip
            yield page
            if len(page.rows) < self.page_size:
                return
            last = key_of(page.rows[-1])
            if last == after:  # a page that did not move on would be asked for forever
                raise BadResponse(f"PostHog repeated the page after {last!r}")
            after = last

    def weekly_usage(
        self,
        group_index: int,
        since: date,
        *,
        until: date | None = None,
        groups: Sequence[str] = (),
    ) -> AsyncIterator[Page]:
        """Pages of rows (account, week, event, events, users) from ``since`` (a Monday);
        ``until`` and ``groups`` as in weekly_usage_query."""
        _group(group_index)

        def build(limit: int, after: tuple[Any, ...] | None) -> str:
            return weekly_usage_query(group_index, since, limit, after, until=until, groups=groups)

        return self._keyset_pages(build, _usage_key, WEEKLY_COLUMNS, USAGE_NAME)

    def user_activity(
        self,
        group_index: int,
        since: date,
        today: date,
        *,
        active_today: bool = False,
        groups: Sequence[str] = (),
    ) -> AsyncIterator[Page]:
        """Pages of rows (account, user, email, last_seen, events_30d); ``active_today``: only
        users with an event since the project's midnight starting ``today``; ``groups``: only
        those groups."""
        _group(group_index)

        def build(limit: int, after: tuple[Any, ...] | None) -> str:
            return user_activity_query(
                group_index, since, today, limit, after, active_today=active_today, groups=groups
            )

        return self._keyset_pages(build, _user_key, USER_COLUMNS, USERS_NAME)


def _usage_key(row: Sequence[Any]) -> tuple[str, date, str]:
    """A weekly-usage row's key, as the next page's query needs it."""
    try:
        return (str(row[0]), date.fromisoformat(str(row[1])[:10]), str(row[2]))
    except ValueError:
        raise BadResponse(f"PostHog week {row[1]!r} is not a date") from None


def _user_key(row: Sequence[Any]) -> tuple[str, str]:
    return (str(row[0]), str(row[1]))


def _timezone(body: dict[str, Any]) -> str | None:
    found = body.get("timezone")
    return found if isinstance(found, str) and found else None


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
