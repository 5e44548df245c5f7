"""The fake HubSpot's CRM search: request checks, filters, sorting and the lagging index.

Rules (VENDOR-CONTRACTS 1.2): at most 200 per page and 10,000 results per query; 5 filter
groups, 6 filters per group, 18 in all; the operators of HS-spec ``Filter.operator``; date
values in epoch milliseconds; archived records are never found; the index shows creates and
updates only after a lag, so recent results are neither complete nor monotonic.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from csm_tui.fakes.hubspot_schema import ApiError, PropertyDef, is_epoch_ms, to_ms

SEARCH_PAGE_MAX = 200  # HS-spec PublicObjectSearchRequest.limit "up to 200"
SEARCH_RESULTS_MAX = 10_000  # HS-docs search "Limitations"
MAX_GROUPS, MAX_PER_GROUP, MAX_FILTERS = 5, 6, 18  # the strictest published reading (1.2)
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
_NO_VALUE = frozenset({"HAS_PROPERTY", "NOT_HAS_PROPERTY"})
_LIST_VALUE = frozenset({"IN", "NOT_IN"})
TOKEN_RE = re.compile(r"[0-9A-Za-z_]+")


def kind_of(prop: PropertyDef | None) -> str:
    """How a property compares: ``time``, ``number`` or ``string`` (None: not in the schema)."""
    if prop is None:
        return "missing"
    if prop.type in ("datetime", "date"):
        return "time"
    if prop.type == "number":
        return "number"
    return "string"


_SORT_CACHE: dict[tuple[str, str], Any] = {}


def comparable(kind: str, text: str | None) -> Any:
    """A value that orders the way HubSpot orders the property (None when it cannot)."""
    if text is None or text == "":
        return None
    key = (kind, text)
    found = _SORT_CACHE.get(key, _SORT_CACHE)
    if found is not _SORT_CACHE:
        return found
    value: Any
    if kind == "time":
        value = to_ms(text)
    elif kind == "number":
        try:
            value = float(text)
        except ValueError:
            value = None
    else:
        value = text.lower()
    # A search scans every record of its type: parsing their dates once, not per page, keeps
    # the fake from being the slow side of a 10,000-account sync.
    if len(_SORT_CACHE) > 2_000_000:
        _SORT_CACHE.clear()
    _SORT_CACHE[key] = value
    return value


def check_request(body: dict[str, Any]) -> tuple[int, int, list[dict[str, Any]], Any, str]:
    """(limit, after, filter groups, sort, query) of a valid search body, else a 400."""
    limit = body.get("limit", 10)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= SEARCH_PAGE_MAX:
        raise ApiError(
            400, f"limit must be a whole number from 1 to {SEARCH_PAGE_MAX}, got {limit!r}"
        )
    raw_after = body.get("after")
    if raw_after in (None, ""):
        after = 0
    elif (
        isinstance(raw_after, (str, int))
        and not isinstance(raw_after, bool)
        and str(raw_after).isdigit()
    ):
        after = int(raw_after)
    else:
        raise ApiError(400, f"Invalid after: {raw_after!r}")
    # Results past 10,000 cannot be reached: a page that would reach past it is refused, not
    # cut short (stricter reading of "paging past it is a 400", VENDOR-CONTRACTS 1.2).
    if after + limit > SEARCH_RESULTS_MAX:
        raise ApiError(
            400,
            "There was a problem with the request: search returns at most 10,000 results per "
            f"query, and after={after} with limit={limit} reaches past them. Narrow the query "
            "(e.g. hs_object_id GT the last id seen) and start again at after=0.",
            "VALIDATION_ERROR",
        )
    groups = body.get("filterGroups") or []
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list):
        raise ApiError(400, "sorts must be a list")
    # One sort rule, each {propertyName, direction} (HS-docs search; the spec's string[] is an
    # artefact): strings and extra rules are refused (unverified: stricter reading).
    if len(sorts) > 1:
        raise ApiError(400, "Only one sort rule is supported per search")
    sort = sorts[0] if sorts else None
    if sort is not None:
        if not isinstance(sort, dict) or not sort.get("propertyName"):
            raise ApiError(400, f"A sort needs a propertyName and a direction, got {sort!r}")
        if str(sort.get("direction", "ASCENDING")).upper() not in ("ASCENDING", "DESCENDING"):
            raise ApiError(400, f"Unknown sort direction {sort.get('direction')!r}")
    query = body.get("query") or ""
    if not isinstance(query, str) or len(query) > 3000:
        raise ApiError(400, "query must be a string of at most 3000 characters")
    return limit, after, groups, sort, query


def check_filters(groups: Any, schema: dict[str, PropertyDef]) -> None:
    """Refuse too many groups or filters, unknown operators and non-epoch-ms dates (400)."""
    if not isinstance(groups, list):
        raise ApiError(400, "filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise ApiError(400, f"Too many filter groups ({len(groups)}); at most {MAX_GROUPS}")
    total = 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise ApiError(400, "Each filter group needs a list of filters")
        if len(filters) > MAX_PER_GROUP:
            raise ApiError(
                400, f"Too many filters in a group ({len(filters)}); at most {MAX_PER_GROUP}"
            )
        total += len(filters)
        for f in filters:
            _check_filter(f, schema)
    if total > MAX_FILTERS:
        raise ApiError(400, f"Too many filters ({total}); at most {MAX_FILTERS} in all")


def _check_filter(f: Any, schema: dict[str, PropertyDef]) -> None:
    if not isinstance(f, dict) or not f.get("propertyName"):
        raise ApiError(400, "A filter needs a propertyName")
    op = f.get("operator")
    if op not in OPERATORS:
        raise ApiError(400, f"Unknown operator {op!r}; use one of {sorted(OPERATORS)}")
    if op in _LIST_VALUE:
        if not isinstance(f.get("values"), list) or not f["values"]:
            raise ApiError(400, f"Operator {op} needs 'values' (a non-empty list)")
        values = list(f["values"])
    elif op in _NO_VALUE:
        values = []
    else:
        if f.get("value") is None:
            raise ApiError(400, f"Operator {op} needs a 'value'")
        values = [f["value"]]
        if op == "BETWEEN":
            if f.get("highValue") is None:
                raise ApiError(400, "Operator BETWEEN needs a 'highValue'")
            values.append(f["highValue"])
    kind = kind_of(schema.get(f["propertyName"]))
    for v in values:
        if isinstance(v, (dict, list)):
            raise ApiError(400, f"Filter values are strings, got {v!r}")
        text = str(v)
        # Dates in filters are epoch milliseconds (HS-docs FAQ on timestamps); ISO strings
        # are refused (stricter reading: some are reportedly accepted).
        if kind == "time" and not is_epoch_ms(text):
            raise ApiError(
                400,
                f"{text!r} is not a valid date for {f['propertyName']}: use epoch milliseconds",
            )
        if kind == "number" and comparable("number", text) is None:
            raise ApiError(400, f"{text!r} is not a valid number for {f['propertyName']}")


def compile_filter(
    f: dict[str, Any], schema: dict[str, PropertyDef]
) -> Callable[[dict[str, str]], bool]:
    """A predicate over a record's properties for one (checked) search filter."""
    prop = f["propertyName"]
    op = f["operator"]
    kind = kind_of(schema.get(prop))
    if kind == "missing":
        # A property the object does not have matches nothing, whatever the operator: contacts
        # filtered on hs_lastmodifieddate silently return nothing (VENDOR-CONTRACTS 1.2).
        return lambda props: False

    def value_of(props: dict[str, str]) -> Any:
        return comparable(kind, props.get(prop))

    if op == "HAS_PROPERTY":
        return lambda props: props.get(prop) not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return lambda props: props.get(prop) in (None, "")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(f.get("value", "")).lower()
        wanted = [t.lower() for t in TOKEN_RE.findall(pattern.replace("*", ""))]

        def contains(props: dict[str, str]) -> bool:
            text = (props.get(prop) or "").lower()
            if "*" in pattern:
                return re.search(re.escape(pattern).replace(r"\*", r"\S*"), text) is not None
            tokens = set(TOKEN_RE.findall(text))
            return bool(wanted) and all(t in tokens for t in wanted)

        if op == "CONTAINS_TOKEN":
            return contains
        return lambda props: not contains(props)
    if op in _LIST_VALUE:
        options = {comparable(kind, str(v)) for v in f["values"]}
        if op == "IN":
            return lambda props: value_of(props) in options
        return lambda props: value_of(props) not in options
    target = comparable(kind, str(f["value"]))
    if op == "BETWEEN":
        high = comparable(kind, str(f["highValue"]))

        def between(props: dict[str, str]) -> bool:
            v = value_of(props)
            return v is not None and target <= v <= high

        return between
    if op == "NEQ":
        return lambda props: value_of(props) != target
    if op == "EQ":
        return lambda props: value_of(props) == target
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
    }
    compare = comparisons[op]

    def ordered(props: dict[str, str]) -> bool:
        v = value_of(props)
        return v is not None and compare(v, target)

    return ordered


