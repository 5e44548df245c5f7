"""A fake of PostHog's private API, at least as strict as the real one where csm-tui uses it.

Served: ``POST /api/projects/{id}/query/`` (HogQL), ``GET /api/projects/{id}/`` and
``GET /api/projects/{id}/groups_types/``. Every query is parsed with PostHog's own parser
(``hogql-parser``, when installed: always in tests) and answered from pre-aggregated rows
(csm_tui/fakes/posthog_query.py). The rules, with their sources: csm_tui/fakes/CONTRACT.md,
"PostHog". In short: OFFSET refused; an explicit LIMIT capped at 50,000 with ``hasMore``,
``limit`` and ``offset`` null; times in a non-UTC project time zone; a 5-minute result cache
unless ``refresh`` forces; 240 queries a minute, 2,400 an hour and 3 at once; errors only as
``{type, code, detail, attr}``.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from csm_tui.fakes.faults import Faults, run_with_faults
from csm_tui.fakes.portfolio import Portfolio, UsageRow, UserRow
from csm_tui.fakes.posthog_hogql import HogQLInternalError, HogQLSyntaxError, parse_select
from csm_tui.fakes.posthog_query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    OFFSET_NOT_ALLOWED,
    Plan,
    Planner,
    Refused,
    uuid_order,
)

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "OFFSET_NOT_ALLOWED", "FakePostHog", "QueryError"]

DEFAULT_TIMEZONE = "America/New_York"  # not UTC, so every test meets a project time zone
CACHE_SECONDS = 300.0  # HogQL results stay fresh 5 minutes under "blocking" (query_runner.py)
MAX_EXECUTION_SECONDS = 10.0  # max_execution_time of API-key queries (hogql_query_runner.py)
SCOPES = ("query:read", "project:read", "group:read")
# posthog/api/query.py, CONCURRENCY_LIMIT_USER_MESSAGE
CONCURRENCY_MESSAGE = "Too many queries are running right now — please try again in a moment."
# posthog/exceptions.py: the details of the errors a test can inject (``fail_with``).
SERVER_ERRORS = {
    402: ("api_queries_quota_exceeded", "Your organization reached its billing limit for this "
          "resource. Increase the limits in Billing settings, or ask an org admin to do so."),
    500: ("error", "ClickHouse error while executing query."),
    503: ("error", "Queries are a little too busy right now. We're working to free up resources. "
          "Please try again later."),
    504: ("error", "Query has hit the max execution time before completing. See our docs for how "
          "to improve your query performance. You may need to materialize."),
    512: ("error", "Estimated query execution time is too long. Try reducing its scope by "
          "changing the time range."),
    513: ("error", "Query has reached the max memory limit before completing. See our docs for "
          "how to improve your query memory footprint. You may need to narrow date range or "
          "materialize."),
}  # fmt: skip
REFRESH_MODES = ("blocking", "force_blocking")  # what the fake computes synchronously
OTHER_REFRESH_MODES = ("async", "force_async", "force_cache", "lazy_async",
                       "async_except_on_cache_miss")  # fmt: skip
_PROJECT_PATH = re.compile(r"/api/projects/([^/]+)/(query/?|groups_types/?)?")


class QueryError(Exception):
    """Becomes a PostHog error response: ``{type, code, detail, attr}``."""

    def __init__(
        self, status: int, kind: str, code: str, detail: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"type": kind, "code": code, "detail": detail, "attr": None}
        self.retry_after = retry_after


class _Throttle:
    """One of Django REST framework's rate throttles: a rolling history of allowed requests
    (rest_framework/throttling.py SimpleRateThrottle, as PostHog's throttles are)."""

    def __init__(self, requests: int | None, seconds: float) -> None:
        self.requests = requests
        self.seconds = seconds
        self.history: deque[float] = deque()

    def allow(self, now: float) -> float | None:
        """None when allowed (and counted), else DRF's estimate of the wait in seconds."""
        if self.requests is None:
            return None
        while self.history and self.history[0] <= now - self.seconds:
            self.history.popleft()
        if len(self.history) >= self.requests:
            remaining = self.seconds - (now - self.history[-1]) if self.history else self.seconds
            available = self.requests - len(self.history) + 1
            return remaining / available if available > 0 else remaining
        self.history.append(now)
        return None


@dataclass
class _Window:
    """Rows of one window of the data, in one key order: indexes into the data, and each
    index's key (computed only where a keyset's bisection looks)."""

    indexes: Sequence[int]
    key: Callable[[int], tuple[Any, ...]]


@dataclass
class _Cached:
    body: dict[str, Any]
    at: datetime


@dataclass
class QueryLog:
    """What one query request asked (tests read ``FakePostHog.log``)."""

    text: str
    refresh: Any
    name: Any
    status: int = 200
    is_cached: bool = False
    rows: int = 0


class FakePostHog:
    """PostHog's query, project and group-types endpoints over a ``Portfolio``'s aggregates."""

    def __init__(
        self,
        portfolio: Portfolio | None = None,
        *,
        token: str = "demo-posthog-token",
        project_id: str = "1",
        clock: Callable[[], datetime] | None = None,
        group_index: int = 0,
        timezone: str = DEFAULT_TIMEZONE,
        scopes: Collection[str] = SCOPES,
        max_concurrent: int | None = 3,
        per_minute: int | None = 240,
        per_hour: int | str | None = "follow",
        query_seconds: float = 0.0,
        execution_seconds: float = 0.0,
        parser: str | None = None,
        faults: Faults | None = None,
        ticker: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.project_id = str(project_id)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.group_index = group_index
        self.timezone = timezone
        self.scopes = set(scopes)
        self.max_concurrent = max_concurrent
        # 240/min and 2,400/hour per team (posthog/rate_limit.py APIQueriesBurstThrottle,
        # APIQueriesSustainedThrottle); a caller that turns the minute off turns both off.
        if per_hour == "follow":
            per_hour = None if per_minute is None else 2_400
        self.per_minute = per_minute
        self.per_hour: int | None = per_hour  # type: ignore[assignment]
        self.query_seconds = query_seconds  # real seconds a query takes (concurrency tests)
        self.execution_seconds = execution_seconds  # simulated ClickHouse time (504 past 10 s)
        self.parser = parser  # "hogql-parser", "fallback" or None (PostHog's when installed)
        self.faults = faults if faults is not None else Faults()
        self.requests: list[httpx.Request] = []
        self.queries: list[str] = []
        self.log: list[QueryLog] = []
        self.parsers_used: set[str] = set()
        self.usage: list[UsageRow] = []
        self.users: list[UserRow] = []
        self._ticker = ticker
        self._lock = threading.Lock()
        self._running = 0
        self._throttles: dict[str, tuple[_Throttle, ...]] = {}
        self._cache: dict[tuple[str, str, str], _Cached] = {}
        self._windows: dict[tuple[Any, ...], _Window] = {}
        self._seen: list[datetime] = []  # users' last seen, aligned with users
        self._shown: list[tuple[Any, ...]] | None = None  # users rows as PostHog shows them
        self._encode = False
        self._encoded: dict[str, list[str]] = {}
        self.set_data(
            list(portfolio.usage_weekly) if portfolio else [],
            list(portfolio.user_activity) if portfolio else [],
        )

    # -- data ----------------------------------------------------------------------------------

    @property
    def running(self) -> int:
        """Queries being answered right now."""
        with self._lock:
            return self._running

    @property
    def zone(self) -> ZoneInfo:
        """The project's time zone."""
        return ZoneInfo(self.timezone)

    def set_data(self, usage: list[UsageRow], users: list[UserRow]) -> None:
        """Replace the aggregates (rows keep their values; PostHog's cache keeps its answers)."""
        with self._lock:
            self.usage = sorted(usage, key=lambda r: (r[0], r[1], r[2]))
            self.users = sorted(users, key=lambda r: (r[0], r[1]))
            self._seen = [_instant(r[3]) for r in self.users]
            self._forget()

    def _forget(self) -> None:
        self._windows.clear()
        self._shown = None
        self._encoded.clear()
        if self._encode:
            self._encode_rows()

    def encode_ahead(self) -> None:
        """Encode every row's JSON once, now (the benchmarks' server does, before answering):
        PostHog encodes on its own machines, this fake on the client's cores."""
        with self._lock:
            self._encode = True
            self._encode_rows()

    def _encode_rows(self) -> None:
        self._encoded = {
            "usage": [_compact(row) for row in self.usage],
            "users": [_compact(row) for row in self._users_shown()],
        }

    def _users_shown(self) -> list[tuple[Any, ...]]:
        """Users rows with last seen in the project's zone, as PostHog's JSON has it."""
        if self._shown is None:
            zone = self.zone
            self._shown = [
                (a, u, e, _shown_instant(seen, zone), n)
                for (a, u, e, _, n), seen in zip(self.users, self._seen, strict=True)
            ]
        return self._shown

    def fail_with(self, status: int, *, times: int = 1) -> None:
        """Answer the next ``times`` queries with one of PostHog's server-side errors (402
        quota, 500, 503 at capacity, 504 timeout, 512 estimated too long, 513 memory)."""
        code, detail = SERVER_ERRORS[status]
        kind = "validation_error" if status < 500 and status != 402 else "server_error"
        self.faults.add(
            path=r"^/api/projects/[^/]+/query/?$",
            method="POST",
            status=status,
            times=times,
            body={"type": kind, "code": code, "detail": detail, "attr": None},
        )

    # -- HTTP ----------------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (usable as ``httpx.MockTransport(fake.handler)``)."""
        self.requests.append(request)
        return run_with_faults(self.faults, request, self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._route(request)
        except QueryError as exc:
            headers = self._date()
            if exc.retry_after is not None:
                headers["Retry-After"] = str(exc.retry_after)
            return _json_response(request, exc.status, exc.body, headers)

    def _date(self) -> dict[str, str]:
        """The Date header every answer carries (the fake's clock)."""
        return {"Date": format_datetime(self.clock().astimezone(UTC), usegmt=True)}

    def _route(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            raise QueryError(
                401, "authentication_error", "authentication_failed", "Invalid personal API key."
            )
        found = _PROJECT_PATH.fullmatch(request.url.path)
        if found is None:
            raise QueryError(404, "invalid_request", "not_found", "Not found.")
        endpoint = (found.group(2) or "").rstrip("/") or "project"
        method = request.method.upper()
        wanted = "POST" if endpoint == "query" else "GET"
        if method != wanted:
            raise QueryError(
                405, "invalid_request", "method_not_allowed", f'Method "{method}" not allowed.'
            )
        if found.group(1) != self.project_id:
            raise QueryError(
                403,
                "authentication_error",
                "permission_denied",
                "You don't have access to the project.",
            )
        scope = {"query": "query:read", "project": "project:read"}.get(endpoint, "group:read")
        if scope not in self.scopes:
            raise QueryError(
                403,
                "authentication_error",
                "permission_denied",
                f"API key missing required scope '{scope}'",
            )
        self._throttle("query" if endpoint == "query" else "api")
        if endpoint == "project":
            return _json_response(request, 200, self._project(), self._date())
        if endpoint == "groups_types":
            return _json_response(request, 200, self._group_types(), self._date())
        return self._query(request)

    def _throttle(self, kind: str) -> None:
        """PostHog's throttles of personal-API-key requests: queries 240/min and 2,400/hour
        (posthog/rate_limit.py), other endpoints 480/min and 4,800/hour (PostHog docs)."""
        with self._lock:
            throttles = self._throttles.get(kind)
            if throttles is None:
                minute, hour = (self.per_minute, self.per_hour) if kind == "query" else (480, 4_800)
                if self.per_minute is None:  # rate limits turned off
                    minute = hour = None
                throttles = self._throttles[kind] = (
                    _Throttle(minute, 60.0),
                    _Throttle(hour, 3600.0),
                )
            now = self._ticker()
            waits = [w for t in throttles if (w := t.allow(now)) is not None]
        if waits:
            wait = math.ceil(max(waits))
            unit = "second" if wait == 1 else "seconds"
            raise QueryError(
                429,
                "throttled_error",
                "throttled",
                f"Request was throttled. Expected available in {wait} {unit}.",
                retry_after=wait,
            )

    def _project(self) -> dict[str, Any]:
        return {
            "id": int(self.project_id) if self.project_id.isdigit() else self.project_id,
            "name": "Demo product",
            "timezone": self.timezone,
            "week_start_day": 1,
            "is_demo": False,
        }

    def _group_types(self) -> list[dict[str, Any]]:
        return [
            {
                "group_type": "company",
                "group_type_index": self.group_index,
                "name_singular": "company",
                "name_plural": "companies",
                "detail_dashboard": None,
                "default_columns": None,
                "created_at": None,
            }
        ]

    # -- queries -------------------------------------------------------------------------------

    def _query(self, request: httpx.Request) -> httpx.Response:
        text, refresh, name = _read_body(request)
        entry = QueryLog(text, refresh, name)
        with self._lock:
            self.queries.append(text)
            self.log.append(entry)
        try:
            body = self._answer(text, refresh, entry)
        except QueryError as exc:
            entry.status = exc.status
            raise
        return _json_response(request, 200, body, self._date())

    def _answer(self, text: str, refresh: Any, entry: QueryLog) -> dict[str, Any] | str:
        with self._lock:
            if self.max_concurrent is not None and self._running >= self.max_concurrent:
                # No wait is known, so no Retry-After (posthog/api/query.py).
                raise QueryError(429, "throttled_error", "throttled", CONCURRENCY_MESSAGE)
            self._running += 1
        try:
            if self.query_seconds:
                time.sleep(self.query_seconds)  # lets concurrent queries overlap when served
            with self._lock:
                return self._compute(text, refresh, entry)
        finally:
            with self._lock:
                self._running -= 1

    def _compute(self, text: str, refresh: Any, entry: QueryLog) -> dict[str, Any] | str:
        try:
            ast, parser = parse_select(text, use=self.parser)
        except HogQLSyntaxError as exc:
            raise QueryError(400, "validation_error", "hogql_syntax_error", str(exc)) from None
        except HogQLInternalError as exc:
            raise QueryError(500, "server_error", "error", str(exc)) from None
        self.parsers_used.add(parser)
        now = self.clock()
        key = (self.project_id, self.timezone, text)
        cached = self._cache.get(key)
        if (
            refresh in (None, False, "blocking")
            and cached is not None
            and (now - cached.at).total_seconds() < CACHE_SECONDS
        ):
            entry.is_cached = True
            entry.rows = len(cached.body["results"])
            return {**cached.body, "is_cached": True}
        try:
            plan = Planner(ast, now, self.zone).plan()
        except Refused as exc:
            raise QueryError(400, "validation_error", exc.code, exc.detail) from None
        if self.execution_seconds >= MAX_EXECUTION_SECONDS:
            raise QueryError(504, "server_error", "error", SERVER_ERRORS[504][1])
        body = self._page(plan, text, now)
        entry.rows = len(body["results"])
        self._cache[key] = _Cached(body, now)
        if len(self._cache) > 256:
            self._cache.pop(next(iter(self._cache)))
        return body

    def _page(self, plan: Plan, text: str, now: datetime) -> dict[str, Any]:
        if plan.row is not None:  # a SELECT without FROM: one row
            shown = [
                _shown_instant(v, self.zone) if isinstance(v, datetime) else v.isoformat()
                for v in plan.row
            ]
            rows = [shown][: plan.limit if plan.limit is not None else DEFAULT_LIMIT]
            return self._body(plan, text, now, rows, None if plan.limit is not None else False)
        window = self._window(plan)
        start = 0
        if plan.after is not None:
            width = len(plan.after)
            find = bisect.bisect_left if plan.inclusive else bisect.bisect_right
            start = find(window.indexes, plan.after, key=lambda i: window.key(i)[:width])
        indexes = window.indexes
        source = self.usage if plan.kind == "usage" else self._users_shown()
        if plan.keep is not None:
            indexes = [i for i in indexes[start:] if plan.keep(source[i])]
            start = 0
        explicit = plan.limit is not None
        limit = min(plan.limit, MAX_LIMIT) if plan.limit is not None else DEFAULT_LIMIT
        chosen = indexes[start : start + limit]
        standard = plan.picks == list(range(5))
        if standard:
            results: list[Any] = [source[i] for i in chosen]
        else:
            results = [[source[i][p] for p in plan.picks] for i in chosen]
        more = None if explicit else len(indexes) - start > limit
        body = self._body(plan, text, now, results, more)
        encoded = self._encoded.get(plan.kind) if standard else None
        if encoded is not None:
            body["_encoded"] = [encoded[i] for i in chosen]
        return body

    def _body(
        self, plan: Plan, text: str, now: datetime, results: list[Any], more: bool | None
    ) -> dict[str, Any]:
        """An answer as PostHog shapes it. PostHog's paginator runs only without a LIMIT of the
        query's own (hogql_query_runner.py); with one, the executor leaves hasMore, limit and
        offset None (``more`` None)."""
        explicit = plan.limit is not None
        return {
            "columns": plan.columns,
            "types": plan.types,
            "results": results,
            "hasMore": more,
            "limit": None if explicit else DEFAULT_LIMIT,
            "offset": None if explicit else 0,
            "is_cached": False,
            "last_refresh": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "timezone": self.timezone,
            "hogql": text,
            "error": None,
            "query_status": None,
        }

    def _window(self, plan: Plan) -> _Window:
        """The rows in the plan's time window, in its key order (kept for the next pages)."""
        if plan.group != self.group_index:
            return _Window([], lambda i: ())  # no event of that group type: `!= ''` drops all
        zone = self.zone
        if plan.kind == "usage":
            first = _monday(plan.since.astimezone(zone).date()).isoformat() if plan.since else ""
            last = plan.until.astimezone(zone) if plan.until else None
            cache_key: tuple[Any, ...] = ("usage", first, last)
        else:
            floor = max(
                plan.since or datetime.min.replace(tzinfo=UTC),
                plan.active_since or datetime.min.replace(tzinfo=UTC),
            )
            cache_key = ("users", floor, plan.order)
        window = self._windows.get(cache_key)
        if window is not None:
            return window
        if plan.kind == "usage":
            indexes = [
                i
                for i, row in enumerate(self.usage)
                if row[1] >= first
                and (last is None or datetime.fromisoformat(row[1]).replace(tzinfo=zone) < last)
            ]
            usage = self.usage
            window = _Window(indexes, lambda i: usage[i])
        else:
            indexes = [i for i, seen in enumerate(self._seen) if seen >= floor]
            users = self.users
            if plan.order[1] == "uuid":  # ClickHouse's UUID order, not the text's

                def key(i: int) -> tuple[Any, ...]:
                    return (users[i][0], uuid_order(users[i][1]))

                indexes.sort(key=key)
                window = _Window(indexes, key)
            else:
                window = _Window(indexes, lambda i: users[i])
        if len(self._windows) > 16:
            self._windows.clear()
        self._windows[cache_key] = window
        return window


def _read_body(request: httpx.Request) -> tuple[str, Any, Any]:
    """The query text, ``refresh`` and ``name`` of a query request (400 when malformed)."""
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        raise QueryError(400, "validation_error", "parse_error", "JSON parse error") from None
    query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, dict) or query.get("kind") != "HogQLQuery":
        raise QueryError(
            400, "validation_error", "invalid_input", "This fake answers only HogQLQuery queries."
        )
    text = query.get("query")
    if not isinstance(text, str) or not text.strip():
        raise QueryError(400, "validation_error", "invalid_input", "query.query is required")
    refresh = body.get("refresh")
    if refresh not in (None, True, False, *REFRESH_MODES, *OTHER_REFRESH_MODES):
        raise QueryError(
            400, "validation_error", "invalid_input", f"Invalid refresh mode: {refresh!r}"
        )
    if refresh in OTHER_REFRESH_MODES:
        raise QueryError(
            400,
            "validation_error",
            "invalid_input",
            f"This fake answers only refresh blocking or force_blocking, not {refresh!r}.",
        )
    if refresh is True:  # the legacy spelling of force_blocking
        refresh = "force_blocking"
    return text, refresh, body.get("name")


def _monday(day: Any) -> Any:
    return day - timedelta(days=day.weekday())


def _instant(value: str) -> datetime:
    """An ISO instant (a naive one is UTC, as the generator writes them)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _shown_instant(moment: datetime, zone: ZoneInfo) -> str:
    """An instant as PostHog's JSON shows a DateTime64 column: ISO 8601 in the project's zone
    with its offset (orjson; ``Z`` for UTC, no fraction when it is zero)."""
    text = moment.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_response(
    request: httpx.Request, status: int, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    if isinstance(body, dict) and "_encoded" in body:
        # The same text json.dumps would give, the rows' part joined from their encoded JSON.
        rows = body["_encoded"]
        rest = {k: v for k, v in body.items() if k not in ("results", "_encoded")}
        text = _compact(rest)[:-1] + ',"results":[' + ",".join(rows) + "]}"
    else:
        text = _compact(body)
    return httpx.Response(
        status,
        headers={"Content-Type": "application/json", **(headers or {})},
        content=text.encode(),
        request=request,
    )
