"""What the fake PostHog makes of a parsed HogQL query (csm_tui/fakes/posthog_hogql.py).

The fake holds pre-aggregated rows, not events, so it answers the two aggregations csm-tui
asks for, however they are spelled: weekly usage per (group, week, event) and per-user activity
per (group, person). From the AST it learns the group, the time window, the key order, the
keyset condition of a later page and the LIMIT; a query of another shape is refused with 400
(the fake's limit, said so in the detail). Two approximations follow from the aggregates: a
usage window starting inside a week counts that whole week (the client's windows start on the
project's Mondays), and ``events_30d`` is the stored count whatever its countIf bound.
PostHog's own checks come first, in PostHog's order: OFFSET (posthog/hogql/
user_query_validator.py), then fields that do not exist.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from csm_tui.fakes.posthog_hogql import Node, walk

# PostHog's words, verbatim (posthog/hogql/user_query_validator.py, OFFSET_NOT_ALLOWED_MESSAGE).
OFFSET_NOT_ALLOWED = (
    "OFFSET is not supported on queries made with a personal API key. "
    "For pagination, use keyset pagination on the `timestamp` column, e.g. "
    "`WHERE timestamp > :last_seen_timestamp ORDER BY timestamp LIMIT N`. "
    "For bulk data extraction, use batch exports: https://posthog.com/docs/cdp/batch-exports"
)
MAX_LIMIT = 50_000  # posthog/hogql/constants.py MAX_SELECT_RETURNED_ROWS
DEFAULT_LIMIT = 100  # posthog/hogql/constants.py DEFAULT_RETURNED_ROWS

# Fields of the events table (posthog/hogql/database/schema/events.py, EventsTable.fields).
EVENTS_FIELDS = frozenset(
    {
        "uuid", "event", "properties", "timestamp", "team_id", "distinct_id", "elements_chain",
        "created_at", "$session_id", "$session_id_uuid", "$window_id", "person_mode", "pdi",
        "poe", "person", "person_id", "session", "elements_chain_href",
        "elements_chain_texts", "elements_chain_ids", "elements_chain_elements",
        *(f"$group_{i}" for i in range(5)), *(f"group_{i}" for i in range(5)),
        *(f"goe_{i}" for i in range(5)),
    }
)  # fmt: skip
# The HogQL functions this fake evaluates, each one PostHog has (posthog/hogql/functions/:
# aggregations.py count, countIf, any, max; clickhouse/datetime.py toStartOfWeek,
# toStartOfDay, now, toIntervalSecond..toIntervalWeek; clickhouse/conversions.py toDateTime,
# toDate, toString, toUUID).
FUNCTIONS = frozenset(
    {
        "count", "countIf", "any", "max", "toStartOfWeek", "toStartOfDay", "now",
        "toDateTime", "toDate", "toString", "toUUID", "toIntervalSecond", "toIntervalMinute",
        "toIntervalHour", "toIntervalDay", "toIntervalWeek",
    }
)  # fmt: skip
_SECONDS = {"toIntervalSecond": 1, "toIntervalMinute": 60, "toIntervalHour": 3600}
_DAYS = {"toIntervalDay": 1, "toIntervalWeek": 7}


class Refused(Exception):
    """A query the fake answers with 400 ``validation_error`` and this code and detail."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def unsupported(what: str) -> Refused:
    """A valid query this fake cannot answer (its limit, not PostHog's)."""
    return Refused("hogql_query_error", f"This fake PostHog does not answer {what}.")


def has_offset(ast: Node) -> bool:
    """Whether any SELECT (or set of SELECTs, or LIMIT BY) has an OFFSET; SAMPLE's OFFSET is a
    sampling parameter and does not count (user_query_validator.py)."""
    for node in walk(ast):
        kind = node.get("node")
        if kind in ("SelectQuery", "SelectSetQuery") and node.get("offset") is not None:
            return True
        if kind == "LimitByExpr" and node.get("offset_value") is not None:
            return True
    return False


