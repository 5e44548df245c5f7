"""A stateful fake of the HubSpot APIs csm-tui uses (DESIGN.md section 4), for tests and the demo.

It answers ``httpx.Request`` objects (``handler``), so it runs in-process behind
``httpx.MockTransport`` or on loopback through ``csm_tui.fakes.router.FakeApis.serve``.

Behaviour worth knowing (each mirrors HubSpot):
- list: ``limit`` at most 100 (more is a 400), 10 by default; with ``propertiesWithHistory`` the
  page is capped at 50; ``after`` is opaque (here: the next record's id); no ``paging`` on the
  last page; ``archived=true`` lists only archived records.
- requested properties that have no value come back as ``null``; the response always carries
  ``hs_object_id``, ``createdate`` (``hs_createdate`` for engagements) and the modified-date
  property (``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` otherwise).
- search: at most 200 per page, 5 filter groups, 6 filters per group, 18 in all; ``after`` past
  10,000 is a 400; ``total`` counts every match; archived records are never found; ties in the
  sort order break by id; datetime filters take epoch ms (or ISO), number filters compare as
  numbers; string EQ/NEQ/IN compare case-insensitively.
- datetime properties written through the API as epoch ms are stored as ISO instants.
"""

from __future__ import annotations

import bisect
import functools
import gc
import json
import re
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

from csm_tui.fakes.faults import Faults, run_with_faults
from csm_tui.fakes.portfolio import ID_BASES, OBJECT_TYPES, Portfolio, hs_datetime

SEARCH_PAGE_MAX = 200
SEARCH_RESULTS_MAX = 10_000
LIST_PAGE_MAX = 100
HISTORY_PAGE_MAX = 50
RATE_MAX_10S = 190
RATE_SECONDLY = 19
SEARCH_PER_SECOND = 5

ENGAGEMENTS = ("notes", "calls", "meetings", "emails", "tasks")
SINGULAR = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
    "tickets": "ticket",
    "feedback_submissions": "feedback_submission",
    "notes": "note",
    "calls": "call",
    "meetings": "meeting",
    "emails": "email",
    "tasks": "task",
}
TYPE_ALIASES: dict[str, str] = {
    **{t: t for t in OBJECT_TYPES},
    **{s: t for t, s in SINGULAR.items()},
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-5": "tickets",
    "0-19": "feedback_submissions",
    "0-46": "notes",
    "0-48": "calls",
    "0-47": "meetings",
    "0-49": "emails",
    "0-27": "tasks",
}

# HubSpot-defined association type ids, (from, to) -> id (the primary / default label).
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
    ("tickets", "contacts"): 16,
    ("contacts", "tickets"): 15,
    ("tickets", "companies"): 339,
    ("companies", "tickets"): 340,
    ("notes", "contacts"): 202,
    ("notes", "companies"): 190,
    ("contacts", "notes"): 201,
    ("companies", "notes"): 189,
    ("tasks", "contacts"): 204,
    ("tasks", "companies"): 192,
    ("contacts", "tasks"): 203,
    ("companies", "tasks"): 191,
    ("calls", "contacts"): 194,
    ("calls", "companies"): 182,
    ("contacts", "calls"): 193,
    ("companies", "calls"): 181,
    ("meetings", "contacts"): 200,
    ("meetings", "companies"): 188,
    ("contacts", "meetings"): 199,
    ("companies", "meetings"): 187,
    ("emails", "contacts"): 198,
    ("emails", "companies"): 186,
    ("contacts", "emails"): 197,
    ("companies", "emails"): 185,
    # Not checked against HubSpot's table: feedback submissions are read-only there.
    ("feedback_submissions", "contacts"): 97,
    ("contacts", "feedback_submissions"): 98,
    ("feedback_submissions", "companies"): 99,
    ("companies", "feedback_submissions"): 100,
}
# Unlabeled association type ids HubSpot also accepts on create.
EXTRA_TYPE_IDS: dict[tuple[str, int], str] = {
    ("contacts", 279): "companies",
    ("companies", 280): "contacts",
    ("deals", 341): "companies",
    ("companies", 342): "deals",
    ("tickets", 26): "companies",
    ("companies", 25): "tickets",
}
TYPE_ID_TARGET: dict[tuple[str, int], str] = {
    **{(f, i): t for (f, t), i in ASSOCIATION_TYPE_IDS.items()},
    **EXTRA_TYPE_IDS,
}

DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": ("name", "domain"),
    "contacts": ("firstname", "lastname", "email"),
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage"),
    "tickets": ("subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority"),
    "feedback_submissions": ("hs_survey_type", "hs_response_value", "hs_submission_timestamp"),
    "notes": (),
    "calls": (),
    "meetings": (),
    "emails": (),
    "tasks": (),
}

DATETIME_PROPS = frozenset(
    {
        "createdate",
        "hs_createdate",
        "hs_lastmodifieddate",
        "lastmodifieddate",
        "closedate",
        "closed_date",
        "hs_timestamp",
        "hs_submission_timestamp",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "notes_last_updated",
        "hs_last_sales_activity_timestamp",
    }
)
DATE_PROPS = frozenset({"contract_start_date", "renewal_date", "churn_date"})
NUMBER_PROPS = frozenset(
    {
        "hs_object_id",
        "arr",
        "seats",
        "amount",
        "csat_score",
        "hs_response_value",
        "hs_call_duration",
        "hubspot_owner_id",
    }
)
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
TOKEN_RE = re.compile(r"[0-9A-Za-z_]+")


