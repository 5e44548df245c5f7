"""A fake of PostHog's query API that understands the two HogQL queries csm-tui sends.

The queries are recognised with regexes (CONTRACTS.md gives their exact shapes); anything else is
answered with PostHog's 400 validation error, so a drifting query fails loudly in tests.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx

from csm_tui.fakes.faults import Faults, run_with_faults
from csm_tui.fakes.portfolio import Portfolio, UsageRow, UserRow

MAX_LIMIT = 50_000
DEFAULT_LIMIT = 100

USAGE_QUERY = re.compile(
    r"^\s*SELECT\s+\$group_(?P<g>\d)\s+AS\s+account\s*,"
    r"\s*toStartOfWeek\(\s*timestamp\s*,\s*1\s*\)\s+AS\s+week\s*,"
    r"\s*event\s*,\s*count\(\s*\)\s+AS\s+events\s*,"
    r"\s*count\(\s*DISTINCT\s+person_id\s*\)\s+AS\s+users"
    r"\s+FROM\s+events"
    r"\s+WHERE\s+timestamp\s*>=\s*(?P<base>toStartOfWeek\(\s*now\(\s*\)\s*,\s*1\s*\)|now\(\s*\))"
    r"\s*-\s*INTERVAL\s+(?P<weeks>\d+)\s+WEEK"
    r"\s+AND\s+\$group_(?P<g2>\d)\s*!=\s*''"
    r"\s+GROUP\s+BY\s+account\s*,\s*week\s*,\s*event"
    r"\s+ORDER\s+BY\s+account\s*,\s*week\s*,\s*event"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?(?:\s+OFFSET\s+(?P<offset>\d+))?\s*;?\s*$",
    re.IGNORECASE,
)
USERS_QUERY = re.compile(
    r"^\s*SELECT\s+\$group_(?P<g>\d)\s+AS\s+account\s*,"
    r"\s*person_id\s+AS\s+user\s*,"
    r"\s*any\(\s*person\.properties\.email\s*\)\s+AS\s+email\s*,"
    r"\s*max\(\s*timestamp\s*\)\s+AS\s+last_seen\s*,"
    r"\s*countIf\(\s*timestamp\s*>=\s*(?:toStartOfDay\(\s*now\(\s*\)\s*\)|now\(\s*\))"
    r"\s*-\s*INTERVAL\s+30\s+DAY\s*\)\s+AS\s+events_30d"
    r"\s+FROM\s+events"
    r"\s+WHERE\s+timestamp\s*>=\s*now\(\s*\)\s*-\s*INTERVAL\s+(?P<weeks>\d+)\s+WEEK"
    r"\s+AND\s+\$group_(?P<g2>\d)\s*!=\s*''"
    r"\s+GROUP\s+BY\s+account\s*,\s*user"
    r"(?P<today>\s+HAVING\s+max\(\s*timestamp\s*\)\s*>=\s*toStartOfDay\(\s*now\(\s*\)\s*\))?"
    r"\s+ORDER\s+BY\s+account\s*,\s*user"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?(?:\s+OFFSET\s+(?P<offset>\d+))?\s*;?\s*$",
    re.IGNORECASE,
)
USAGE_COLUMNS = ["account", "week", "event", "events", "users"]
USAGE_TYPES = [
    ["account", "String"],
    ["week", "Date"],
    ["event", "String"],
    ["events", "UInt64"],
    ["users", "UInt64"],
]
USERS_COLUMNS = ["account", "user", "email", "last_seen", "events_30d"]
USERS_TYPES = [
    ["account", "String"],
    ["user", "UUID"],
    ["email", "String"],
    ["last_seen", "DateTime64(6, 'UTC')"],
    ["events_30d", "UInt64"],
]


class QueryError(Exception):
    """Becomes a PostHog error response."""

    def __init__(self, status: int, kind: str, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"type": kind, "code": code, "detail": detail, "attr": None}


class FakePostHog:
    """``POST /api/projects/{id}/query/`` for csm-tui's weekly-usage and per-user queries."""

    def __init__(
        self,
        portfolio: Portfolio | None = None,
        *,
        token: str = "demo-posthog-token",
        project_id: str = "1",
        clock: Callable[[], datetime] | None = None,
        group_index: int = 0,
        max_concurrent: int | None = None,
        per_minute: int | None = None,
        query_seconds: float = 0.0,
        faults: Faults | None = None,
        ticker: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.project_id = str(project_id)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.group_index = group_index
        self.max_concurrent = max_concurrent
        self.per_minute = per_minute
        self.query_seconds = query_seconds
        self.faults = faults if faults is not None else Faults()
        self.requests: list[httpx.Request] = []
        self.queries: list[str] = []
        self.usage: list[UsageRow] = list(portfolio.usage_weekly) if portfolio else []
        self.users: list[UserRow] = list(portfolio.user_activity) if portfolio else []
        self._ticker = ticker
        self._lock = threading.Lock()
        self._running = 0
        self._recent: deque[float] = deque()
        self._window_cache: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        self._sorted_cutoffs: dict[str, list[str]] | None = None
        # Each row's JSON, when encoded ahead (encode_ahead): kind -> texts aligned with rows.
        self._encoded: dict[str, list[str]] | None = None
        self._encoded_windows: dict[int, list[str]] = {}  # id(window rows) -> their texts

    @property
    def running(self) -> int:
        """Queries being answered right now."""
        with self._lock:
            return self._running

    def set_data(self, usage: list[UsageRow], users: list[UserRow]) -> None:
        """Replace the aggregates (sorted as the queries order them)."""
        with self._lock:
            self.usage = sorted(usage, key=lambda r: (r[0], r[1], r[2]))
            self.users = sorted(users, key=lambda r: (r[0], r[1]))
            self._window_cache.clear()
            self._sorted_cutoffs = None
            self._encoded = None
            self._encoded_windows.clear()

    def encode_ahead(self) -> None:
        """Encode every row's JSON once, now (the benchmarks' server does, before answering).

        PostHog encodes its answers on its own machines; this fake shares the client's cores
        on a benchmark, where encoding ~1.7 million rows per full sync took ~1.5 s of them.
        Answers are the same bytes either way.
        """
        with self._lock:
            self._encoded = {
                "usage": [_compact(row) for row in self.usage],
                "users": [_compact(row) for row in self.users],
            }
            self._encoded_windows.clear()

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (usable as ``httpx.MockTransport(fake.handler)``)."""
        self.requests.append(request)
        return run_with_faults(self.faults, request, self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        try:
            self._authorise(request)
            body = self._parse(request)
            self._admit()
            try:
                if self.query_seconds:
                    time.sleep(self.query_seconds)  # lets concurrent queries overlap when served
                with self._lock:
                    result = self._answer(body)
            finally:
                with self._lock:
                    self._running -= 1
            return _json_response(request, 200, result, self._date())
        except QueryError as exc:
            headers = self._date()
            if exc.status == 429:
                headers["Retry-After"] = "1"
            return _json_response(request, exc.status, exc.body, headers)

    def _date(self) -> dict[str, str]:
        """The Date header every answer carries (the fake's clock)."""
        return {"Date": format_datetime(self.clock().astimezone(UTC), usegmt=True)}

    def _authorise(self, request: httpx.Request) -> None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            raise QueryError(
                401, "authentication_error", "authentication_failed", "Invalid personal API key."
            )
        m = re.fullmatch(r"/api/projects/([^/]+)/query/?", request.url.path)
        if m is None or request.method.upper() != "POST":
            raise QueryError(404, "invalid_request", "not_found", "Not found.")
        if m.group(1) != self.project_id:
            raise QueryError(
                403,
                "authentication_error",
                "permission_denied",
                "You don't have access to the project.",
            )

    @staticmethod
    def _parse(request: httpx.Request) -> str:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise QueryError(400, "validation_error", "parse_error", "JSON parse error") from None
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, dict) or query.get("kind") != "HogQLQuery":
            raise QueryError(
                400, "validation_error", "invalid_input", "query.kind must be HogQLQuery"
            )
        text = query.get("query")
        if not isinstance(text, str) or not text.strip():
            raise QueryError(400, "validation_error", "invalid_input", "query.query is required")
        return text

    def _admit(self) -> None:
        with self._lock:
            now = self._ticker()
            while self._recent and now - self._recent[0] >= 60.0:
                self._recent.popleft()
            if self.per_minute is not None and len(self._recent) >= self.per_minute:
                raise QueryError(
                    429,
                    "throttled_error",
                    "throttled",
                    "Request was throttled. Expected available in 60 seconds.",
                )
            if self.max_concurrent is not None and self._running >= self.max_concurrent:
                raise QueryError(
                    429,
                    "throttled_error",
                    "throttled",
                    f"Too many concurrent queries (at most {self.max_concurrent}); retry shortly.",
                )
            self._recent.append(now)
            self._running += 1

    def _answer(self, text: str) -> dict[str, Any]:
        self.queries.append(text)
        now = self.clock().astimezone(UTC)
        if m := USAGE_QUERY.match(text):
            self._same_group(m)
            weeks = int(m.group("weeks"))
            if m.group("base").lower().startswith("tostartofweek"):
                monday = now.date() - timedelta(days=now.weekday())
                first_week = (monday - timedelta(weeks=weeks)).isoformat()
            else:
                since = (now - timedelta(weeks=weeks)).date()
                # A week whose days reach past the cutoff has events inside the window.
                first_week = (since - timedelta(days=since.weekday())).isoformat()
            rows = self._window("usage", first_week, m)
            return _page(rows, m, USAGE_COLUMNS, USAGE_TYPES, self._encoded_windows.get(id(rows)))
        if m := USERS_QUERY.match(text):
            self._same_group(m)
            since = now - timedelta(weeks=int(m.group("weeks")))
            cutoff = since.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
            rows = self._window("users", cutoff, m)
            if m.group("today"):  # HAVING max(timestamp) >= toStartOfDay(now())
                midnight = now.strftime("%Y-%m-%dT00:00:00.000000Z")
                key = ("today", id(rows), midnight)
                today = self._window_cache.get(key)
                if today is None:
                    today = self._window_cache[key] = [r for r in rows if r[3] >= midnight]
                rows = today
            return _page(rows, m, USERS_COLUMNS, USERS_TYPES, self._encoded_windows.get(id(rows)))
        raise QueryError(
            400,
            "validation_error",
            "invalid_input",
            "Unsupported query for this fake: send one of csm-tui's two HogQL queries "
            f"(got: {text.strip()[:80]!r})",
        )

    @staticmethod
    def _same_group(m: re.Match[str]) -> None:
        if m.group("g") != m.group("g2"):
            raise QueryError(
                400, "validation_error", "invalid_input", "SELECT and WHERE name different groups"
            )

    def _window(self, kind: str, cutoff: str, m: re.Match[str]) -> list[tuple[Any, ...]]:
        if int(m.group("g")) != self.group_index:
            return []  # no events carry that group type: `$group_N != ''` filters them all out
        key = (kind, self._same_rows_as(kind, cutoff))
        rows = self._window_cache.get(key)
        if rows is None:
            if kind == "usage":
                rows = [r for r in self.usage if r[1] >= cutoff]
            else:
                rows = [r for r in self.users if r[3] >= cutoff]
            if len(self._window_cache) > 8:
                self._window_cache.clear()
                self._encoded_windows.clear()
            self._window_cache[key] = rows
            if self._encoded is not None:
                at = 1 if kind == "usage" else 3
                every = self.usage if kind == "usage" else self.users
                self._encoded_windows[id(rows)] = [
                    text
                    for row, text in zip(every, self._encoded[kind], strict=True)
                    if row[at] >= cutoff
                ]
        return rows

    def _same_rows_as(self, kind: str, cutoff: str) -> int:
        """How many rows fall before ``cutoff``: cutoffs with the same count select the same
        rows. (The per-user window starts at now() - N weeks, a new instant at every query;
        filtering 400,000 users again for each page made the fake the slow side.)"""
        if self._sorted_cutoffs is None:
            self._sorted_cutoffs = {
                "usage": sorted(r[1] for r in self.usage),
                "users": sorted(r[3] for r in self.users),
            }
        return bisect.bisect_left(self._sorted_cutoffs[kind], cutoff)


def _page(
    rows: list[tuple[Any, ...]],
    m: re.Match[str],
    columns: list[str],
    types: list[list[str]],
    encoded: list[str] | None = None,
) -> dict[str, Any] | str:
    """One page of an answer: a dict, or its JSON text when the rows' JSON is ``encoded``."""
    limit = min(int(m.group("limit") or DEFAULT_LIMIT), MAX_LIMIT)
    offset = int(m.group("offset") or 0)
    body: dict[str, Any] = {
        "columns": columns,
        "types": types,
        "results": rows[offset : offset + limit],
        "hasMore": offset + limit < len(rows),
        "limit": limit,
        "offset": offset,
        "is_cached": False,
    }
    if encoded is None:
        return body
    # The same text json.dumps would give, the rows' part joined from their encoded JSON.
    head = _compact({"columns": columns, "types": types})[:-1]
    tail = _compact({k: v for k, v in body.items() if k not in ("columns", "types", "results")})
    return f'{head},"results":[{",".join(encoded[offset : offset + limit])}],{tail[1:]}'


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))  # compact, as PostHog sends


def _json_response(
    request: httpx.Request, status: int, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    text = body if isinstance(body, str) else _compact(body)
    return httpx.Response(
        status,
        headers={"Content-Type": "application/json", **(headers or {})},
        content=text.encode(),
        request=request,
    )