def snapshot(rec: dict[str, Any]) -> dict[str, Any]:
    """A copy of a record as the search index would hold it."""
    out = dict(rec)
    out["properties"] = dict(rec["properties"])
    return out


@dataclass
class _Pending:
    """What the index holds for one record (None: not yet indexed) and the changes in flight."""

    indexed: dict[str, Any] | None
    changes: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


class SearchIndex:
    """HubSpot's search index: each record as of its last change that has been indexed.

    A change reaches search ``lag × (1 − jitter × u)`` seconds after it happened (``u`` in
    [0, 1) drawn per change from its record id), so later changes can land before earlier
    ones: results near the lag edge are incomplete and not monotonic in modified date
    (VENDOR-CONTRACTS 1.2, "Index lag"; no bound is published). Until then search sees the
    record's old values and old modified date, or nothing for a create. List, GET and batch
    read always see the current record.
    """

    def __init__(self) -> None:
        self._pending: dict[str, dict[str, _Pending]] = {}
        self._serial = 0

    def changed(
        self,
        obj_type: str,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        at: float,
        lag: float,
        jitter: float,
    ) -> None:
        """Note a change made at ``at`` (epoch seconds); ``before`` is the record as it was."""
        if lag <= 0:
            return
        per_type = self._pending.setdefault(obj_type, {})
        rid = after["id"]
        entry = per_type.get(rid)
        if entry is None:
            entry = per_type[rid] = _Pending(before)
        self._serial += 1
        u = (zlib.crc32(f"{rid}:{self._serial}".encode()) % 10_000) / 10_000
        entry.changes.append((at + lag * (1.0 - jitter * u), snapshot(after)))

    def pending(self, obj_type: str) -> dict[str, _Pending]:
        """Records of the type whose latest change search does not show yet (may be empty)."""
        return self._pending.get(obj_type, {})

    def catch_up(self, obj_type: str, now: float, lag: float) -> None:
        """Index every change due by ``now``; with no lag, index everything at once."""
        per_type = self._pending.get(obj_type)
        if not per_type:
            return
        if lag <= 0:
            per_type.clear()
            return
        done = []
        for rid, entry in per_type.items():
            due = [i for i, (when, _) in enumerate(entry.changes) if when <= now]
            if due:
                # The newest due change wins; older ones still in flight are superseded.
                last = due[-1]
                entry.indexed = entry.changes[last][1]
                del entry.changes[: last + 1]
            if not entry.changes:
                done.append(rid)
        for rid in done:
            del per_type[rid]  # caught up: search sees the live record

    def view(self, obj_type: str, rid: str, live: dict[str, Any]) -> dict[str, Any] | None:
        """The record as search sees it after ``catch_up`` (None: not indexed yet)."""
        entry = self._pending.get(obj_type, {}).get(rid)
        return live if entry is None else entry.indexed