def modified_property(obj_type: str) -> str:
    """The last-modified property HubSpot keeps on an object type."""
    return "lastmodifieddate" if obj_type == "contacts" else "hs_lastmodifieddate"


def created_property(obj_type: str) -> str:
    """The created-at property HubSpot returns for an object type."""
    return "hs_createdate" if obj_type in ENGAGEMENTS else "createdate"


class ApiError(Exception):
    """Raised inside the fake; becomes a HubSpot error response."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str = "VALIDATION_ERROR",
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = extra


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """HubSpot's error body."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        "errors": [],
    }
    body.update(extra)
    return body


def _to_ms(text: str) -> int | None:
    """Epoch ms from an epoch-ms string, an ISO instant or an ISO date (midnight UTC)."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        if len(text) == 10:
            return int(
                datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC).timestamp()
                * 1000
            )
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _kind(prop: str) -> str:
    if prop in DATETIME_PROPS or prop in DATE_PROPS:
        return "time"
    if prop in NUMBER_PROPS:
        return "number"
    return "string"


_SORT_CACHE: dict[tuple[str, str], Any] = {}


def _comparable(kind: str, text: str | None) -> Any:
    """A value that orders the way HubSpot orders the property (None when it cannot)."""
    if text is None or text == "":
        return None
    key = (kind, text)
    found = _SORT_CACHE.get(key, _SORT_CACHE)
    if found is not _SORT_CACHE:
        return found
    value: Any
    if kind == "time":
        value = _to_ms(text)
    elif kind == "number":
        try:
            value = float(text)
        except ValueError:
            value = None
    else:
        value = text.lower()
    # Big enough for every timestamp and id of a 10,000-account portal: a search scans every
    # record of its type, and parsing their dates again for each page made the fake, not the
    # sync, the slow side of an incremental sync.
    if len(_SORT_CACHE) > 2_000_000:
        _SORT_CACHE.clear()
    _SORT_CACHE[key] = value
    return value


def _normalise_value(prop: str, value: Any) -> str | None:
    """Property values are strings; datetimes written as epoch ms are stored as ISO instants."""
    if value is None:
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if prop in DATETIME_PROPS and re.fullmatch(r"-?\d+", text):
        text = hs_datetime(datetime.fromtimestamp(int(text) / 1000, UTC))
    return text


class FakeHubSpot:
    """HubSpot CRM v3/v4 and sequences v4, in memory, answering ``httpx.Request`` objects."""

    def __init__(
        self,
        portfolio: Portfolio | None = None,
        *,
        token: str = "demo-hubspot-token",
        clock: Callable[[], datetime] | None = None,
        rate_limit: bool = False,
        faults: Faults | None = None,
        ticker: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.rate_limit = rate_limit
        self.faults = faults if faults is not None else Faults()
        self.created: Counter[str] = Counter()
        self.requests: list[httpx.Request] = []
        # Like HubSpot's search index: records created less than this many seconds ago (by
        # the fake's clock) are not found by search yet. 0 finds them at once.
        self.search_lag = 0.0
        self._ticker = ticker
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in OBJECT_TYPES}
        self._order: dict[str, list[int]] = {t: [] for t in OBJECT_TYPES}
        self._links: dict[str, defaultdict[str, dict[str, list[str]]]] = {
            t: defaultdict(dict) for t in OBJECT_TYPES
        }
        self._history: dict[tuple[str, str], dict[str, list[dict[str, str]]]] = {}
        self._version: Counter[str] = Counter()
        self._search_cache: dict[tuple[Any, ...], list[str]] = {}
        self._index_cache: dict[str, tuple[int, list[int], list[int]]] = {}
        self._next_id: dict[str, int] = {t: ID_BASES[t] + 500_000_000 for t in OBJECT_TYPES}
        self._next_enrollment = ID_BASES["enrollments"] + 500_000_000
        self._calls: deque[float] = deque()
        self._searches: deque[float] = deque()
        self.owners: list[dict[str, Any]] = []
        self.sequences: list[dict[str, Any]] = []
        self.enrollments: dict[str, dict[str, Any]] = {}  # contact id -> current enrollment
        if portfolio is not None:
            self._load(portfolio)

    # -- loading and test helpers ----------------------------------------------------------

    def _load(self, p: Portfolio) -> None:
        # Hundreds of thousands of small dicts and no cycles: keep the cycle collector out of it.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._load_records(p)
        finally:
            if was_enabled:
                gc.enable()

    def _load_records(self, p: Portfolio) -> None:
        links = self._links
        for obj_type in OBJECT_TYPES:
            store = self._records[obj_type]
            order = self._order[obj_type]
            for rec in p.objects(obj_type):
                rid = rec["id"]
                store[rid] = {
                    "id": rid,
                    "properties": dict(rec["properties"]),
                    "createdAt": rec["createdAt"],
                    "updatedAt": rec["updatedAt"],
                    "archived": bool(rec.get("archived", False)),
                }
                order.append(int(rid))
                # The generator never repeats a link, so no duplicate checks here.
                mine = links[obj_type][rid]
                for to_type, ids in rec.get("associations", {}).items():
                    mine.setdefault(to_type, []).extend(ids)
                    back = links[to_type]
                    for to_id in ids:
                        back[to_id].setdefault(obj_type, []).append(rid)
            order.sort()
            if order:
                self._next_id[obj_type] = max(self._next_id[obj_type], order[-1] + 1)
            # Like HubSpot's search index: what searches compare is parsed once, up front.
            modified = modified_property(obj_type)
            for rec in store.values():
                _comparable("time", rec["properties"].get(modified))
                _comparable("number", rec["id"])
        for cid, history in p.arr_history.items():
            self._history[("companies", cid)] = {"arr": [dict(h) for h in history]}
        self.owners = [dict(o) for o in p.owners]
        self.sequences = [dict(s) for s in p.sequences]
        for e in p.enrollments:
            self.enrollments[e["contactId"]] = dict(e)

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        ids = self._links[from_type][from_id].setdefault(to_type, [])
        if to_id not in ids:
            ids.append(to_id)
        back = self._links[to_type][to_id].setdefault(from_type, [])
        if from_id not in back:
            back.append(from_id)

    def reassociate(
        self, obj_type: str, record_id: str, to_type: str, old_id: str, new_id: str
    ) -> None:
        """Move a record's association (a contact changing company); its modified date moves."""
        with self._lock:
            obj_type, to_type = TYPE_ALIASES[obj_type], TYPE_ALIASES[to_type]
            record_id, old_id, new_id = str(record_id), str(old_id), str(new_id)
            ids = self._links[obj_type][record_id].get(to_type, [])
            if old_id in ids:
                ids.remove(old_id)
            back = self._links[to_type][old_id].get(obj_type, [])
            if record_id in back:
                back.remove(record_id)
            self._link(obj_type, record_id, to_type, new_id)
            self._update(obj_type, self._get(obj_type, record_id), {}, "CRM_UI")

    def _now_iso(self) -> str:
        return hs_datetime(self.clock())

    def create(
        self,
        obj_type: str,
        properties: dict[str, Any],
        associations: dict[str, Iterable[str]] | None = None,
    ) -> str:
        """Add a record as if someone made it in HubSpot (not counted in ``created``); its id."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            return self._insert(obj_type, properties, associations or {})["id"]

    def _insert(
        self, obj_type: str, properties: dict[str, Any], associations: dict[str, Iterable[str]]
    ) -> dict[str, Any]:
        rid = str(self._next_id[obj_type])
        self._next_id[obj_type] += 1
        now = self._now_iso()
        props: dict[str, str] = {}
        for name, value in properties.items():
            text = _normalise_value(name, value)
            if text is not None:
                props[name] = text
        props.setdefault("createdate", now)
        if obj_type in ENGAGEMENTS:
            props.setdefault("hs_createdate", props["createdate"])
        props[modified_property(obj_type)] = now
        props["hs_object_id"] = rid
        if obj_type == "tasks":
            props.setdefault("hs_task_status", "NOT_STARTED")
        rec = {
            "id": rid,
            "properties": props,
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        self._records[obj_type][rid] = rec
        self._order[obj_type].append(int(rid))
        for to_type, ids in associations.items():
            for to_id in ids:
                self._link(obj_type, rid, TYPE_ALIASES[to_type], str(to_id))
        self._version[obj_type] += 1
        return rec

    def update(self, obj_type: str, record_id: str, properties: dict[str, Any]) -> None:
        """Change properties now (the modified date moves to the clock's instant)."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            self._update(obj_type, self._get(obj_type, record_id), properties, "CRM_UI")

    def _update(
        self, obj_type: str, rec: dict[str, Any], properties: dict[str, Any], source: str
    ) -> None:
        now = self._now_iso()
        props = rec["properties"]
        for name, value in properties.items():
            text = _normalise_value(name, value)
            old = props.get(name)
            if text == old:
                continue
            history = self._history_of(obj_type, rec, name)
            if text is None or text == "":
                props.pop(name, None)
            else:
                props[name] = text
            history.insert(0, {"value": text or "", "timestamp": now, "sourceType": source})
        props[modified_property(obj_type)] = now
        rec["updatedAt"] = now
        self._version[obj_type] += 1

    def archive(self, obj_type: str, record_id: str) -> None:
        """Archive (soft-delete) a record, as a user deleting it in HubSpot."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            self._archive(obj_type, self._get(obj_type, record_id))

    def _archive(self, obj_type: str, rec: dict[str, Any]) -> None:
        now = self._now_iso()
        rec["archived"] = True
        rec["archivedAt"] = now
        rec["updatedAt"] = now
        rec["properties"][modified_property(obj_type)] = now
        self._version[obj_type] += 1

    def touch_many(self, obj_type: str, ids: Iterable[str], at: datetime) -> None:
        """A bulk update: every record gets the very same modified instant ``at``."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            stamp = hs_datetime(at)
            prop = modified_property(obj_type)
            for rid in ids:
                rec = self._get(obj_type, str(rid))
                rec["properties"][prop] = stamp
                rec["updatedAt"] = stamp
            self._version[obj_type] += 1

    def add_owner(
        self, email: str, first_name: str = "", last_name: str = "", user_id: int | None = None
    ) -> dict[str, Any]:
        """Add a HubSpot user/owner; returns the owner object."""
        with self._lock:
            oid = str(ID_BASES["owners"] + 900_000 + len(self.owners))
            uid = user_id if user_id is not None else 9_000_000 + len(self.owners)
            now = self._now_iso()
            owner = {
                "id": oid,
                "email": email,
                "type": "PERSON",
                "firstName": first_name,
                "lastName": last_name,
                "userId": uid,
                "userIdIncludingInactive": uid,
                "createdAt": now,
                "updatedAt": now,
                "archived": False,
                "teams": [],
            }
            self.owners.append(owner)
            return owner

    def add_sequence(self, name: str, user_id: int | str, steps: int = 3) -> str:
        """Add a sequence owned by ``user_id``; returns its id."""
        with self._lock:
            sid = str(ID_BASES["sequences"] + 50_000 + len(self.sequences))
            now = self._now_iso()
            self.sequences.append(
                {
                    "id": sid,
                    "name": name,
                    "userId": str(user_id),
                    "createdAt": now,
                    "updatedAt": now,
                    "steps": steps,
                }
            )
            return sid

    def record(self, obj_type: str, record_id: str) -> dict[str, Any]:
        """The stored record (for assertions), archived or not."""
        return self._get(TYPE_ALIASES[obj_type], record_id)

    def records(self, obj_type: str) -> list[dict[str, Any]]:
        """Every stored record of a type, in id order (for assertions)."""
        store = self._records[TYPE_ALIASES[obj_type]]
        return [store[str(i)] for i in self._order[TYPE_ALIASES[obj_type]]]

    def associations_of(self, obj_type: str, record_id: str, to_type: str) -> list[str]:
        """Ids associated with a record (for assertions)."""
        links = self._links[TYPE_ALIASES[obj_type]].get(str(record_id), {})
        return list(links.get(TYPE_ALIASES[to_type], []))

    def _get(self, obj_type: str, record_id: str) -> dict[str, Any]:
        rec = self._records[obj_type].get(str(record_id))
        if rec is None:
            raise ApiError(
                404,
                f"Object not found. objectId are usually numeric. ({record_id})",
                "OBJECT_NOT_FOUND",
            )
        return rec

    def _history_of(self, obj_type: str, rec: dict[str, Any], prop: str) -> list[dict[str, str]]:
        per_record = self._history.setdefault((obj_type, rec["id"]), {})
        if prop not in per_record:
            value = rec["properties"].get(prop)
            per_record[prop] = (
                [{"value": value, "timestamp": rec["createdAt"], "sourceType": "CRM_UI"}]
                if value not in (None, "")
                else []
            )
        return per_record[prop]

    # -- HTTP ------------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (usable as ``httpx.MockTransport(fake.handler)``)."""
        self.requests.append(request)
        return run_with_faults(self.faults, request, self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            try:
                if request.headers.get("authorization") != f"Bearer {self.token}":
                    raise ApiError(
                        401,
                        "Authentication credentials not found. This API supports OAuth 2.0 "
                        "authentication and you can find more details at "
                        "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                        "INVALID_AUTHENTICATION",
                    )
                self._check_rate(request)
                status, body = self._route(request)
            except ApiError as exc:
                status, body = exc.status, error_body(exc.message, exc.category, **exc.extra)
            return self._respond(request, status, body)

    def _respond(self, request: httpx.Request, status: int, body: Any) -> httpx.Response:
        headers = self._rate_headers()
        headers["Date"] = format_datetime(self.clock().astimezone(UTC), usegmt=True)
        if body is None:
            return httpx.Response(status, headers=headers, request=request)
        headers["Content-Type"] = "application/json;charset=utf-8"
        # Compact, as HubSpot sends it (no spaces after separators).
        content = json.dumps(body, separators=(",", ":")).encode()
        return httpx.Response(status, headers=headers, content=content, request=request)

    def _prune(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= 10.0:
            self._calls.popleft()
        while self._searches and now - self._searches[0] >= 1.0:
            self._searches.popleft()

    def _check_rate(self, request: httpx.Request) -> None:
        now = self._ticker()
        self._prune(now)
        is_search = request.method == "POST" and request.url.path.endswith("/search")
        if self.rate_limit:
            if len(self._calls) >= RATE_MAX_10S:
                raise ApiError(
                    429,
                    "You have reached your ten_secondly_rolling limit.",
                    "RATE_LIMITS",
                    errorType="RATE_LIMIT",
                    policyName="TEN_SECONDLY_ROLLING",
                    groupName="private-app",
                )
            if is_search and len(self._searches) >= SEARCH_PER_SECOND:
                raise ApiError(
                    429,
                    "You have reached your secondly limit.",
                    "RATE_LIMITS",
                    errorType="RATE_LIMIT",
                    policyName="SECONDLY",
                    groupName="search",
                )
        self._calls.append(now)
        if is_search:
            self._searches.append(now)

    def _rate_headers(self) -> dict[str, str]:
        now = self._ticker()
        self._prune(now)
        last_second = sum(1 for t in self._calls if now - t < 1.0)
        return {
            "X-HubSpot-RateLimit-Max": str(RATE_MAX_10S),
            "X-HubSpot-RateLimit-Remaining": str(max(0, RATE_MAX_10S - len(self._calls))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Secondly": str(RATE_SECONDLY),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, RATE_SECONDLY - last_second)),
        }

    def _route(self, request: httpx.Request) -> tuple[int, Any]:
        path = request.url.path.rstrip("/")
        method = request.method.upper()
        query = {
            k: v for k, v in parse_qs(request.url.query.decode(), keep_blank_values=True).items()
        }
        if path == "/crm/v3/owners":
            return self._owners(query)
        if m := re.fullmatch(r"/crm/v3/owners/(\d+)", path):
            owner = next((o for o in self.owners if o["id"] == m.group(1)), None)
            if owner is None:
                raise ApiError(404, "Owner not found", "OBJECT_NOT_FOUND")
            return 200, owner
        if m := re.fullmatch(r"/crm/v3/objects/([\w-]+)/search", path):
            if method != "POST":
                raise ApiError(405, "Method not allowed", "VALIDATION_ERROR")
            return self._search(self._type(m.group(1)), self._json(request))
        if m := re.fullmatch(r"/crm/v3/objects/([\w-]+)", path):
            obj_type = self._type(m.group(1))
            if method == "GET":
                return self._list(obj_type, query)
            if method == "POST":
                return self._create(obj_type, self._json(request))
            raise ApiError(405, "Method not allowed", "VALIDATION_ERROR")
        if m := re.fullmatch(r"/crm/v3/objects/([\w-]+)/(\d+)", path):
            obj_type = self._type(m.group(1))
            rec = self._get(obj_type, m.group(2))
            if method == "GET":
                if rec["archived"] and _first(query, "archived") != "true":
                    raise ApiError(404, "Object not found", "OBJECT_NOT_FOUND")
                return 200, self._render(obj_type, rec, query)
            if rec["archived"]:
                raise ApiError(404, "Object not found", "OBJECT_NOT_FOUND")
            if method == "PATCH":
                body = self._json(request)
                self._update(obj_type, rec, dict(body.get("properties") or {}), "API")
                return 200, self._render(
                    obj_type, rec, {"properties": [",".join(rec["properties"])]}
                )
            if method == "DELETE":
                self._archive(obj_type, rec)
                return 204, None
            raise ApiError(405, "Method not allowed", "VALIDATION_ERROR")
        if m := re.fullmatch(r"/crm/v4/associations/([\w-]+)/([\w-]+)/batch/read", path):
            return self._assoc_batch(
                self._type(m.group(1)), self._type(m.group(2)), self._json(request)
            )
        if path == "/automation/v4/sequences/enrollments" and method == "POST":
            return self._enroll(query, self._json(request))
        if m := re.fullmatch(r"/automation/v4/sequences/enrollments/contact/(\d+)", path):
            enrollment = self.enrollments.get(m.group(1))
            if enrollment is None:
                raise ApiError(
                    404, f"No enrollment found for contact {m.group(1)}", "OBJECT_NOT_FOUND"
                )
            return 200, enrollment
        if path == "/automation/v4/sequences":
            return self._sequences(query)
        if m := re.fullmatch(r"/automation/v4/sequences/(\d+)", path):
            return self._sequence(m.group(1), query)
        raise ApiError(404, f"Unknown route {method} {request.url.path}", "OBJECT_NOT_FOUND")

    @staticmethod
    def _json(request: httpx.Request) -> dict[str, Any]:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise ApiError(400, "Invalid input JSON on line 1: the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input JSON: expected an object")
        return body

    @staticmethod
    def _type(name: str) -> str:
        obj_type = TYPE_ALIASES.get(name.lower())
        if obj_type is None:
            raise ApiError(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR")
        return obj_type

    # -- list, read, render ----------------------------------------------------------------

    def _render(
        self,
        obj_type: str,
        rec: dict[str, Any],
        query: dict[str, list[str]],
        *,
        with_extras: bool = True,
    ) -> dict[str, Any]:
        props = rec["properties"]
        wanted = _csv(query.get("properties"))
        if not wanted:
            wanted = list(DEFAULT_PROPERTIES[obj_type])
        always = (
            "hs_object_id",
            created_property(obj_type),
            modified_property(obj_type),
        )
        out_props: dict[str, str | None] = {}
        for name in (*wanted, *always):
            if name == "hs_createdate" and "hs_createdate" not in props:
                out_props[name] = props.get("createdate")
            else:
                out_props[name] = props.get(name)
        out: dict[str, Any] = {
            "id": rec["id"],
            "properties": out_props,
            "createdAt": rec["createdAt"],
            "updatedAt": rec["updatedAt"],
            "archived": rec["archived"],
        }
        if rec["archived"]:
            out["archivedAt"] = rec.get("archivedAt", rec["updatedAt"])
        if not with_extras:
            return out
        history = _csv(query.get("propertiesWithHistory"))
        if history:
            out["propertiesWithHistory"] = {
                name: [dict(h) for h in self._history_of(obj_type, rec, name)] for name in history
            }
        assoc = _csv(query.get("associations"))
        if assoc:
            links = self._links[obj_type].get(rec["id"], {})
            found: dict[str, Any] = {}
            for name in assoc:
                to_type = self._type(name)
                ids = links.get(to_type)
                if ids:
                    label = f"{SINGULAR[obj_type]}_to_{SINGULAR[to_type]}"
                    found[to_type] = {"results": [{"id": i, "type": label} for i in ids]}
            if found:
                out["associations"] = found
        return out

    def _list(self, obj_type: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        limit = _int_param(query, "limit", 10)
        if limit < 1 or limit > LIST_PAGE_MAX:
            raise ApiError(400, f"limit must be between 1 and {LIST_PAGE_MAX}, got {limit}")
        if _csv(query.get("propertiesWithHistory")):
            limit = min(limit, HISTORY_PAGE_MAX)
        archived = _first(query, "archived", "false").lower() == "true"
        after = _first(query, "after", "")
        order = self._order[obj_type]
        start = 0
        if after:
            if not after.isdigit():
                raise ApiError(400, f"Invalid after cursor: {after!r}")
            start = bisect.bisect_left(order, int(after))
        store = self._records[obj_type]
        page: list[dict[str, Any]] = []
        next_after: str | None = None
        for i in range(start, len(order)):
            rec = store[str(order[i])]
            if rec["archived"] != archived:
                continue
            if len(page) == limit:
                next_after = rec["id"]
                break
            page.append(rec)
        body: dict[str, Any] = {"results": [self._render(obj_type, r, query) for r in page]}
        if next_after is not None:
            body["paging"] = {
                "next": {
                    "after": next_after,
                    "link": f"?after={next_after}",
                }
            }
        return 200, body

    # -- search ----------------------------------------------------------------------------

    def _search(self, obj_type: str, body: dict[str, Any]) -> tuple[int, Any]:
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or limit < 1 or limit > SEARCH_PAGE_MAX:
            raise ApiError(400, f"limit must be between 1 and {SEARCH_PAGE_MAX}, got {limit!r}")
        try:
            after = int(body.get("after") or 0)
        except (TypeError, ValueError):
            raise ApiError(400, f"Invalid after: {body.get('after')!r}") from None
        if after >= SEARCH_RESULTS_MAX:
            raise ApiError(
                400,
                "There was a problem with the request: search results are limited to 10,000 "
                f"per query and after={after} is past that.",
                "VALIDATION_ERROR",
            )
        groups = body.get("filterGroups") or []
        sorts = body.get("sorts") or []
        text_query = body.get("query") or ""
        self._check_filters(groups)
        key = (
            obj_type,
            json.dumps(groups, sort_keys=True),
            json.dumps(sorts, sort_keys=True),
            text_query,
            self._version[obj_type],
            self.clock() if self.search_lag else None,
        )
        ids = self._search_cache.get(key)
        if ids is None:
            ids = self._run_search(obj_type, groups, sorts, text_query)
            if len(self._search_cache) > 16:
                self._search_cache.clear()
            self._search_cache[key] = ids
        wanted = body.get("properties") or []
        if not isinstance(wanted, list):
            raise ApiError(400, "properties must be a list of property names")
        query = {"properties": [",".join(str(p) for p in wanted)]} if wanted else {}
        store = self._records[obj_type]
        page = ids[after : after + limit]
        out: dict[str, Any] = {
            "total": len(ids),
            "results": [self._render(obj_type, store[i], query, with_extras=False) for i in page],
        }
        if after + limit < len(ids):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return 200, out

    @staticmethod
    def _check_filters(groups: Any) -> None:
        if not isinstance(groups, list):
            raise ApiError(400, "filterGroups must be a list")
        if len(groups) > 5:
            raise ApiError(400, "Too many filter groups (at most 5)")
        total = 0
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list):
                raise ApiError(400, "Each filter group needs a list of filters")
            if len(filters) > 6:
                raise ApiError(400, "Too many filters in a group (at most 6)")
            total += len(filters)
            for f in filters:
                if not isinstance(f, dict) or not f.get("propertyName"):
                    raise ApiError(400, "A filter needs a propertyName")
                op = f.get("operator", "EQ")
                if op not in OPERATORS:
                    raise ApiError(400, f"Unknown operator {op!r}")
                if op in ("IN", "NOT_IN") and not isinstance(f.get("values"), list):
                    raise ApiError(400, f"Operator {op} needs 'values' (a list)")
                if (
                    op not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY")
                    and "value" not in f
                ):
                    raise ApiError(400, f"Operator {op} needs a 'value'")
                kind = _kind(f["propertyName"])
                if kind != "string" and "value" in f:
                    for v in (f.get("value"), f.get("highValue")):
                        if v is not None and _comparable(kind, str(v)) is None:
                            raise ApiError(
                                400,
                                f"{v!r} is not a valid {('number', 'date')[kind == 'time']} "
                                f"for {f['propertyName']}",
                            )
        if total > 18:
            raise ApiError(400, "Too many filters (at most 18 in all)")

    def _run_search(
        self, obj_type: str, groups: list[dict[str, Any]], sorts: list[Any], text_query: str
    ) -> list[str]:
        store = self._records[obj_type]
        matched: list[dict[str, Any]] = []
        compiled = [[_compile_filter(f) for f in g["filters"]] for g in groups]
        needle = text_query.lower()
        indexed_before = (self.clock().timestamp() - self.search_lag) * 1000
        for i in self._candidates(obj_type, groups):
            rec = store[str(i)]
            if rec["archived"]:
                continue
            if self.search_lag and (_to_ms(rec["createdAt"]) or 0) > indexed_before:
                continue  # not in the search index yet
            props = rec["properties"]
            if compiled and not any(all(f(props) for f in g) for g in compiled):
                continue
            if needle and not any(needle in (v or "").lower() for v in props.values()):
                continue
            matched.append(rec)
        if sorts:
            sort = sorts[0]
            if isinstance(sort, str):
                prop, descending = sort.lstrip("-"), sort.startswith("-")
            else:
                prop = sort.get("propertyName", "hs_object_id")
                descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            kind = _kind(prop)
            # Records without the property come last either way; ties keep id order.
            present = [r for r in matched if rec_has(r, prop)]
            missing = [r for r in matched if not rec_has(r, prop)]
            present.sort(key=lambda r: _comparable(kind, r["properties"][prop]), reverse=descending)
            matched = present + missing
        return [r["id"] for r in matched]

    def _candidates(self, obj_type: str, groups: list[dict[str, Any]]) -> list[int]:
        """Ids (ascending) that can match: all of them, or, when the one filter group asks
        for a modified date from some instant on, only records modified since (found by an
        index, as HubSpot's search would; every filter is still applied to them)."""
        order = self._order[obj_type]
        if len(groups) != 1:
            return order
        modified = modified_property(obj_type)
        since: int | None = None
        for f in groups[0]["filters"]:
            if f.get("propertyName") == modified and f.get("operator") in ("GT", "GTE"):
                value = _comparable("time", str(f.get("value")))
                if isinstance(value, int):
                    since = value if since is None else max(since, value)
        if since is None:
            return order
        times, ids = self._modified_index(obj_type)
        return sorted(ids[bisect.bisect_left(times, since) :])

    def build_search_index(self) -> None:
        """Index every object type's modified dates now rather than at the next search.

        HubSpot indexes edits in the background within seconds; the benchmark calls this after
        editing records so the sync it times does not pay for the fake's indexing."""
        with self._lock:
            for obj_type in OBJECT_TYPES:
                self._modified_index(obj_type)

    def _modified_index(self, obj_type: str) -> tuple[list[int], list[int]]:
        """(modified ms ascending, their record ids), rebuilt after any change of the type."""
        version = self._version[obj_type]
        cached = self._index_cache.get(obj_type)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        modified = modified_property(obj_type)
        pairs = sorted(
            (ms, int(rid))
            for rid, rec in self._records[obj_type].items()
            if isinstance(ms := _comparable("time", rec["properties"].get(modified)), int)
        )
        times, ids = [ms for ms, _ in pairs], [rid for _, rid in pairs]
        self._index_cache[obj_type] = (version, times, ids)
        return times, ids

    # -- create ----------------------------------------------------------------------------

    def _create(self, obj_type: str, body: dict[str, Any]) -> tuple[int, Any]:
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise ApiError(400, "Invalid input: 'properties' must be an object")
        if obj_type in ENGAGEMENTS and not properties.get("hs_timestamp"):
            raise ApiError(
                400,
                "Property values were not valid: hs_timestamp is required",
                "VALIDATION_ERROR",
                errors=[{"message": "hs_timestamp is required", "code": "REQUIRED_PROPERTY"}],
            )
        if "hs_timestamp" in properties and _to_ms(str(properties["hs_timestamp"])) is None:
            raise ApiError(
                400, f"Property values were not valid: hs_timestamp {properties['hs_timestamp']!r}"
            )
        links: dict[str, list[str]] = defaultdict(list)
        for assoc in body.get("associations") or []:
            try:
                to_id = str(assoc["to"]["id"])
                types = assoc["types"]
            except (KeyError, TypeError):
                raise ApiError(400, "Invalid association: needs 'to.id' and 'types'") from None
            for t in types:
                type_id = t.get("associationTypeId") if isinstance(t, dict) else None
                to_type = (
                    TYPE_ID_TARGET.get((obj_type, int(type_id)))
                    if isinstance(type_id, int)
                    else None
                )
                if to_type is None:
                    raise ApiError(
                        400,
                        f"Association type {type_id!r} is not valid for {obj_type}",
                        "VALIDATION_ERROR",
                    )
                target = self._records[to_type].get(to_id)
                if target is None or target["archived"]:
                    raise ApiError(
                        400,
                        f"One or more associations are invalid: {SINGULAR[to_type]} {to_id} does not exist",
                        "VALIDATION_ERROR",
                    )
                links[to_type].append(to_id)
        rec = self._insert(obj_type, properties, links)
        self.created[obj_type] += 1
        query = {"properties": [",".join(rec["properties"])]}
        return 201, self._render(obj_type, rec, query, with_extras=False)

    # -- owners, associations v4, sequences ------------------------------------------------

    def _owners(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        limit = _int_param(query, "limit", 100)
        if limit < 1 or limit > 500:
            raise ApiError(400, "limit must be between 1 and 500")
        email = _first(query, "email", "").lower()
        archived = _first(query, "archived", "false").lower() == "true"
        owners = [
            o
            for o in self.owners
            if bool(o.get("archived")) == archived and (not email or o["email"].lower() == email)
        ]
        start = _int_param(query, "after", 0)
        body: dict[str, Any] = {"results": owners[start : start + limit]}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, body

    def _assoc_batch(self, from_type: str, to_type: str, body: dict[str, Any]) -> tuple[int, Any]:
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise ApiError(400, "inputs must be a non-empty list")
        if len(inputs) > 1000:
            raise ApiError(400, "At most 1000 inputs per batch")
        started = self._now_iso()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        type_id = ASSOCIATION_TYPE_IDS.get((from_type, to_type), 0)
        for item in inputs:
            rid = str(item.get("id") if isinstance(item, dict) else item)
            ids = self._links[from_type].get(rid, {}).get(to_type, [])
            ids = [i for i in ids if not self._records[to_type][i]["archived"]]
            if not ids:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {rid}.",
                        "context": {"fromObjectId": [rid]},
                    }
                )
                continue
            results.append(
                {
                    "from": {"id": rid},
                    "to": [
                        {
                            # HubSpot sends this id as a number (the `from` id is a string).
                            "toObjectId": int(i),
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                            ],
                        }
                        for i in ids
                    ],
                }
            )
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": self._now_iso(),
        }
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
            return 207, out
        return 200, out

    def _user_param(self, query: dict[str, list[str]]) -> str:
        user_id = _first(query, "userId", "")
        if not user_id:
            raise ApiError(400, "userId is required", "VALIDATION_ERROR")
        return user_id

    def _sequences(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        user_id = self._user_param(query)
        limit = _int_param(query, "limit", 10)
        if limit < 1 or limit > 100:
            raise ApiError(400, "limit must be between 1 and 100")
        mine = [s for s in self.sequences if s["userId"] == user_id]
        start = _int_param(query, "after", 0)
        page = [{k: v for k, v in s.items() if k != "steps"} for s in mine[start : start + limit]]
        body: dict[str, Any] = {"total": len(mine), "results": page}
        if start + limit < len(mine):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, body

    def _sequence(self, sequence_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        self._user_param(query)
        seq = next((s for s in self.sequences if s["id"] == sequence_id), None)
        if seq is None:
            raise ApiError(404, f"Sequence {sequence_id} not found", "OBJECT_NOT_FOUND")
        out = {k: v for k, v in seq.items() if k != "steps"}
        out["steps"] = [
            {
                "stepOrder": i,
                "actionType": "EMAIL" if i % 2 == 0 else "TASK",
                "delayMillis": 86_400_000 * i,
            }
            for i in range(int(seq.get("steps", 3)))
        ]
        return 200, out

    def _enroll(self, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        user_id = self._user_param(query)
        missing = [k for k in ("contactId", "sequenceId", "senderEmail") if not body.get(k)]
        if missing:
            raise ApiError(400, f"Missing required field(s): {', '.join(missing)}")
        contact_id, sequence_id = str(body["contactId"]), str(body["sequenceId"])
        seq = next((s for s in self.sequences if s["id"] == sequence_id), None)
        if seq is None:
            raise ApiError(404, f"Sequence {sequence_id} not found", "OBJECT_NOT_FOUND")
        contact = self._records["contacts"].get(contact_id)
        if contact is None or contact["archived"]:
            raise ApiError(404, f"Contact {contact_id} not found", "OBJECT_NOT_FOUND")
        owner = next((o for o in self.owners if str(o["userId"]) == user_id), None)
        if owner is None or owner["email"].lower() != str(body["senderEmail"]).lower():
            raise ApiError(
                400,
                f"senderEmail {body['senderEmail']} is not a connected inbox of user {user_id}",
                "VALIDATION_ERROR",
            )
        props = contact["properties"]
        if props.get("hs_email_optout") == "true":
            raise ApiError(
                400,
                f"Contact {contact_id} has unsubscribed from email and cannot be enrolled",
                "VALIDATION_ERROR",
                subCategory="CONTACT_UNSUBSCRIBED",
            )
        if props.get("hs_email_hard_bounce_reason"):
            raise ApiError(
                400,
                f"Contact {contact_id} has a hard-bounced email address and cannot be enrolled",
                "VALIDATION_ERROR",
                subCategory="CONTACT_HARD_BOUNCED",
            )
        current = self.enrollments.get(contact_id)
        if current is not None:
            raise ApiError(
                400,
                f"Contact {contact_id} is already enrolled in sequence {current['sequenceId']}",
                "VALIDATION_ERROR",
                subCategory="ALREADY_ENROLLED",
                errors=[
                    {
                        "message": "The contact is already enrolled in a sequence",
                        "code": "ALREADY_ENROLLED",
                    }
                ],
            )
        self._next_enrollment += 1
        now = self._now_iso()
        enrollment = {
            "id": str(self._next_enrollment),
            "contactId": contact_id,
            "toEmail": props.get("email", ""),
            "sequenceId": sequence_id,
            "sequenceName": seq["name"],
            "enrolledAt": now,
            "updatedAt": now,
            "enrolledBy": user_id,
            "enrolledByEmail": owner["email"],
        }
        self.enrollments[contact_id] = enrollment
        self.created["enrollments"] += 1
        return 200, enrollment


def rec_has(rec: dict[str, Any], prop: str) -> bool:
    """True when the record has a non-empty value for ``prop``."""
    return rec["properties"].get(prop) not in (None, "")


def _compile_filter(f: dict[str, Any]) -> Callable[[dict[str, str]], bool]:
    """A predicate over a record's properties for one search filter."""
    prop = f["propertyName"]
    op = f.get("operator", "EQ")
    kind = _kind(prop)

    def value_of(props: dict[str, str]) -> Any:
        return _comparable(kind, props.get(prop))

    if op == "HAS_PROPERTY":
        return lambda props: props.get(prop) not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return lambda props: props.get(prop) in (None, "")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        wanted = [t.lower() for t in TOKEN_RE.findall(str(f.get("value", "")).replace("*", ""))]
        pattern = str(f.get("value", "")).lower()

        def contains(props: dict[str, str]) -> bool:
            text = (props.get(prop) or "").lower()
            if "*" in pattern:
                return re.search(re.escape(pattern).replace(r"\*", r"\S*"), text) is not None
            tokens = set(TOKEN_RE.findall(text))
            return bool(wanted) and all(t in tokens for t in wanted)

        if op == "CONTAINS_TOKEN":
            return contains
        return lambda props: not contains(props)
    if op in ("IN", "NOT_IN"):
        options = {_comparable(kind, str(v)) for v in f.get("values", [])}
        if op == "IN":
            return lambda props: value_of(props) in options
        return lambda props: value_of(props) not in options
    target = _comparable(kind, str(f.get("value")))
    if op == "BETWEEN":
        high = _comparable(kind, str(f.get("highValue")))

        def between(props: dict[str, str]) -> bool:
            v = value_of(props)
            return v is not None and target <= v <= high

        return between
    if op == "NEQ":
        return lambda props: value_of(props) != target
    if op == "EQ":
        return lambda props: value_of(props) == target
    compare = {
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
    }[op]

    def ordered(props: dict[str, str]) -> bool:
        v = value_of(props)
        return v is not None and compare(v, target)

    return ordered


def _first(query: dict[str, list[str]], name: str, default: str = "") -> str:
    values = query.get(name)
    return values[0] if values else default


def _csv(values: list[str] | None) -> list[str]:
    if not values:
        return []
    return list(_split_csv(tuple(values)))


@functools.lru_cache(maxsize=256)
def _split_csv(values: tuple[str, ...]) -> tuple[str, ...]:
    """Cached: a page renders a hundred records with the same query parameters."""
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    text = _first(query, name, "")
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, got {text!r}") from None