def render(node: Any) -> str:
    """A node as normalised HogQL text, for recognising expressions however spaced."""
    if not isinstance(node, dict):
        return repr(node)
    kind = node.get("node")
    if kind == "Field":
        return ".".join(str(part) for part in node["chain"])
    if kind == "Constant":
        value = node.get("value")
        return f"'{value}'" if isinstance(value, str) else repr(value)
    if kind == "Call":
        args = ", ".join(render(a) for a in node.get("args") or ())
        return f"{node['name']}({'DISTINCT ' if node.get('distinct') else ''}{args})"
    if kind == "Alias":
        return render(node["expr"])
    if kind == "CompareOperation":
        return f"{render(node['left'])} {node['op']} {render(node['right'])}"
    if kind == "ArithmeticOperation":
        return f"{render(node['left'])} {node['op']} {render(node['right'])}"
    if kind in ("And", "Or"):
        return f" {kind.upper()} ".join(f"({render(e)})" for e in node["exprs"])
    if kind == "Tuple":
        return "(" + ", ".join(render(e) for e in node["exprs"]) + ")"
    return f"<{kind}>"


def uuid_order(text: str) -> tuple[int, int]:
    """Where ClickHouse sorts a UUID: by its second half, then its first (clickhouse.com docs,
    "UUID": "Due to historical reasons, UUIDs are sorted by their second half")."""
    value = uuid.UUID(text).int
    return (value & ((1 << 64) - 1), value >> 64)


Order = Literal["text", "uuid"]


@dataclass(frozen=True)
class Key:
    """One GROUP BY column of a shape: how it is written and where it is in a data row."""

    spellings: tuple[str, ...]  # rendered HogQL that means this column
    index: int  # in the fake's data rows


@dataclass(frozen=True)
class Shape:
    """One of the two aggregations the fake answers."""

    kind: Literal["usage", "users"]
    columns: dict[str, tuple[int, str]]  # rendered expression -> (data index, ClickHouse type)
    keys: tuple[Key, ...]


def shape_of(kind: str, group: int, tz: str) -> Shape:
    """The usage or users aggregation over ``$group_{group}``."""
    g = f"$group_{group}"
    if kind == "usage":
        return Shape(
            "usage",
            {
                g: (0, "String"),
                "toStartOfWeek(timestamp, 1)": (1, "Date"),
                "event": (2, "String"),
                "count()": (3, "UInt64"),
                "count(DISTINCT person_id)": (4, "UInt64"),
            },
            (Key((g,), 0), Key(("toStartOfWeek(timestamp, 1)",), 1), Key(("event",), 2)),
        )
    return Shape(
        "users",
        {
            g: (0, "String"),
            "person_id": (1, "UUID"),
            "toString(person_id)": (1, "String"),
            "any(person.properties.email)": (2, "String"),
            "max(timestamp)": (3, f"DateTime64(6, '{tz}')"),
            "countIf": (4, "UInt64"),  # countIf(timestamp >= <instant>): checked apart
        },
        (Key((g,), 0), Key(("person_id", "toString(person_id)"), 1)),
    )


@dataclass(frozen=True)
class Atom:
    """``key op value`` over one key column, compared as ``order`` says."""

    key: int  # position in the shape's keys
    op: str
    value: Any
    order: Order


@dataclass
class Plan:
    """What a query asks of the fake's rows."""

    kind: Literal["usage", "users", "constant"]
    group: int
    columns: list[str]
    types: list[list[str]]
    picks: list[int]  # data-row index of each selected column
    order: tuple[Order, ...]  # per key column
    since: datetime | None = None  # timestamp >= since (events in the window)
    until: datetime | None = None  # timestamp < until (usage only)
    active_since: datetime | None = None  # HAVING max(timestamp) >= active_since
    after: tuple[Any, ...] | None = None  # a keyset: rows whose key comes after this
    inclusive: bool = False  # the keyset's last comparison is >=
    keep: Callable[[Sequence[Any]], bool] | None = None  # any other condition on the keys
    limit: int | None = None  # an explicit LIMIT (None: PostHog's default and hasMore)
    row: list[Any] | None = None  # a SELECT without FROM: its one row (instants, dates)


