"""Every HogQL query csm-tui can send parses with PostHog's own parser and uses only what
PostHog's schema has.

The client's queries vary with its settings and the data: the group type index (0-4), the weeks
pulled (a re-pull of 0-8 weeks, a whole pull of 4-104), the project's day (DST changes, a year's
end, a leap day), the first page or a later one (a keyset after any account, week, event or
user, quotes and backslashes included), the users active today or all, and the page size. Each
query is parsed with ``hogql-parser`` (PostHog's C++ parser, PyPI), then checked against the
schema below, read from PostHog's source; the fake PostHog's fallback parser (the demo's, when
``hogql-parser`` is not installed) must give the same AST, and the fake must be able to answer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csm_tui.fakes.posthog_hogql import (
    FALLBACK,
    HOGQL_PARSER,
    HogQLSyntaxError,
    Node,
    parse_select,
    posthog_parser,
    strip_positions,
    walk,
)
from csm_tui.fakes.posthog_query import Planner, has_offset
from csm_tui.sources.posthog import (
    CLOCK_QUERY,
    MAX_ROWS,
    hogql_string,
    user_activity_query,
    weekly_usage_query,
)

# The events table's fields (PostHog/posthog: posthog/hogql/database/schema/events.py,
# EventsTable.fields) that the client uses; `person` is the lazy join to persons, whose
# `properties` hold the email (posthog/hogql/database/schema/persons.py).
EVENTS_FIELDS = {"timestamp", "event", "person_id", "person", *(f"$group_{i}" for i in range(5))}
# HogQL functions the client calls, with the argument counts PostHog allows (HogQLFunctionMeta
# min_args, max_args): aggregations.py HOGQL_AGGREGATIONS (count, countIf, any, max);
# clickhouse/datetime.py DATETIME_FUNCTIONS (toStartOfWeek) and DATE_GENERATOR_FUNCTIONS (now);
# clickhouse/conversions.py (toDateTime, toDate, toString).
FUNCTIONS = {
    "now": (0, 1),
    "count": (0, 1),
    "countIf": (1, 2),
    "any": (1, 1),
    "max": (1, 1),
    "toStartOfWeek": (1, 2),
    "toDateTime": (1, 2),
    "toDate": (1, 1),
    "toString": (1, 2),
}
# A one-argument toDateTime in this form is printed as toDateTime(value, <project time zone>)
# (posthog/hogql/printer.py, tz_aware functions): the wall-clock time in the project's zone.
WALL_CLOCK = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# The project's days the queries are written on: an ordinary Monday, a Sunday, the days DST
# starts and ends in New York, a year's last day and a leap day.
DAYS = [
    date(2026, 11, 23),
    date(2026, 11, 22),
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 12, 31),
    date(2028, 2, 29),
]
USAGE_WEEKS = [0, 2, 8, 26, 104]  # repull_weeks 0-8, weeks 4-104
USER_WEEKS = [4, 26, 104]
LIMITS = [1, 400, 10_000, MAX_ROWS]
# Keys a later page starts after: odd accounts, events and users the data can hold.
ACCOUNTS = ["acme.com", "o'brien.ie", "back\\slash.io", "ünïcødé.de", "tab\there.com"]
EVENTS = ["$pageview", "report created", "it's 100% done", "line\nbreak"]
USERS = ["01890f2e-5a1b-7c3d-8e4f-000000000001", "ffffffff-ffff-ffff-ffff-ffffffffffff"]
EXPECTED_QUERIES = (
    1
    + 5 * len(USAGE_WEEKS) * (1 + len(ACCOUNTS))
    + 5 * len(USER_WEEKS) * 2 * (1 + len(USERS) + 1)
    + 5 * 2 * 2  # the backfill of accounts joining the book: usage and users, first and later page
)


def client_queries() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, HogQL, the values it was written with) over the client's configuration space."""
    yield "constant", CLOCK_QUERY, {"after": None}  # the zone and now, for a query:read key
    pick = itertools.cycle(itertools.product(DAYS, LIMITS))
    for group, weeks in itertools.product(range(5), USAGE_WEEKS):
        for after in [None, *zip(ACCOUNTS, itertools.cycle(DAYS), itertools.cycle(EVENTS))]:
            today, limit = next(pick)
            since = today - timedelta(days=today.weekday(), weeks=weeks)
            key = None if after is None else (after[0], after[1] - timedelta(days=after[1].weekday()), after[2])  # fmt: skip
            yield "usage", weekly_usage_query(group, since, limit, key), {"after": key}
    for group, weeks, active in itertools.product(range(5), USER_WEEKS, (False, True)):
        for after in [None, *zip(ACCOUNTS, USERS, strict=False), ("x.com", USERS[0].upper())]:
            today, limit = next(pick)
            text = user_activity_query(
                group, today - timedelta(weeks=weeks), today, limit, after, active_today=active
            )
            yield "users", text, {"after": after}
    # An account joining the book: its weeks before the re-pulled ones, and all its users, of
    # only its groups (written out as ORs, odd spellings and all).
    for group in range(5):
        today, limit = next(pick)
        monday = today - timedelta(days=today.weekday())
        since, until = monday - timedelta(weeks=26), monday - timedelta(weeks=2)
        for after in (None, (ACCOUNTS[1], since, EVENTS[2])):
            text = weekly_usage_query(group, since, limit, after, until=until, groups=ACCOUNTS)
            yield "usage", text, {"after": after}
        for after in (None, (ACCOUNTS[2], USERS[0])):
            text = user_activity_query(group, since, today, limit, after, groups=ACCOUNTS)
            yield "users", text, {"after": after}


