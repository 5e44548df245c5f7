"""A stateful fake of the HubSpot APIs csm-tui uses, at least as strict as HubSpot, by default.

It answers ``httpx.Request`` objects (``handler``), so it runs in-process behind
``httpx.MockTransport`` or on loopback through ``csm_tui.fakes.router.FakeApis.serve``. Each
rule, its source, and where it is enforced: ``csm_tui/fakes/CONTRACT.md`` ("HubSpot").

Endpoints: CRM objects v3 (list, GET, create, PATCH, DELETE, search, batch read, per-record
associations), associations v4 (batch read, per-record list, labels), owners v3, properties v3,
sequences v4, and the private-app token info endpoint. Split across modules:
``hubspot_schema`` (properties, association types, scopes, errors), ``hubspot_search``
(filters and the lagging index), ``hubspot_limits`` (rate limits).
"""

from __future__ import annotations

import base64
import bisect
import functools
import gc
import json
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

from csm_tui.fakes.faults import Faults, run_with_faults
from csm_tui.fakes.hubspot_limits import STARTER_BURST, STARTER_DAILY, RateLimits
from csm_tui.fakes.hubspot_schema import (
    ASSOCIATION_TYPES,
    DEFAULT_PROPERTIES,
    DEFAULT_SCOPES,
    ENGAGEMENTS,
    ENROLL_SCOPE,
    OWNERS_SCOPE,
    READ_SCOPES,
    SEQUENCES_READ_SCOPE,
    SINGULAR,
    TYPE_ALIASES,
    TYPE_ID_TARGET,
    WRITE_SCOPES,
    ApiError,
    HubSpotUser,
    Schema,
    check_values,
    created_property,
    demo_schema,
    hs_instant,
    missing_scopes,
    modified_property,
    new_correlation_id,
    to_ms,
    v3_type_names,
    v4_types,
)
from csm_tui.fakes.hubspot_search import (
    SearchIndex,
    check_filters,
    check_request,
    comparable,
    compile_filter,
    kind_of,
    snapshot,
)
from csm_tui.fakes.portfolio import ID_BASES, OBJECT_TYPES, Portfolio

__all__ = ["ApiError", "FakeHubSpot", "HubSpotUser", "demo_schema"]

LIST_PAGE_MAX = 100  # HS-py hubspot/utils/objects.py PAGE_MAX_SIZE = 100
HISTORY_PAGE_MAX = 50  # HS-py hubspot/utils/objects.py PROPERTY_HISTORY_MAX_SIZE = 50
BATCH_READ_MAX = 100  # hubspot-api-python#135 ("100 is an API limit")
ASSOC_BATCH_MAX = 1000  # HS changelog "Bug Fix: Batch Read Limit for HubSpot Associations API"
ASSOC_LIST_MAX = 500  # HS-spec v4 GET .../associations/{toObjectType}: "Limit 500 per call"
TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"


class _Enrollments(dict[str, dict[str, Any]]):
    """Contact id -> current enrollment; setting or removing one updates the contact's
    ``hs_sequences_*`` properties, as HubSpot keeps them in step (VENDOR-CONTRACTS 1.6)."""

    def __init__(self, on_change: Callable[[str, dict[str, Any] | None], None]) -> None:
        super().__init__()
        self._on_change = on_change

    def __setitem__(self, contact_id: str, enrollment: dict[str, Any]) -> None:
        super().__setitem__(contact_id, enrollment)
        self._on_change(contact_id, enrollment)

    def __delitem__(self, contact_id: str) -> None:
        super().__delitem__(contact_id)
        self._on_change(contact_id, None)

    def pop(self, contact_id: str, *default: Any) -> Any:
        """Remove a contact's enrollment (the sequence ended); its properties follow."""
        had = contact_id in self
        value = super().pop(contact_id, *default)
        if had:
            self._on_change(contact_id, None)
        return value