class Planner:
    """Reads one parsed SELECT into a Plan, with ``now`` in the project's zone ``tz``."""

    def __init__(self, ast: Node, now: datetime, tz: ZoneInfo) -> None:
        self.ast = ast
        self.now = now.astimezone(tz)
        self.tz = tz
        self.aliases: dict[str, Node] = {}

    def plan(self) -> Plan:
        """The plan, or Refused."""
        ast = self.ast
        if has_offset(ast):
            raise Refused("hogql_query_error", OFFSET_NOT_ALLOWED)
        if ast.get("node") != "SelectQuery":
            raise unsupported("UNION queries")
        if ast.get("select_from") is None:
            self._check_names()
            return self._constant()
        table = (ast.get("select_from") or {}).get("table") or {}
        if table.get("node") != "Field" or table.get("chain") != ["events"]:
            raise unsupported("queries on anything but the events table")
        if (ast.get("select_from") or {}).get("next_join") is not None:
            raise unsupported("joins")
        for column in ast["select"]:
            if column.get("node") == "Alias":
                self.aliases[column["alias"]] = column["expr"]
        self._check_names()
        group = self._group_index()
        shape = self._shape(group)
        order = self._order(shape)
        plan = self._columns(shape, group, order)
        self._where(plan, shape)
        self._having(plan)
        limit = ast.get("limit")
        if limit is not None:
            if limit.get("node") != "Constant" or not isinstance(limit.get("value"), int):
                raise unsupported("a LIMIT that is not a number")
            plan.limit = limit["value"]
        return plan

    def _constant(self) -> Plan:
        """``SELECT now() AS now`` and the like: one row of instants in the project's zone."""
        names, types, row = [], [], []
        for column in self.ast["select"]:
            expr = self._resolve(column)
            moment = self.instant(expr)
            day = expr.get("node") == "Call" and expr["name"] in ("toStartOfWeek", "toDate")
            names.append(column["alias"] if column.get("node") == "Alias" else render(expr))
            types.append([names[-1], "Date" if day else f"DateTime64(6, '{self.tz.key}')"])
            row.append(moment.date() if day else moment)
        return Plan("constant", -1, names, types, [], (), row=row)

    # -- names

    def _check_names(self) -> None:
        """Every field is an events column or a select alias, every function one PostHog has
        and this fake evaluates (PostHog: "Unable to resolve field: x")."""
        for node in walk(self.ast):
            kind = node.get("node")
            if kind == "Field" and node is not (self.ast.get("select_from") or {}).get("table"):
                head = str(node["chain"][0])
                if head not in EVENTS_FIELDS and head not in self.aliases:
                    raise Refused("hogql_query_error", f"Unable to resolve field: {head}")
            elif kind == "Call" and node["name"] not in FUNCTIONS:
                raise unsupported(f"the function {node['name']}()")
            elif kind not in (None, "SelectQuery", "JoinExpr", "Field", "Call", "Alias",
                              "Constant", "CompareOperation", "ArithmeticOperation", "And",
                              "Or", "Tuple", "OrderExpr"):  # fmt: skip
                raise unsupported(f"{kind} expressions")

    def _resolve(self, node: Node) -> Node:
        """An alias's expression in place of the alias (ClickHouse lets every clause use
        select aliases)."""
        if node.get("node") == "Alias":
            return self._resolve(node["expr"])
        if node.get("node") == "Field" and len(node["chain"]) == 1:
            name = node["chain"][0]
            if name in self.aliases and name not in EVENTS_FIELDS:
                return self._resolve(self.aliases[name])
        return node

    def _group_index(self) -> int:
        found = {
            int(str(n["chain"][0])[-1])
            for n in walk(self.ast)
            if n.get("node") == "Field" and str(n["chain"][0]).startswith("$group_")
        }
        if len(found) != 1:
            raise unsupported("queries that do not name exactly one $group_N")
        return found.pop()

    # -- the shape, from GROUP BY

    def _shape(self, group: int) -> Shape:
        keys = [render(self._resolve(k)) for k in self.ast.get("group_by") or ()]
        tz = str(self.tz.key)
        for kind in ("usage", "users"):
            shape = shape_of(kind, group, tz)
            if len(keys) == len(shape.keys) and all(
                k in key.spellings for k, key in zip(keys, shape.keys, strict=True)
            ):
                return shape
        raise unsupported(f"GROUP BY {', '.join(keys) or '(nothing)'}")

    def _key(self, node: Node, shape: Shape) -> tuple[int, Order] | None:
        """Which key column ``node`` is, and how it compares; None when it is none."""
        text = render(self._resolve(node))
        for position, key in enumerate(shape.keys):
            if text in key.spellings:
                return position, ("uuid" if text == "person_id" else "text")
        return None

    def _order(self, shape: Shape) -> tuple[Order, ...]:
        orders = self.ast.get("order_by")
        if not orders:
            return tuple("text" for _ in shape.keys)
        found: list[Order] = []
        for position, item in enumerate(orders):
            key = self._key(item["expr"], shape)
            if key is None or key[0] != position or item.get("order") != "ASC":
                raise unsupported("an ORDER BY other than the GROUP BY columns, ascending")
            found.append(key[1])
        if len(found) != len(shape.keys):
            raise unsupported("an ORDER BY other than the GROUP BY columns, ascending")
        return tuple(found)

    def _columns(self, shape: Shape, group: int, order: tuple[Order, ...]) -> Plan:
        names, types, picks = [], [], []
        for column in self.ast["select"]:
            expr = self._resolve(column)
            text = render(expr)
            if text.startswith("countIf(") and shape.kind == "users":
                args = expr.get("args") or []
                if len(args) != 1 or not self._is_window(args[0]):
                    raise unsupported(f"the column {text}")
                text = "countIf"
            if text not in shape.columns:
                raise unsupported(f"the column {text}")
            index, kind = shape.columns[text]
            if column.get("node") == "Alias":
                names.append(column["alias"])
            elif expr.get("node") == "Field":
                names.append(".".join(map(str, expr["chain"])))
            else:
                names.append(text)
            types.append([names[-1], kind])
            picks.append(index)
        return Plan(shape.kind, group, names, types, picks, order)

    def _is_window(self, node: Node) -> bool:
        """``timestamp >= <instant>``: the one countIf condition the fake understands."""
        if node.get("node") != "CompareOperation" or node.get("op") not in (">=", ">"):
            return False
        if render(self._resolve(node["left"])) != "timestamp":
            return False
        self.instant(node["right"])  # refused when it is not an instant
        return True

    # -- WHERE

    def _where(self, plan: Plan, shape: Shape) -> None:
        where = self.ast.get("where")
        terms = (where["exprs"] if where.get("node") == "And" else [where]) if where else []
        grouped = False
        conditions: list[Node] = []
        for term in terms:
            left = self._resolve(term["left"]) if term.get("node") == "CompareOperation" else {}
            op = term.get("op")
            if render(left) == "timestamp" and op in (">=", ">"):
                since = self.instant(term["right"])
                plan.since = max(plan.since, since) if plan.since else since
            elif render(left) == "timestamp" and op in ("<", "<=") and plan.kind == "usage":
                until = self.instant(term["right"])
                plan.until = min(plan.until, until) if plan.until else until
            elif (
                render(left) == f"$group_{plan.group}"
                and op == "!="
                and term["right"] == {"node": "Constant", "value": ""}
            ):
                grouped = True
            else:
                conditions.append(term)
        if not grouped:
            # Without it PostHog adds up every ungrouped event under ''; the fake cannot.
            raise unsupported(f"queries without {'$group_'}{plan.group} != ''")
        if conditions:
            terms_dnf = self._dnf({"node": "And", "exprs": conditions}, shape)
            keyset = _keyset(terms_dnf, plan.order)
            if keyset is not None:
                plan.after, plan.inclusive = keyset
            else:
                plan.keep = _predicate(terms_dnf, shape)

    def _dnf(self, node: Node, shape: Shape) -> list[list[Atom]]:
        """``node`` as OR-ed lists of AND-ed comparisons of key columns with constants."""
        kind = node.get("node")
        if kind == "Or":
            return [term for e in node["exprs"] for term in self._dnf(e, shape)]
        if kind == "And":
            parts = [self._dnf(e, shape) for e in node["exprs"]]
            return [list(itertools.chain.from_iterable(c)) for c in itertools.product(*parts)]
        if kind == "CompareOperation":
            left, right = self._resolve(node["left"]), self._resolve(node["right"])
            if left.get("node") == "Tuple" and right.get("node") == "Tuple":
                return self._tuple_dnf(left["exprs"], node["op"], right["exprs"], shape)
            key = self._key(left, shape)
            if key is not None:
                return [[Atom(key[0], node["op"], self.constant(right, key[1]), key[1])]]
        raise unsupported(f"the condition {render(node)}")

    def _tuple_dnf(
        self, lefts: list[Node], op: str, rights: list[Node], shape: Shape
    ) -> list[list[Atom]]:
        """``(a, b) > (x, y)`` written out (ClickHouse compares tuples in order)."""
        keys = [self._key(n, shape) for n in lefts]
        if op not in (">", ">=") or None in keys or len(lefts) != len(rights):
            raise unsupported(f"the tuple comparison {op}")
        values = [self.constant(r, k[1]) for r, k in zip(rights, keys, strict=True)]  # type: ignore[index]
        terms = []
        for i, key in enumerate(keys):
            assert key is not None
            last = op if i == len(keys) - 1 else ">"
            equal = [Atom(k[0], "==", v, k[1]) for k, v in zip(keys[:i], values[:i], strict=True)]  # type: ignore[index]
            terms.append([*equal, Atom(key[0], last, values[i], key[1])])
        return terms

    # -- HAVING

    def _having(self, plan: Plan) -> None:
        having = self.ast.get("having")
        if having is None:
            return
        if (
            plan.kind == "users"
            and having.get("node") == "CompareOperation"
            and having.get("op") in (">=", ">")
            and render(self._resolve(having["left"])) == "max(timestamp)"
        ):
            plan.active_since = self.instant(having["right"])
            return
        raise unsupported(f"HAVING {render(having)}")

    # -- constants

    def constant(self, node: Node, order: Order) -> Any:
        """A literal compared with a key column (text, a date, a UUID)."""
        if node.get("node") == "Constant" and isinstance(node.get("value"), str | int):
            value = str(node["value"])
        elif (
            node.get("node") == "Call"
            and node["name"] in ("toDate", "toUUID", "toString")
            and len(node["args"]) == 1
        ):
            value = str(self.constant(node["args"][0], "text"))
            if node["name"] == "toDate":
                value = self._date(value).isoformat()
        else:
            raise unsupported(f"the value {render(node)}")
        if order == "uuid":
            try:
                return uuid_order(value)
            except ValueError:
                raise Refused("hogql_query_error", f"Cannot parse UUID: {value}") from None
        return value

    def _date(self, text: str) -> date:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            raise Refused("hogql_query_error", f"Cannot parse date: {text}") from None

    def instant(self, node: Node) -> datetime:
        """A constant instant: now(), toDateTime('...'), toDate('...'), toStartOfDay(x),
        toStartOfWeek(x, mode) and x +/- INTERVAL n unit, in the project's zone (HogQL reads a
        wall-clock literal there, posthog/hogql/printer.py tz_aware functions)."""
        kind = node.get("node")
        args = node.get("args") or []
        if kind == "Call" and node["name"] == "now" and not args:
            return self.now
        if kind == "Call" and node["name"] in ("toDateTime", "toDate") and len(args) == 1:
            text = args[0].get("value") if args[0].get("node") == "Constant" else None
            if not isinstance(text, str):
                raise unsupported(f"{node['name']} of anything but a text")
            if node["name"] == "toDate":
                return self._midnight(self._date(text))
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise Refused("hogql_query_error", f"Cannot parse date time: {text}") from None
            return moment.replace(tzinfo=self.tz) if moment.tzinfo is None else moment
        if kind == "Call" and node["name"] == "toStartOfDay" and len(args) == 1:
            return self._midnight(self.instant(args[0]).astimezone(self.tz).date())
        if kind == "Call" and node["name"] == "toStartOfWeek" and len(args) in (1, 2):
            mode = args[1].get("value") if len(args) == 2 else 0
            day = self.instant(args[0]).astimezone(self.tz).date()
            # Mode 1 (and 3): weeks start on Monday; 0 (and 2): on Sunday.
            back = day.weekday() if mode in (1, 3) else (day.weekday() + 1) % 7
            return self._midnight(day - timedelta(days=back))
        if kind == "ArithmeticOperation" and node["op"] in ("+", "-"):
            base = self.instant(node["left"]).astimezone(self.tz)
            step = node["right"]
            amount = (step.get("args") or [{}])[0].get("value")
            if step.get("node") != "Call" or not isinstance(amount, int):
                raise unsupported(f"the interval {render(step)}")
            sign = 1 if node["op"] == "+" else -1
            if step["name"] in _SECONDS:
                return base + sign * timedelta(seconds=amount * _SECONDS[step["name"]])
            if step["name"] in _DAYS:  # calendar days: the wall clock stays, across DST too
                wall = base.replace(tzinfo=None) + sign * timedelta(
                    days=amount * _DAYS[step["name"]]
                )
                return wall.replace(tzinfo=self.tz)
            raise unsupported(f"the interval {render(step)}")
        raise unsupported(f"the instant {render(node)}")

    def _midnight(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.tz)