def constants(node: Any) -> list[Any]:
    return [n.get("value") for n in walk(node) if n.get("node") == "Constant"]


def check_schema(ast: Node, *, clock: bool = False) -> None:
    """Only the events table, its fields (or the select's aliases) and PostHog's functions."""
    table = (ast.get("select_from") or {}).get("table")
    assert table == ({"node": "Field", "chain": ["events"]} if not clock else None)
    aliases = {c["alias"] for c in ast["select"] if c.get("node") == "Alias"}
    for node in walk(ast):
        if node.get("node") == "Field" and node is not table:
            head = node["chain"][0]
            assert head in EVENTS_FIELDS or head in aliases, head
            if head == "person":
                assert node["chain"] == ["person", "properties", "email"]
        if node.get("node") == "Call":
            low, high = FUNCTIONS[node["name"]]
            assert low <= len(node.get("args") or []) <= high, node["name"]
            if node["name"] == "toDateTime":
                (arg,) = node["args"]
                assert WALL_CLOCK.fullmatch(arg["value"]), "a wall-clock time PostHog localises"
            if node["name"] == "toDate":
                assert DATE.fullmatch(node["args"][0]["value"])
    assert not has_offset(ast), "PostHog refuses OFFSET on personal-API-key queries"
    if table is not None:
        limit = ast["limit"]
        assert limit["node"] == "Constant" and 1 <= limit["value"] <= MAX_ROWS


def test_every_query_the_client_can_send_parses_with_posthogs_parser_and_schema(
    record_property: Any,
) -> None:
    assert posthog_parser() is not None, "hogql-parser comes with the test extra"
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    parsed = 0
    for kind, text, made in client_queries():
        ast, parser = parse_select(text)
        assert parser == HOGQL_PARSER
        check_schema(ast, clock=kind == "constant")
        after = made["after"]
        if after is not None:  # the keyset's literals arrive as written, escapes and all
            values = constants(ast["where"])
            assert after[0] in values and str(after[-1]) in values
        else:
            assert not re.search(r"\$group_\d >", text), "a first page has no keyset"
        fallback, _ = parse_select(text, use=FALLBACK)
        assert fallback == ast, "the demo's fallback parser reads the query the same way"
        plan = Planner(ast, now, ZoneInfo("America/New_York")).plan()
        assert plan.kind == kind and plan.limit == (ast.get("limit") or {}).get("value")
        parsed += 1
    record_property("parsed_queries", parsed)
    print(f"parsed {parsed} HogQL queries with hogql-parser")
    assert parsed == EXPECTED_QUERIES == 291


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")))
def test_any_text_survives_a_trip_through_a_hogql_string_literal(value: str) -> None:
    """A group key or event name of any text comes back as itself: the next page starts right
    after it. (PostHog's parser drops a NUL character from a literal, so NUL is left out.)"""
    module = posthog_parser()
    assert module is not None
    import json

    node = strip_positions(json.loads(module.parse_expr_json(hogql_string(value))))
    assert node == {"node": "Constant", "value": value}
    ast, _ = parse_select(f"SELECT {hogql_string(value)} FROM events", use=FALLBACK)
    assert ast["select"][0] == node


@pytest.mark.parametrize(
    "text",
    [
        "SELECT event FROM events LIMIT 10 OFFSET 0",
        "SELECT event FROM events LIMIT 10, 20",
        "SELECT count(DISTINCT x), NULL, -1, now() - INTERVAL 2 WEEK FROM events",
        "SELECT a.b.`c d` FROM events WHERE NOT a AND (a, b) > ('x', 2) ORDER BY a DESC;",
        "SELECT 'a''b', 1.5, true FROM events WHERE x <> 1 OR y == 2",
    ],
)
def test_the_fallback_parser_agrees_with_posthogs_beyond_the_clients_queries(text: str) -> None:
    assert parse_select(text, use=FALLBACK)[0] == parse_select(text, use=HOGQL_PARSER)[0]


@pytest.mark.parametrize("text", ["SELECT FROM WHERE", "SELECT 'open FROM events", "SELEC 1"])
def test_both_parsers_refuse_what_is_not_hogql(text: str) -> None:
    for parser in (HOGQL_PARSER, FALLBACK):
        with pytest.raises(HogQLSyntaxError):
            parse_select(text, use=parser)