class FakeHubSpot:
    """HubSpot CRM v3/v4, owners, properties and sequences v4, in memory."""

    def __init__(
        self,
        portfolio: Portfolio | None = None,
        *,
        token: str = "demo-hubspot-token",
        clock: Callable[[], datetime] | None = None,
        rate_limit: bool = True,
        faults: Faults | None = None,
        ticker: Callable[[], float] = time.monotonic,
        scopes: Iterable[str] | None = None,
        schema: Schema | None = None,
        burst_limit: int = STARTER_BURST,
        daily_limit: int = STARTER_DAILY,
        search_per_second: int = 4,
        account_timezone: str = "America/New_York",
        search_lag: float = 30.0,
        search_lag_jitter: float = 0.5,
        association_page_size: int = 10,
        hub_id: int = 24_681_357,
        app_id: int = 3_141_592,
    ) -> None:
        self.token = token
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.rate_limit = rate_limit
        self.faults = faults if faults is not None else Faults()
        self.created: Counter[str] = Counter()
        self.requests: list[httpx.Request] = []
        # Seconds (of ``clock``) a create or update takes to reach search; 0 shows it at once.
        self.search_lag = search_lag
        self.search_lag_jitter = search_lag_jitter
        # Per-record association page size (v3 embedded and v4 batch read); HubSpot's own is
        # larger (100 embedded, changelog "Announcing a change to how v3 CRM APIs return
        # association data"): small here so clients must follow per-record paging.
        self.association_page_size = association_page_size
        self.scopes: set[str] = set(DEFAULT_SCOPES if scopes is None else scopes)
        self.schema: Schema = schema if schema is not None else demo_schema()
        self.hub_id = hub_id
        self.app_id = app_id
        self._ticker = ticker  # router.FakeApis.serve swaps this for time.monotonic
        self.limits = RateLimits(
            ticker=lambda: self._ticker(),
            clock=lambda: self.clock(),
            burst=burst_limit,
            daily=daily_limit,
            search_per_second=search_per_second,
            timezone=account_timezone,
        )
        self.index = SearchIndex()
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
        self.owners: list[dict[str, Any]] = []
        self.users: dict[str, HubSpotUser] = {}  # by user id (the owners API's ``userId``)
        self.sequences: list[dict[str, Any]] = []
        self.enrollments = _Enrollments(self._enrollment_changed)
        self._loading = False
        if portfolio is not None:
            self._load(portfolio)

    # -- loading -----------------------------------------------------------------------------

    def _load(self, p: Portfolio) -> None:
        # Hundreds of thousands of small dicts and no cycles: keep the cycle collector out of it.
        was_enabled = gc.isenabled()
        gc.disable()
        self._loading = True
        try:
            self._load_records(p)
        finally:
            self._loading = False
            if was_enabled:
                gc.enable()

    def _load_records(self, p: Portfolio) -> None:
        links = self._links
        for obj_type in OBJECT_TYPES:
            store = self._records[obj_type]
            order = self._order[obj_type]
            known = self.schema[obj_type]
            created = created_property(obj_type)
            for rec in p.objects(obj_type):
                rid = rec["id"]
                props = rec["properties"]
                if created not in props and "createdate" in props:
                    props = {**props, created: props["createdate"]}
                # A portal without a property holds no values for it.
                store[rid] = {
                    "id": rid,
                    "properties": {k: v for k, v in props.items() if k in known},
                    "createdAt": rec["createdAt"],
                    "updatedAt": rec["updatedAt"],
                    "archived": bool(rec.get("archived", False)),
                }
                order.append(int(rid))
                # The generator never repeats a link, and the first company is the primary.
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
                comparable("time", rec["properties"].get(modified))
                comparable("number", rec["id"])
        for cid, history in p.arr_history.items():
            if "arr" in self.schema["companies"]:
                self._history[("companies", cid)] = {"arr": [dict(h) for h in history]}
        for o in p.owners:
            self._add_owner_record(dict(o))
        self._vary_users()
        self.sequences = [dict(s) for s in p.sequences]
        for e in p.enrollments:
            self.enrollments[e["contactId"]] = dict(e)

    def _add_owner_record(self, owner: dict[str, Any]) -> None:
        self.owners.append(owner)
        uid = str(owner["userId"])
        self.users.setdefault(uid, HubSpotUser(uid, owner["email"], True, [owner["email"]]))

    def _vary_users(self) -> None:
        """Generated users differ as real ones do: the second sends sequences from an inbox
        other than their login, the last (of three or more) has no Sales/Service Pro seat."""
        users = [self.users[str(o["userId"])] for o in self.owners]
        if len(users) >= 2:
            local, _, domain = users[1].email.partition("@")
            users[1].inboxes = [f"{local}@mail.{domain}"]
        if len(users) >= 3:
            users[-1].sequences_seat = False

    # -- test helpers --------------------------------------------------------------------------

    def create(
        self,
        obj_type: str,
        properties: dict[str, Any],
        associations: dict[str, Iterable[str]] | None = None,
    ) -> str:
        """Add a record as if someone made it in HubSpot (not counted in ``created``); its id.

        Properties the object type lacks are dropped, as a HubSpot user could not set them;
        the record reaches search only after ``search_lag``."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            props = self._lenient(obj_type, properties)
            links = {
                TYPE_ALIASES[t]: [str(i) for i in ids] for t, ids in (associations or {}).items()
            }
            return self._insert(obj_type, props, links)["id"]

    def update(self, obj_type: str, record_id: str, properties: dict[str, Any]) -> None:
        """Change properties now, as a HubSpot user would (the modified date moves to the
        clock's instant; properties the object type lacks are ignored)."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            props = self._lenient(obj_type, properties)
            self._update(obj_type, self._get(obj_type, record_id), props, "CRM_UI")

    def archive(self, obj_type: str, record_id: str) -> None:
        """Archive (soft-delete) a record, as a user deleting it in HubSpot."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            self._archive(obj_type, self._get(obj_type, record_id))

    def reassociate(
        self, obj_type: str, record_id: str, to_type: str, old_id: str, new_id: str
    ) -> None:
        """Move a record's association (a contact changing company). No modified date moves:
        HubSpot's association edits leave them alone (airbytehq/airbyte#27199, #43352)."""
        with self._lock:
            obj_type, to_type = TYPE_ALIASES[obj_type], TYPE_ALIASES[to_type]
            record_id, old_id, new_id = str(record_id), str(old_id), str(new_id)
            ids = self._links[obj_type][record_id].setdefault(to_type, [])
            back = self._links[to_type][old_id].get(obj_type, [])
            if record_id in back:
                back.remove(record_id)
            if old_id in ids:
                ids[ids.index(old_id)] = new_id  # the new one takes the old one's place (primary)
                back_new = self._links[to_type][new_id].setdefault(obj_type, [])
                if record_id not in back_new:
                    back_new.append(record_id)
            else:
                self._link(obj_type, record_id, to_type, new_id)
            self._search_cache.clear()

    def associate(self, obj_type: str, record_id: str, to_type: str, to_id: str) -> None:
        """Link two records as a HubSpot user would; no modified date moves (as reassociate)."""
        with self._lock:
            self._link(TYPE_ALIASES[obj_type], str(record_id), TYPE_ALIASES[to_type], str(to_id))
            self._search_cache.clear()

    def touch_many(self, obj_type: str, ids: Iterable[str], at: datetime) -> None:
        """A bulk update: every record gets the very same modified instant ``at``."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            stamp = hs_instant(int(at.timestamp() * 1000))
            prop = modified_property(obj_type)
            for rid in ids:
                rec = self._get(obj_type, str(rid))
                before = self._before(obj_type, rec)
                rec["properties"][prop] = stamp
                rec["updatedAt"] = stamp
                self._indexed_later(obj_type, before, rec)
            self._version[obj_type] += 1

    def add_owner(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        user_id: int | None = None,
        *,
        sequences_seat: bool = True,
        inboxes: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Add a HubSpot user/owner (with their seat and connected inboxes); the owner object."""
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
            self.users[str(uid)] = HubSpotUser(
                str(uid), email, sequences_seat, list(inboxes) if inboxes is not None else [email]
            )
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

    def remove_property(self, obj_type: str, name: str) -> None:
        """Make the portal lack a property (e.g. a custom one), and every value of it."""
        with self._lock:
            obj_type = TYPE_ALIASES[obj_type]
            self.schema[obj_type].pop(name, None)
            for rec in self._records[obj_type].values():
                rec["properties"].pop(name, None)
            self._version[obj_type] += 1

    def record(self, obj_type: str, record_id: str) -> dict[str, Any]:
        """The stored record (for assertions), archived or not."""
        return self._get(TYPE_ALIASES[obj_type], record_id)

    def records(self, obj_type: str) -> list[dict[str, Any]]:
        """Every stored record of a type, in id order (for assertions)."""
        store = self._records[TYPE_ALIASES[obj_type]]
        return [store[str(i)] for i in self._order[TYPE_ALIASES[obj_type]]]

    def associations_of(self, obj_type: str, record_id: str, to_type: str) -> list[str]:
        """Ids associated with a record, the primary first (for assertions)."""
        links = self._links[TYPE_ALIASES[obj_type]].get(str(record_id), {})
        return list(links.get(TYPE_ALIASES[to_type], []))

    def build_search_index(self) -> None:
        """Index every object type's modified dates now rather than at the next search.

        The benchmark calls this after editing records so the sync it times does not pay for
        the fake's own indexing (the search lag still applies)."""
        with self._lock:
            for obj_type in OBJECT_TYPES:
                self._modified_index(obj_type)

    # -- state changes -----------------------------------------------------------------------

    def _now_iso(self) -> str:
        return hs_instant(int(self.clock().timestamp() * 1000))

    def _lenient(self, obj_type: str, properties: dict[str, Any]) -> dict[str, str | None]:
        """Test-helper values: schema properties only, datetimes in HubSpot's ISO form."""
        known = self.schema[obj_type]
        out: dict[str, str | None] = {}
        for name, value in properties.items():
            prop = known.get(name)
            if prop is None:
                continue
            if value is None or value == "":
                out[name] = None
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            if prop.type == "datetime" and (ms := to_ms(text)) is not None:
                text = hs_instant(ms)
            out[name] = text
        return out

    def _before(self, obj_type: str, rec: dict[str, Any]) -> dict[str, Any] | None:
        """The record as search last saw it, copied before a change (None: not needed)."""
        if not self.search_lag or rec["id"] in self.index.pending(obj_type):
            return None
        return snapshot(rec)

    def _indexed_later(
        self, obj_type: str, before: dict[str, Any] | None, rec: dict[str, Any]
    ) -> None:
        """Tell the search index about a change (``before``: None for a create)."""
        self.index.changed(
            obj_type,
            before,
            rec,
            self.clock().timestamp(),
            self.search_lag,
            self.search_lag_jitter,
        )

    def _insert(
        self, obj_type: str, props: dict[str, str | None], links: dict[str, list[str]]
    ) -> dict[str, Any]:
        rid = str(self._next_id[obj_type])
        self._next_id[obj_type] += 1
        now = self._now_iso()
        stored = {k: v for k, v in props.items() if v is not None}
        created = created_property(obj_type)
        stored.setdefault(created, now)
        stored[modified_property(obj_type)] = now
        stored["hs_object_id"] = rid
        if obj_type == "tasks":
            stored.setdefault("hs_task_status", "NOT_STARTED")
        rec = {
            "id": rid,
            "properties": stored,
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        self._records[obj_type][rid] = rec
        self._order[obj_type].append(int(rid))
        for to_type, ids in links.items():
            for to_id in ids:
                self._link(obj_type, rid, to_type, to_id)
        self._version[obj_type] += 1
        self._indexed_later(obj_type, None, rec)
        return rec

    def _link(
        self, from_type: str, from_id: str, to_type: str, to_id: str, primary: bool = False
    ) -> None:
        ids = self._links[from_type][from_id].setdefault(to_type, [])
        if to_id not in ids:
            if primary:
                ids.insert(0, to_id)
            else:
                ids.append(to_id)
        back = self._links[to_type][to_id].setdefault(from_type, [])
        if from_id not in back:
            back.append(from_id)

    def _update(
        self, obj_type: str, rec: dict[str, Any], properties: dict[str, str | None], source: str
    ) -> None:
        before = self._before(obj_type, rec)
        now = self._now_iso()
        props = rec["properties"]
        for name, text in properties.items():
            if text == props.get(name):
                continue
            history = self._history_of(obj_type, rec, name)
            if text is None:
                props.pop(name, None)
            else:
                props[name] = text
            history.insert(0, {"value": text or "", "timestamp": now, "sourceType": source})
        props[modified_property(obj_type)] = now
        rec["updatedAt"] = now
        self._version[obj_type] += 1
        self._indexed_later(obj_type, before, rec)

    def _archive(self, obj_type: str, rec: dict[str, Any]) -> None:
        before = self._before(obj_type, rec)
        now = self._now_iso()
        rec["archived"] = True
        rec["archivedAt"] = now
        rec["updatedAt"] = now
        rec["properties"][modified_property(obj_type)] = now
        self._version[obj_type] += 1
        self._indexed_later(obj_type, before, rec)

    def _enrollment_changed(self, contact_id: str, enrollment: dict[str, Any] | None) -> None:
        """Keep a contact's ``hs_sequences_*`` properties in step with its enrollment."""
        contact = self._records["contacts"].get(str(contact_id))
        if contact is None:
            return
        known = self.schema["contacts"]
        props = contact["properties"]
        if enrollment is None:
            values = {
                "hs_sequences_is_enrolled": "false",
                "hs_sequences_actively_enrolled_count": "0",
            }
        else:
            count = int(props.get("hs_sequences_enrolled_count") or 0) + 1
            values = {
                "hs_sequences_is_enrolled": "true",
                "hs_sequences_actively_enrolled_count": "1",
                "hs_sequences_enrolled_count": str(count),
                "hs_latest_sequence_enrolled": str(enrollment.get("sequenceId", "")),
                "hs_latest_sequence_enrolled_date": str(
                    enrollment.get("enrolledAt") or self._now_iso()
                ),
            }
        values = {k: v for k, v in values.items() if k in known}
        if self._loading:  # the generated book's enrollments: history, not a change now
            props.update(values)
            return
        with self._lock:
            self._update("contacts", contact, dict(values), "SEQUENCES")

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

    # -- HTTP ------------------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (usable as ``httpx.MockTransport(fake.handler)``)."""
        self.requests.append(request)
        return run_with_faults(self.faults, request, self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        is_search = request.method.upper() == "POST" and path.endswith("/search")
        correlation = new_correlation_id()
        with self._lock:
            try:
                if request.headers.get("authorization") != f"Bearer {self.token}":
                    # 401 means a bad token, nothing else (VENDOR-CONTRACTS 1.8).
                    raise ApiError(
                        401,
                        "Authentication credentials not found. This API supports OAuth 2.0 "
                        "authentication and you can find more details at "
                        "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                        "INVALID_AUTHENTICATION",
                    )
                self.limits.admit(is_search, self.rate_limit)
                status, body = self._route(request, path)
            except ApiError as exc:
                status, body = exc.status, exc.body(correlation)
            return self._respond(request, status, body, is_search, correlation)

    def _respond(
        self, request: httpx.Request, status: int, body: Any, is_search: bool, correlation: str
    ) -> httpx.Response:
        # Search answers carry no rate-limit headers, only the correlation id (1.9).
        headers = {} if is_search else self.limits.headers()
        headers["X-HubSpot-Correlation-Id"] = correlation
        headers["Date"] = format_datetime(self.clock().astimezone(UTC), usegmt=True)
        if body is None:
            return httpx.Response(status, headers=headers, request=request)
        headers["Content-Type"] = "application/json;charset=utf-8"
        # Compact, as HubSpot sends it (no spaces after separators).
        content = json.dumps(body, separators=(",", ":")).encode()
        return httpx.Response(status, headers=headers, content=content, request=request)

    def _need(self, *scopes: str) -> None:
        """Refuse with 403 MISSING_SCOPES unless the token has every scope given."""
        error = missing_scopes(scopes, self.scopes)
        if error is not None:
            raise error

    def _route(self, request: httpx.Request, path: str) -> tuple[int, Any]:
        method = request.method.upper()
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        if path == TOKEN_INFO_PATH and method == "POST":
            return self._token_info(self._json(request))
        if path == "/crm/v3/owners":
            self._need(OWNERS_SCOPE)
            return self._owners(query)
        if m := re.fullmatch(r"/crm/v3/owners/(\d+)", path):
            self._need(OWNERS_SCOPE)
            owner = next((o for o in self.owners if o["id"] == m.group(1)), None)
            if owner is None:
                raise ApiError(404, f"Owner {m.group(1)} not found", "OBJECT_NOT_FOUND")
            return 200, owner
        if m := re.fullmatch(r"/crm/v3/properties/([\w-]+)(?:/([\w-]+))?", path):
            return self._properties(self._type(m.group(1)), m.group(2), query)
        if m := re.fullmatch(r"/crm/v3/objects/([\w-]+)/search", path):
            self._allow(method, "POST")
            obj_type = self._type(m.group(1))
            self._need(*READ_SCOPES[obj_type])
            return self._search(obj_type, self._json(request))
        if m := re.fullmatch(r"/crm/v3/objects/([\w-]+)/batch/read", path):
            self._allow(method, "POST")
            obj_type = self._type(m.group(1))
            self._need(*READ_SCOPES[obj_type])
            return self._batch_read(obj_type, self._json(request), query)
        if m := re.fullmatch(r"/crm/v3/objects/([\w-]+)", path):
            obj_type = self._type(m.group(1))
            if method == "GET":
                self._need(*READ_SCOPES[obj_type])
                return self._list(obj_type, query)
            self._allow(method, "POST")
            return self._create(obj_type, self._json(request))
        if m := re.fullmatch(r"/crm/v3/objects/([\w-]+)/([\w.@+-]+)/associations/([\w-]+)", path):
            self._allow(method, "GET")
            from_type, to_type = self._type(m.group(1)), self._type(m.group(3))
            self._need(*READ_SCOPES[from_type], *READ_SCOPES[to_type])
            return self._v3_record_associations(from_type, m.group(2), to_type, query)
        if m := re.fullmatch(r"/crm/v3/objects/([\w-]+)/([\w.@+-]+)", path):
            return self._one(method, self._type(m.group(1)), m.group(2), query, request)
        if m := re.fullmatch(r"/crm/v4/associations/([\w-]+)/([\w-]+)/batch/read", path):
            self._allow(method, "POST")
            from_type, to_type = self._type(m.group(1)), self._type(m.group(2))
            # The objects' read scopes, both sides (VENDOR-CONTRACTS 1.8).
            self._need(*READ_SCOPES[from_type], *READ_SCOPES[to_type])
            return self._assoc_batch(from_type, to_type, self._json(request))
        if m := re.fullmatch(r"/crm/v4/associations/([\w-]+)/([\w-]+)/labels", path):
            self._allow(method, "GET")
            from_type, to_type = self._type(m.group(1)), self._type(m.group(2))
            self._need(*READ_SCOPES[from_type], *READ_SCOPES[to_type])
            return 200, {"results": self._labels(from_type, to_type)}
        if m := re.fullmatch(r"/crm/v4/objects/([\w-]+)/(\d+)/associations/([\w-]+)", path):
            self._allow(method, "GET")
            from_type, to_type = self._type(m.group(1)), self._type(m.group(3))
            self._need(*READ_SCOPES[from_type], *READ_SCOPES[to_type])
            return self._v4_record_associations(from_type, m.group(2), to_type, query)
        if path == "/automation/v4/sequences/enrollments":
            self._allow(method, "POST")
            self._need(ENROLL_SCOPE)
            return self._enroll(query, self._json(request))
        if m := re.fullmatch(r"/automation/v4/sequences/enrollments/contact/(\d+)", path):
            self._allow(method, "GET")
            self._need(SEQUENCES_READ_SCOPE)
            return self._enrollment_of(m.group(1))
        if path == "/automation/v4/sequences":
            self._allow(method, "GET")
            self._need(SEQUENCES_READ_SCOPE)
            return self._sequences(query)
        if m := re.fullmatch(r"/automation/v4/sequences/(\d+)", path):
            self._allow(method, "GET")
            self._need(SEQUENCES_READ_SCOPE)
            return self._sequence(m.group(1), query)
        raise ApiError(404, f"Unknown route {method} {request.url.path}", "OBJECT_NOT_FOUND")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(405, f"Method {method} not allowed here", "VALIDATION_ERROR")

    @staticmethod
    def _json(request: httpx.Request) -> dict[str, Any]:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise ApiError(400, "Invalid input JSON on line 1: the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input JSON on line 1: expected an object")
        return body

    @staticmethod
    def _type(name: str) -> str:
        obj_type = TYPE_ALIASES.get(name.lower())
        if obj_type is None:
            raise ApiError(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR")
        return obj_type

    # -- token info, owners, properties ----------------------------------------------------------

    def _token_info(self, body: dict[str, Any]) -> tuple[int, Any]:
        """POST /oauth/v2/private-apps/get/access-token-info (HS-docs "Private apps")."""
        if body.get("tokenKey") != self.token:
            raise ApiError(400, "tokenKey is not a valid private app access token")
        demo = self.owners[0] if self.owners else None
        return 200, {
            "userId": int(demo["userId"]) if demo else 0,
            "hubId": self.hub_id,
            "appId": self.app_id,
            "scopes": sorted(self.scopes),
        }

    def _owners(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        limit = _int_param(query, "limit", 100)
        if not 1 <= limit <= 500:
            raise ApiError(400, f"limit must be from 1 to 500, got {limit}")
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

    def _properties(
        self, obj_type: str, name: str | None, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        """GET /crm/v3/properties/{type}[/{name}], from the schema the fake enforces.

        Scope: the object's read scope or its schema read scope (the spec lists many
        alternatives; stricter reading: one for this very object type)."""
        schema_scope = f"crm.schemas.{obj_type}.read"
        if schema_scope not in self.scopes:
            self._need(*READ_SCOPES[obj_type])
        created = "2019-08-06T02:41:08.000Z"  # HubSpot-defined: long-standing
        if _first(query, "archived", "false").lower() == "true":
            return 200, {"results": []}  # this portal never archived a property
        props = self.schema[obj_type]
        if name is None:
            return 200, {"results": [p.describe(obj_type, created) for p in props.values()]}
        prop = props.get(name)
        if prop is None:
            raise ApiError(
                404,
                f"Unable to find property {name} for object type {SINGULAR[obj_type]}",
                "OBJECT_NOT_FOUND",
            )
        return 200, prop.describe(obj_type, created)

    # -- read one, update, archive ---------------------------------------------------------------

    def _one(
        self,
        method: str,
        obj_type: str,
        record_id: str,
        query: dict[str, list[str]],
        request: httpx.Request,
    ) -> tuple[int, Any]:
        if method == "GET":
            self._need(*READ_SCOPES[obj_type])
            rec = self._by_id_property(obj_type, record_id, _first(query, "idProperty", ""))
            archived = _first(query, "archived", "false").lower() == "true"
            if rec["archived"] != archived:
                raise ApiError(404, "Object not found", "OBJECT_NOT_FOUND")
            return 200, self._render(
                obj_type,
                rec,
                _csv(query.get("properties")),
                _csv(query.get("propertiesWithHistory")),
                _csv(query.get("associations")),
            )
        self._allow(method, "PATCH", "DELETE")
        self._need(*self._write_scopes(obj_type))
        rec = self._get(obj_type, record_id)
        if rec["archived"]:
            raise ApiError(404, "Object not found", "OBJECT_NOT_FOUND")
        if method == "DELETE":
            self._archive(obj_type, rec)
            return 204, None
        body = self._json(request)
        values = body.get("properties")
        if not isinstance(values, dict):
            raise ApiError(400, "Invalid input JSON: 'properties' must be an object")
        checked = check_values(obj_type, values, self.schema, self._owner_ids())
        self._update(obj_type, rec, checked, "API")
        return 200, self._render(obj_type, rec, list(checked), [], [])

    def _by_id_property(self, obj_type: str, value: str, id_property: str) -> dict[str, Any]:
        if not id_property or id_property == "hs_object_id":
            return self._get(obj_type, value)
        prop = self.schema[obj_type].get(id_property)
        if prop is None or not prop.unique:
            raise ApiError(400, f"{id_property} is not a unique-value property of {obj_type}")
        wanted = value.lower()
        for rec in self._records[obj_type].values():
            if (rec["properties"].get(id_property) or "").lower() == wanted:
                return rec
        raise ApiError(404, "Object not found", "OBJECT_NOT_FOUND")

    def _write_scopes(self, obj_type: str) -> tuple[str, ...]:
        scopes = WRITE_SCOPES.get(obj_type)
        if scopes is None:  # feedback submissions are read-only (HS-spec: no write endpoints)
            raise ApiError(405, f"{obj_type} cannot be written through the API", "VALIDATION_ERROR")
        return scopes

    def _owner_ids(self) -> set[str]:
        return {str(o["id"]) for o in self.owners}

    # -- render ------------------------------------------------------------------------------------

    def _render(
        self,
        obj_type: str,
        rec: dict[str, Any],
        wanted: list[str],
        history: list[str],
        assoc: list[str],
    ) -> dict[str, Any]:
        """A record in the API's shape. Unknown property names are left out (HS-spec: "they
        will be ignored"); known ones without a value come back as null."""
        props = rec["properties"]
        known = self.schema[obj_type]
        names = wanted or DEFAULT_PROPERTIES[obj_type]
        out_props: dict[str, str | None] = {}
        for name in (
            *names,
            "hs_object_id",
            created_property(obj_type),
            modified_property(obj_type),
        ):
            if name in known:
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
        if history:
            out["propertiesWithHistory"] = {
                name: [dict(h) for h in self._history_of(obj_type, rec, name)]
                for name in history
                if name in known
            }
        if assoc:
            found: dict[str, Any] = {}
            for name in assoc:
                to_type = TYPE_ALIASES.get(name.lower())
                if to_type is None:
                    continue  # unknown association names are ignored (HS-spec)
                page = self._v3_page(obj_type, rec["id"], to_type, None, self.association_page_size)
                if page["results"]:
                    found[to_type] = page
            if found:
                out["associations"] = found
        return out

    # -- list ----------------------------------------------------------------------------------------

    def _list(self, obj_type: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        history = _csv(query.get("propertiesWithHistory"))
        cap = HISTORY_PAGE_MAX if history else LIST_PAGE_MAX
        limit = _int_param(query, "limit", 10)
        # Refused, never capped: HubSpot answers 400 past 50 with history (hubspot-api-python
        # #143); past 100 without it the response is unverified (stricter reading: 400).
        if not 1 <= limit <= cap:
            raise ApiError(
                400,
                f"limit must be from 1 to {cap}"
                + (" when propertiesWithHistory is requested" if history else "")
                + f", got {limit}",
            )
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
        wanted = _csv(query.get("properties"))
        assoc = _csv(query.get("associations"))
        body: dict[str, Any] = {
            "results": [self._render(obj_type, r, wanted, history, assoc) for r in page]
        }
        if next_after is not None:
            body["paging"] = {"next": {"after": next_after, "link": f"?after={next_after}"}}
        return 200, body

    # -- batch read --------------------------------------------------------------------------------

    def _batch_read(
        self, obj_type: str, body: dict[str, Any], query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        """POST /crm/v3/objects/{type}/batch/read (HS-spec ``BatchReadInputSimplePublicObjectId``:
        ``inputs``, ``properties`` and ``propertiesWithHistory`` are required; HS-py refuses a
        None for each)."""
        inputs = body.get("inputs")
        wanted = body.get("properties")
        history = body.get("propertiesWithHistory")
        if not isinstance(inputs, list) or not inputs:
            raise ApiError(400, "Invalid input JSON: 'inputs' must be a non-empty list")
        if not isinstance(wanted, list) or not isinstance(history, list):
            raise ApiError(
                400,
                "Invalid input JSON: some of required attributes are not set "
                "[properties, propertiesWithHistory] (send [] for none)",
            )
        cap = HISTORY_PAGE_MAX if history else BATCH_READ_MAX
        if len(inputs) > cap:
            message = (
                "The maximum number of inputs supported in a batch request for property "
                f"histories is {HISTORY_PAGE_MAX}"  # PipedreamHQ/pipedream PR #8462
                if history
                else f"Batch input limit is {BATCH_READ_MAX}, got {len(inputs)} inputs"
            )
            raise ApiError(400, message)
        ids: list[str] = []
        for item in inputs:
            if not isinstance(item, dict) or item.get("id") in (None, ""):
                raise ApiError(400, "Invalid input JSON: each input needs an 'id'")
            ids.append(str(item["id"]))
        if len(set(ids)) != len(ids):  # unverified: stricter reading, as for batch update
            raise ApiError(400, f"Duplicate IDs found in batch input: {ids}. IDs must be unique")
        id_property = body.get("idProperty") or ""
        archived = _first(query, "archived", "false").lower() == "true"
        started = self._now_iso()
        results, missing = [], []
        for rid in ids:
            try:
                rec = self._by_id_property(obj_type, rid, id_property)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                rec = None
            if rec is None or rec["archived"] != archived:
                missing.append(rid)
                continue
            results.append(
                self._render(obj_type, rec, [str(p) for p in wanted], [str(p) for p in history], [])
            )
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": self._now_iso(),
        }
        if not missing:
            return 200, out
        out["numErrors"] = 1
        out["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {SINGULAR[obj_type].upper()} objects, they may "
                "be deleted or not exist. Check that ids are valid.",
                "context": {"ids": missing},
                "errors": [],
                "links": {},
            }
        ]
        return 207, out

    # -- search --------------------------------------------------------------------------------------

    def _search(self, obj_type: str, body: dict[str, Any]) -> tuple[int, Any]:
        limit, after, groups, sort, text_query = check_request(body)
        schema = self.schema[obj_type]
        check_filters(groups, schema)
        wanted = body.get("properties") or []
        if not isinstance(wanted, list):
            raise ApiError(400, "properties must be a list of property names")
        now = self.clock().timestamp()
        self.index.catch_up(obj_type, now, self.search_lag)
        key = (
            obj_type,
            json.dumps(groups, sort_keys=True),
            json.dumps(sort, sort_keys=True),
            text_query,
            self._version[obj_type],
            now if self.index.pending(obj_type) else None,
        )
        ids = self._search_cache.get(key)
        if ids is None:
            ids = self._run_search(obj_type, groups, sort, text_query)
            if len(self._search_cache) > 16:
                self._search_cache.clear()
            self._search_cache[key] = ids
        store = self._records[obj_type]
        page = ids[after : after + limit]
        names = [str(p) for p in wanted]
        out: dict[str, Any] = {
            "total": len(ids),
            "results": [
                self._render(obj_type, self._seen(obj_type, store[i]), names, [], []) for i in page
            ],
        }
        if after + limit < len(ids):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return 200, out

    def _seen(self, obj_type: str, live: dict[str, Any]) -> dict[str, Any]:
        """A record as the search index holds it (its live self once caught up)."""
        return self.index.view(obj_type, live["id"], live) or live

    def _run_search(
        self,
        obj_type: str,
        groups: list[dict[str, Any]],
        sort: dict[str, Any] | None,
        text_query: str,
    ) -> list[str]:
        store = self._records[obj_type]
        schema = self.schema[obj_type]
        pending = self.index.pending(obj_type)
        matched: list[dict[str, Any]] = []
        compiled = [[compile_filter(f, schema) for f in g["filters"]] for g in groups]
        needle = text_query.lower()
        for i in self._candidates(obj_type, groups, pending):
            live = store[str(i)]
            if live["archived"]:
                continue  # archived records are never found (VENDOR-CONTRACTS 1.2)
            rec = self.index.view(obj_type, live["id"], live) if pending else live
            if rec is None or rec["archived"]:
                continue  # not indexed yet
            props = rec["properties"]
            if compiled and not any(all(f(props) for f in g) for g in compiled):
                continue
            if needle and not any(needle in (v or "").lower() for v in props.values()):
                continue
            matched.append(rec)
        if sort:
            prop = sort["propertyName"]
            descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            kind = kind_of(schema.get(prop))
            # Records without the property come last either way; ties keep id order.
            present = [r for r in matched if r["properties"].get(prop) not in (None, "")]
            missing = [r for r in matched if r["properties"].get(prop) in (None, "")]
            if kind != "missing":
                present.sort(
                    key=lambda r: comparable(kind, r["properties"][prop]), reverse=descending
                )
                matched = present + missing
        return [r["id"] for r in matched]

    def _candidates(
        self, obj_type: str, groups: list[dict[str, Any]], pending: dict[str, Any]
    ) -> list[int]:
        """Ids (ascending) that can match: all of them, or, when the one filter group asks
        for a modified date from some instant on, only records modified since (found by an
        index, as HubSpot's search would; every filter is still applied to them) plus those
        whose indexed copy is older than the live one."""
        order = self._order[obj_type]
        if len(groups) != 1:
            return order
        modified = modified_property(obj_type)
        since: int | None = None
        for f in groups[0]["filters"]:
            if f.get("propertyName") == modified and f.get("operator") in ("GT", "GTE"):
                value = comparable("time", str(f.get("value")))
                if isinstance(value, int):
                    since = value if since is None else max(since, value)
        if since is None:
            return order
        times, ids = self._modified_index(obj_type)
        found = set(ids[bisect.bisect_left(times, since) :])
        found.update(int(rid) for rid in pending)
        return sorted(found)

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
            if isinstance(ms := comparable("time", rec["properties"].get(modified)), int)
        )
        times, ids = [ms for ms, _ in pairs], [rid for _, rid in pairs]
        self._index_cache[obj_type] = (version, times, ids)
        return times, ids

    # -- create --------------------------------------------------------------------------------------

    def _create(self, obj_type: str, body: dict[str, Any]) -> tuple[int, Any]:
        self._need(*self._write_scopes(obj_type))
        values = body.get("properties")
        if not isinstance(values, dict):
            raise ApiError(
                400,
                "Invalid input JSON on line 1: 'properties' must be an object of property "
                "names to string values",
            )
        props = check_values(obj_type, values, self.schema, self._owner_ids())
        if obj_type in ENGAGEMENTS and not props.get("hs_timestamp"):
            # HS-docs activity guides; message and context as HubSpot answers (PipedreamHQ/
            # pipedream#12366).
            raise ApiError(
                400,
                f"Error creating {SINGULAR[obj_type].upper()}. Some required properties were "
                "not set.",
                "VALIDATION_ERROR",
                context={"properties": ["hs_timestamp"]},
            )
        if obj_type == "contacts" and props.get("email"):
            email = str(props["email"]).lower()
            for rec in self._records["contacts"].values():
                if (rec["properties"].get("email") or "").lower() == email and not rec["archived"]:
                    raise ApiError(  # VENDOR-CONTRACTS 1.10 (hubspot-api-php#59)
                        409, f"Contact already exists. Existing ID: {rec['id']}", "CONFLICT"
                    )
        links = self._create_links(obj_type, body.get("associations"))
        rec = self._insert(obj_type, props, {})
        for to_type, to_id, primary in links:
            self._link(obj_type, rec["id"], to_type, to_id, primary)
        self.created[obj_type] += 1
        return 201, self._render(
            obj_type, rec, [k for k, v in props.items() if v is not None], [], []
        )

    def _create_links(self, obj_type: str, associations: Any) -> list[tuple[str, str, bool]]:
        """(to type, to id, primary?) of each association of a create, each checked: the type
        id must belong to this object type and the target must exist as that type (1.5)."""
        if associations is None:
            return []
        if not isinstance(associations, list):
            raise ApiError(400, "Invalid input JSON: 'associations' must be a list")
        out: list[tuple[str, str, bool]] = []
        for assoc in associations:
            try:
                to_id = str(assoc["to"]["id"])
                types = list(assoc["types"])
            except (KeyError, TypeError):
                raise ApiError(400, "Invalid association: needs 'to.id' and 'types'") from None
            if not types:
                raise ApiError(400, f"Association to {to_id} has no types")
            for t in types:
                type_id = t.get("associationTypeId") if isinstance(t, dict) else None
                category = t.get("associationCategory") if isinstance(t, dict) else None
                target = (
                    TYPE_ID_TARGET.get((obj_type, type_id))
                    if isinstance(type_id, int) and not isinstance(type_id, bool)
                    else None
                )
                if target is None or category != "HUBSPOT_DEFINED":
                    raise ApiError(
                        400,
                        f"association type id {type_id!r} ({category}) does not exist for "
                        f"{SINGULAR[obj_type]}",
                        "VALIDATION_ERROR",
                    )
                to_type, primary = target
                rec = self._records[to_type].get(to_id)
                if rec is None or rec["archived"]:
                    raise ApiError(
                        400,
                        f"One or more associations are invalid: association type {type_id} "
                        f"links a {SINGULAR[obj_type]} to a {SINGULAR[to_type]}, and "
                        f"{SINGULAR[to_type]} {to_id} does not exist",
                        "VALIDATION_ERROR",
                    )
                out.append((to_type, to_id, primary))
        return out

    # -- associations --------------------------------------------------------------------------------

    def _live_links(self, from_type: str, rid: str, to_type: str) -> list[str]:
        """Linked ids of ``to_type`` that are not archived, the primary first."""
        ids = self._links[from_type].get(rid, {}).get(to_type, [])
        store = self._records[to_type]
        return [i for i in ids if i in store and not store[i]["archived"]]

    def _is_primary(self, from_type: str, rid: str, to_type: str, to_id: str) -> bool:
        """True when the link is the primary one: the record's first company (contacts, deals,
        tickets), or, from a company, the company that is the other record's first."""
        if ASSOCIATION_TYPES.get((from_type, to_type), (None, 0))[0] is None:
            return False
        if from_type == "companies":
            firsts = self._live_links(to_type, to_id, "companies")
            return bool(firsts) and firsts[0] == rid
        firsts = self._live_links(from_type, rid, "companies")
        return bool(firsts) and firsts[0] == to_id

    def _v3_entries(self, from_type: str, rid: str, to_type: str) -> list[dict[str, str]]:
        """v3 ``{id, type}`` entries: the primary listed twice (``x_to_company`` and
        ``x_to_company_unlabeled``), others once (VENDOR-CONTRACTS 1.3)."""
        primary_name, other_name = v3_type_names(from_type, to_type)
        out = []
        for to_id in self._live_links(from_type, rid, to_type):
            if primary_name != other_name and self._is_primary(from_type, rid, to_type, to_id):
                out.append({"id": to_id, "type": primary_name})
            out.append({"id": to_id, "type": other_name})
        return out

    def _v3_page(
        self, from_type: str, rid: str, to_type: str, after: str | None, size: int
    ) -> dict[str, Any]:
        entries = self._v3_entries(from_type, rid, to_type)
        start = _decode_cursor(after, rid) if after else 0
        page: dict[str, Any] = {"results": entries[start : start + size]}
        if start + size < len(entries):
            cursor = _encode_cursor(rid, start + size)
            page["paging"] = {
                "next": {
                    "after": cursor,
                    "link": f"/crm/v3/objects/{from_type}/{rid}/associations/{to_type}"
                    f"?after={cursor}",
                }
            }
        return page

    def _v3_record_associations(
        self, from_type: str, rid: str, to_type: str, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        """GET /crm/v3/objects/{type}/{id}/associations/{toType}: where an embedded list's
        ``paging.next.link`` leads (hubspot-api-python#135 shows such a link)."""
        rec = self._get(from_type, rid)
        if rec["archived"]:
            raise ApiError(404, "Object not found", "OBJECT_NOT_FOUND")
        limit = _int_param(query, "limit", self.association_page_size)
        if not 1 <= limit <= ASSOC_LIST_MAX:
            raise ApiError(400, f"limit must be from 1 to {ASSOC_LIST_MAX}")
        size = min(limit, self.association_page_size)
        return 200, self._v3_page(from_type, rid, to_type, _first(query, "after") or None, size)

    def _v4_to(self, from_type: str, rid: str, to_type: str) -> list[dict[str, Any]]:
        return [
            {
                # HubSpot sends this id as a number (the newer spec says string: accept both).
                "toObjectId": int(to_id),
                "associationTypes": v4_types(
                    from_type, to_type, self._is_primary(from_type, rid, to_type, to_id)
                ),
            }
            for to_id in self._live_links(from_type, rid, to_type)
        ]

    def _assoc_batch(self, from_type: str, to_type: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST /crm/v4/associations/{from}/{to}/batch/read, paged per record (HS-spec:
        send a result's ``paging.next.after`` back beside that ``id``)."""
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise ApiError(400, "Invalid input JSON: 'inputs' must be a non-empty list")
        if len(inputs) > ASSOC_BATCH_MAX:
            raise ApiError(400, f"Batch input limit is {ASSOC_BATCH_MAX}, got {len(inputs)} inputs")
        started = self._now_iso()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        size = self.association_page_size
        for item in inputs:
            if not isinstance(item, dict) or item.get("id") in (None, ""):
                raise ApiError(400, "Invalid input JSON: each input is {id, after?}")
            rid = str(item["id"])
            rec = self._records[from_type].get(rid)
            if rec is None or rec["archived"]:
                errors.append(
                    _batch_error(
                        "OBJECT_NOT_FOUND",
                        f"{SINGULAR[from_type]} {rid} does not exist.",
                        {"fromObjectId": [rid]},
                    )
                )
                continue
            found = self._v4_to(from_type, rid, to_type)
            if not found:
                # Unverified: the answer for a record without associations (stricter: an error).
                errors.append(
                    _batch_error(
                        "OBJECT_NOT_FOUND",
                        f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {rid}.",
                        {"fromObjectId": [rid]},
                        "crm.associations.NO_ASSOCIATIONS_FOUND",
                    )
                )
                continue
            start = _decode_cursor(item.get("after"), rid) if item.get("after") else 0
            result: dict[str, Any] = {"from": {"id": rid}, "to": found[start : start + size]}
            if start + size < len(found):
                result["paging"] = {"next": {"after": _encode_cursor(rid, start + size)}}
            results.append(result)
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

    def _v4_record_associations(
        self, from_type: str, rid: str, to_type: str, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        """GET /crm/v4/objects/{type}/{id}/associations/{toType} (at most 500 per call)."""
        rec = self._get(from_type, rid)
        if rec["archived"]:
            raise ApiError(404, "Object not found", "OBJECT_NOT_FOUND")
        limit = _int_param(query, "limit", ASSOC_LIST_MAX)
        if not 1 <= limit <= ASSOC_LIST_MAX:
            raise ApiError(400, f"limit must be from 1 to {ASSOC_LIST_MAX}")
        found = self._v4_to(from_type, rid, to_type)
        after = _first(query, "after")
        start = _decode_cursor(after, rid) if after else 0
        body: dict[str, Any] = {"results": found[start : start + limit]}
        if start + limit < len(found):
            body["paging"] = {"next": {"after": _encode_cursor(rid, start + limit)}}
        return 200, body

    @staticmethod
    def _labels(from_type: str, to_type: str) -> list[dict[str, Any]]:
        primary, default = ASSOCIATION_TYPES.get((from_type, to_type), (None, 0))
        out = [{"category": "HUBSPOT_DEFINED", "typeId": default, "label": None}]
        if primary is not None:
            out.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": primary, "label": "Primary"})
        return out if default else []

    # -- sequences ---------------------------------------------------------------------------------

    def _user(self, query: dict[str, list[str]]) -> HubSpotUser:
        """The user of ``?userId=``: required, a user id (not an owner id), with a Sales or
        Service Hub Professional/Enterprise seat (HS-docs sequences guide)."""
        user_id = _first(query, "userId", "")
        if not user_id:
            raise ApiError(400, "userId is required", "VALIDATION_ERROR")
        user = self.users.get(user_id)
        if user is None:
            owner = next((o for o in self.owners if o["id"] == user_id), None)
            hint = f" ({user_id} is an owner id; use its userId {owner['userId']})" if owner else ""
            raise ApiError(400, f"userId {user_id} is not a user of this account{hint}")
        if not user.sequences_seat:
            # Unverified: HubSpot's exact body for a missing seat.
            raise ApiError(
                403,
                f"User {user_id} needs an assigned Sales Hub or Service Hub Professional or "
                "Enterprise seat to use sequences.",
                "FORBIDDEN",
                subCategory="SEQUENCES_SEAT_REQUIRED",
            )
        return user

    def _sequence_of(self, sequence_id: str, user: HubSpotUser) -> dict[str, Any]:
        """A sequence the user owns (stricter reading: no sharing between users)."""
        seq = next(
            (s for s in self.sequences if s["id"] == sequence_id and s["userId"] == user.user_id),
            None,
        )
        if seq is None:
            raise ApiError(
                404, f"Sequence {sequence_id} not found for user {user.user_id}", "OBJECT_NOT_FOUND"
            )
        return seq

    def _sequences(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        user = self._user(query)
        limit = _int_param(query, "limit", 10)
        if not 1 <= limit <= 100:
            raise ApiError(400, f"limit must be from 1 to 100, got {limit}")
        name = _first(query, "name", "").lower()
        mine = [
            s
            for s in self.sequences
            if s["userId"] == user.user_id and (not name or name in s["name"].lower())
        ]
        start = _int_param(query, "after", 0)
        # List items carry no steps (HS-spec PublicSequenceLiteResponse).
        page = [_sequence_lite(s) for s in mine[start : start + limit]]
        body: dict[str, Any] = {"total": len(mine), "results": page}
        if start + limit < len(mine):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, body

    def _sequence(self, sequence_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        seq = self._sequence_of(sequence_id, self._user(query))
        out = _sequence_lite(seq)
        out["dependencies"] = []
        out["steps"] = [
            {
                "stepOrder": i,
                "actionType": "EMAIL" if i % 2 == 0 else "TASK",
                "delayMillis": 86_400_000 * i,
                "createdAt": seq["createdAt"],
                "updatedAt": seq["updatedAt"],
            }
            for i in range(int(seq.get("steps", 3)))
        ]
        return 200, out

    def _enrollment_of(self, contact_id: str) -> tuple[int, Any]:
        contact = self._records["contacts"].get(contact_id)
        if contact is None or contact["archived"]:
            raise ApiError(404, f"Contact {contact_id} not found", "OBJECT_NOT_FOUND")
        enrollment = self.enrollments.get(contact_id)
        if enrollment is None:
            # Unverified: the not-enrolled answer (the spec gives only 200 and default).
            raise ApiError(404, f"No enrollment found for contact {contact_id}", "OBJECT_NOT_FOUND")
        keys = ("id", "sequenceId", "sequenceName", "enrolledBy", "enrolledByEmail", "toEmail",
                "enrolledAt", "updatedAt")  # fmt: skip
        return 200, {k: enrollment.get(k) for k in keys}

    def _enroll(self, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        user = self._user(query)
        missing = [k for k in ("contactId", "sequenceId", "senderEmail") if not body.get(k)]
        if missing:
            raise ApiError(400, f"Missing required field(s): {', '.join(missing)}")
        contact_id, sequence_id = str(body["contactId"]), str(body["sequenceId"])
        seq = self._sequence_of(sequence_id, user)
        contact = self._records["contacts"].get(contact_id)
        if contact is None or contact["archived"]:
            raise ApiError(404, f"Contact {contact_id} not found", "OBJECT_NOT_FOUND")
        sender = str(body["senderEmail"]).lower()
        # Sequences send from the user's connected personal inbox, which may differ from the
        # login email (knowledge.hubspot.com "Use sequences"); the error body is unverified.
        if sender not in {i.lower() for i in user.inboxes}:
            raise ApiError(
                400,
                f"senderEmail {body['senderEmail']} is not a connected inbox of user "
                f"{user.user_id} (connected: {', '.join(user.inboxes) or 'none'})",
                "VALIDATION_ERROR",
                subCategory="SENDER_NOT_CONNECTED",
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
            # A contact is in one sequence at a time; the real error is unverified.
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
            "enrolledBy": user.user_id,
            "enrolledByEmail": user.email,
        }
        self.enrollments[contact_id] = enrollment  # moves the contact's sequence properties
        self.created["enrollments"] += 1
        # HS-spec PublicSequenceEnrollmentLiteResponse: id, toEmail, enrolledAt, updatedAt.
        return 200, {k: enrollment[k] for k in ("id", "toEmail", "enrolledAt", "updatedAt")}


def _sequence_lite(seq: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "name", "userId", "createdAt", "updatedAt", "folderId")
    return {k: seq[k] for k in keys if k in seq}


def _batch_error(
    category: str, message: str, context: dict[str, list[str]], sub: str | None = None
) -> dict[str, Any]:
    """One entry of a 207's ``errors`` (HS-spec ``StandardError``)."""
    out: dict[str, Any] = {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }
    if sub:
        out["subCategory"] = sub
    return out


def _encode_cursor(rid: str, offset: int) -> str:
    """An opaque per-record paging cursor, bound to the record it pages."""
    return base64.urlsafe_b64encode(f"{rid}-{offset}".encode()).decode().rstrip("=")


def _decode_cursor(after: Any, rid: str) -> int:
    """The offset in a cursor from ``_encode_cursor``; 400 if it is not for ``rid``."""
    try:
        text = base64.urlsafe_b64decode(str(after) + "=" * (-len(str(after)) % 4)).decode()
        owner, _, offset = text.rpartition("-")
        if owner == rid and offset.isdigit():
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(400, f"Invalid after {after!r} for {rid}: send back the cursor given for it")


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