def _keyset(
    terms: list[list[Atom]], order: tuple[Order, ...]
) -> tuple[tuple[Any, ...], bool] | None:
    """The key a keyset condition starts after, and whether it includes it; None when the
    condition is not exactly ``(k1 .. km) > (v1 .. vm)`` in the ORDER BY's own order."""
    if not terms or len(terms) > len(order):
        return None
    values: dict[int, Any] = {}
    inclusive = False
    for term in sorted(terms, key=len):
        last = len(term) - 1
        equal = sorted((a for a in term if a.op == "=="), key=lambda a: a.key)
        step = [a for a in term if a.op != "=="]
        if len(step) != 1 or [a.key for a in equal] != list(range(last)):
            return None
        atom = step[0]
        if atom.key != last or atom.op not in (">", ">=") or atom.order != order[last]:
            return None
        if atom.op == ">=":
            if last != len(terms) - 1:
                return None
            inclusive = True
        if any(a.order != order[a.key] or values.get(a.key, a.value) != a.value for a in equal):
            return None
        if values.setdefault(atom.key, atom.value) != atom.value:
            return None
    return tuple(values[i] for i in range(len(terms))), inclusive


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _predicate(terms: list[list[Atom]], shape: Shape) -> Callable[[Sequence[Any]], bool]:
    """A row filter for any other condition on the key columns."""

    def value(row: Sequence[Any], atom: Atom) -> Any:
        found = row[shape.keys[atom.key].index]
        return uuid_order(str(found)) if atom.order == "uuid" else str(found)

    def keep(row: Sequence[Any]) -> bool:
        return any(all(_COMPARE[a.op](value(row, a), a.value) for a in term) for term in terms)

    return keep
