"""The fake HubSpot and PostHog behave like the real ones where csm-tui's sync depends on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from csm_tui.fakes.hubspot import FakeHubSpot
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.posthog import FakePostHog
from csm_tui.fakes.router import FakeApis, FakeServerError
from csm_tui.sources.pacing import SimulatedClock
from csm_tui.sources.posthog import user_activity_query, weekly_usage_query

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
HS = {"Authorization": "Bearer demo-hubspot-token"}
PH = {"Authorization": "Bearer demo-posthog-token"}
# The fake PostHog's project is in New York: at NOW it is 04:30 on Monday the 23rd there.
PROJECT_TODAY = NOW.astimezone(ZoneInfo("America/New_York")).date()


def usage_sql(weeks: int, limit: int, after: tuple[str, date, str] | None = None) -> str:
    """The client's weekly-usage query from ``weeks`` before the project's week."""
    since = PROJECT_TODAY - timedelta(days=PROJECT_TODAY.weekday(), weeks=weeks)
    return weekly_usage_query(0, since, limit, after)


def users_sql(weeks: int, limit: int, *, active_today: bool = False) -> str:
    """The client's per-user query over ``weeks`` before the project's day."""
    since = PROJECT_TODAY - timedelta(weeks=weeks)
    return user_activity_query(0, since, PROJECT_TODAY, limit, active_today=active_today)


@pytest.fixture(scope="module")
def book() -> Portfolio:
    return generate_portfolio(40, seed=11, today=TODAY)


class Clock:
    """The fakes' wall clock; tests move it forward (HubSpot's search catches up with it)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def apis(book: Portfolio) -> FakeApis:
    return FakeApis(book, clock=Clock(NOW))


def _paced(clock: SimulatedClock) -> dict[str, Any]:
    """Event hooks spacing requests 0.3 s apart on the fakes' pacing clock, as a client
    keeping to HubSpot's rate limits (search: 4 a second) would."""

    def space(request: httpx.Request) -> None:
        clock.advance(0.3)

    return {"request": [space]}


@pytest.fixture
def crm(apis: FakeApis) -> Iterator[httpx.Client]:
    assert apis.pacing_clock is not None
    with httpx.Client(
        transport=apis.transport(),
        base_url="https://api.hubapi.com",
        headers=HS,
        event_hooks=_paced(apis.pacing_clock),
    ) as client:
        yield client


def _catch_up(apis: FakeApis) -> None:
    """Let HubSpot's search index catch up with every change made so far."""
    clock = apis.hubspot.clock
    assert isinstance(clock, Clock)
    clock.advance(seconds=apis.hubspot.search_lag)


def _search(client: httpx.Client, obj_type: str, **body: Any) -> httpx.Response:
    return client.post(f"/crm/v3/objects/{obj_type}/search", json=body)


def _list_all(client: httpx.Client, obj_type: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query = dict(params, **({"after": after} if after else {}))
        body = client.get(f"/crm/v3/objects/{obj_type}", params=query).json()
        out.extend(body["results"])
        if "paging" not in body:
            return out
        after = body["paging"]["next"]["after"]


# -- listing ---------------------------------------------------------------------------------


def test_paging_visits_every_contact_exactly_once(crm: httpx.Client, book: Portfolio) -> None:
    seen = _list_all(crm, "contacts", limit=7, properties="email,cs_role")
    ids = [r["id"] for r in seen]
    assert len(ids) == len(set(ids)) == len(book.contacts)
    assert set(ids) == {c["id"] for c in book.contacts}
    # Only what was asked for, plus the three properties HubSpot always sends.
    assert set(seen[0]["properties"]) == {
        "email",
        "cs_role",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    }


def test_list_limit_above_100_is_refused(crm: httpx.Client) -> None:
    response = crm.get("/crm/v3/objects/companies", params={"limit": 101})
    assert response.status_code == 400
    assert response.json()["status"] == "error"


def test_associations_and_arr_history_come_in_hubspots_shapes(
    crm: httpx.Client, book: Portfolio
) -> None:
    contact = book.contacts[0]
    body = crm.get(
        f"/crm/v3/objects/contacts/{contact['id']}", params={"associations": "companies"}
    ).json()
    primary = contact["associations"]["companies"][0]
    assert body["associations"]["companies"]["results"] == [
        {"id": primary, "type": "contact_to_company"},
        {"id": primary, "type": "contact_to_company_unlabeled"},
    ]
    moved = next(cid for cid, h in book.arr_history.items() if len(h) > 1)
    company = crm.get(
        f"/crm/v3/objects/companies/{moved}", params={"propertiesWithHistory": "arr"}
    ).json()
    history = company["propertiesWithHistory"]["arr"]
    assert history == book.arr_history[moved]
    assert history[0]["timestamp"] > history[-1]["timestamp"]  # newest first


def test_archived_records_are_listed_only_when_asked(apis: FakeApis, crm: httpx.Client) -> None:
    gone = [c["id"] for c in _list_all(crm, "companies", limit=100)[:2]]
    for company_id in gone:
        apis.hubspot.archive("companies", company_id)
    archived = _list_all(crm, "companies", limit=100, archived="true")
    assert [c["id"] for c in archived] == gone
    assert all(c["archived"] and c["archivedAt"] for c in archived)
    live = {c["id"] for c in _list_all(crm, "companies", limit=100)}
    assert not live & set(gone)
    found = _search(crm, "companies", limit=200).json()
    assert not {r["id"] for r in found["results"]} & set(gone)


def test_wrong_token_is_a_401_with_hubspots_error_body(apis: FakeApis) -> None:
    with httpx.Client(transport=apis.transport(), base_url="https://api.hubapi.com") as client:
        response = client.get(
            "/crm/v3/objects/companies", headers={"Authorization": "Bearer wrong"}
        )
    assert response.status_code == 401
    body = response.json()
    assert body["category"] == "INVALID_AUTHENTICATION" and body["correlationId"]
    assert "X-HubSpot-RateLimit-Remaining" in response.headers


def test_owners_can_be_found_by_email(crm: httpx.Client, book: Portfolio) -> None:
    body = crm.get("/crm/v3/owners", params={"email": book.demo_owner_email}).json()
    assert [o["email"] for o in body["results"]] == [book.demo_owner_email]


def test_v4_association_batch_read(crm: httpx.Client, book: Portfolio) -> None:
    contact = book.contacts[3]
    response = crm.post(
        "/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": [{"id": contact["id"]}]},
    )
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["from"] == {"id": contact["id"]}
    assert [str(t["toObjectId"]) for t in result["to"]] == contact["associations"]["companies"]


# -- search ----------------------------------------------------------------------------------


def test_search_compares_numbers_as_numbers(crm: httpx.Client, book: Portfolio) -> None:
    body = _search(
        crm,
        "companies",
        filterGroups=[{"filters": [{"propertyName": "arr", "operator": "GTE", "value": "50000"}]}],
        properties=["arr"],
        limit=200,
    ).json()
    expected = {c["id"] for c in book.companies if int(c["properties"]["arr"]) >= 50_000}
    assert {r["id"] for r in body["results"]} == expected
    assert body["total"] == len(expected)


def test_search_window_on_modified_date_uses_epoch_ms(apis: FakeApis, crm: httpx.Client) -> None:
    at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    ids = [c["id"] for c in _list_all(crm, "contacts", limit=100)[:5]]
    apis.hubspot.touch_many("contacts", ids, at)
    _catch_up(apis)
    ms = int(at.timestamp() * 1000)
    body = _search(
        crm,
        "contacts",
        filterGroups=[
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(ms)},
                    {"propertyName": "lastmodifieddate", "operator": "LT", "value": str(ms + 1)},
                ]
            }
        ],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        limit=200,
    ).json()
    assert sorted(r["id"] for r in body["results"]) == sorted(ids)


def test_twelve_thousand_records_on_one_timestamp_are_all_reached_past_the_cap() -> None:
    clock, pacing = Clock(NOW), SimulatedClock()
    fake = FakeHubSpot(clock=clock, ticker=pacing.monotonic)
    ids = [fake.create("companies", {"name": f"Co {i}"}) for i in range(12_000)]
    month_end = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
    fake.touch_many("companies", ids, month_end)
    clock.advance(seconds=fake.search_lag)
    ms = int(month_end.timestamp() * 1000)
    window = [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(ms)},
        {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(ms + 1)},
    ]
    sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    with httpx.Client(
        transport=httpx.MockTransport(fake.handler),
        base_url="https://api.hubapi.com",
        headers=HS,
        event_hooks=_paced(pacing),
    ) as client:
        # Paging straight past 10,000 is refused, as HubSpot does.
        past = client.post(
            "/crm/v3/objects/companies/search",
            json={"filterGroups": [{"filters": window}], "sorts": sorts, "after": "10000"},
        )
        assert past.status_code == 400 and past.json()["category"] == "VALIDATION_ERROR"

        seen: list[str] = []
        last_id: str | None = None
        after = 0
        while True:
            filters = list(window)
            if last_id is not None:
                filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": last_id})
            body = client.post(
                "/crm/v3/objects/companies/search",
                json={
                    "filterGroups": [{"filters": filters}],
                    "sorts": sorts,
                    "limit": 200,
                    "after": str(after),
                },
            ).json()
            seen.extend(r["id"] for r in body["results"])
            if "paging" not in body:
                break
            after = int(body["paging"]["next"]["after"])
            if after >= 10_000:  # restart the window after the last id seen
                last_id, after = seen[-1], 0
    assert len(seen) == len(set(seen)) == 12_000
    assert set(seen) == set(ids)


def test_search_page_size_is_capped_at_200(crm: httpx.Client) -> None:
    assert _search(crm, "contacts", limit=201).status_code == 400


# -- creates, markers, faults ----------------------------------------------------------------


def _note(company_id: str, contact_id: str, marker: str) -> dict[str, Any]:
    return {
        "properties": {
            "hs_timestamp": str(int(NOW.timestamp() * 1000)),
            # The marker lives in the body: a custom property would have to exist in the
            # portal first, and an unknown property on create is refused.
            "hs_note_body": f"Call with champion\n\n[csm-tui:{marker}]",
        },
        "associations": [
            {
                "to": {"id": company_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 190}],
            },
            {
                "to": {"id": contact_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
            },
        ],
    }


def test_created_note_is_found_by_its_marker_once_search_catches_up(
    apis: FakeApis, crm: httpx.Client, book: Portfolio
) -> None:
    marker = "3f2a9c0d5e6b4a7f8c9d0e1f2a3b4c5d"
    contact = book.contacts[0]
    company_id = contact["associations"]["companies"][0]
    created = crm.post("/crm/v3/objects/notes", json=_note(company_id, contact["id"], marker))
    assert created.status_code == 201
    note_id = created.json()["id"]
    assert created.json()["properties"]["hs_timestamp"] == "2026-11-23T09:30:00.000Z"
    by_token = [
        {
            "filters": [
                {"propertyName": "hs_note_body", "operator": "CONTAINS_TOKEN", "value": marker}
            ]
        }
    ]
    at_once = _search(crm, "notes", filterGroups=by_token).json()
    _catch_up(apis)
    later = _search(crm, "notes", filterGroups=by_token).json()
    assert at_once["total"] == 0  # HubSpot's search index lags behind creates
    assert [r["id"] for r in later["results"]] == [note_id]
    assert apis.hubspot.created["notes"] == 1
    assert apis.hubspot.associations_of("notes", note_id, "companies") == [company_id]
    assert note_id in apis.hubspot.associations_of("companies", company_id, "notes")


def test_engagement_without_timestamp_or_with_a_bad_association_is_refused(
    crm: httpx.Client, book: Portfolio
) -> None:
    company_id = book.companies[0]["id"]
    body = _note(company_id, book.contacts[0]["id"], "x")
    del body["properties"]["hs_timestamp"]
    assert crm.post("/crm/v3/objects/notes", json=body).status_code == 400
    bad = _note("999", book.contacts[0]["id"], "y")
    assert crm.post("/crm/v3/objects/notes", json=bad).status_code == 400


def test_a_429_fault_is_answered_once_then_the_request_succeeds(
    apis: FakeApis, crm: httpx.Client
) -> None:
    apis.faults.add(
        path=r"/search$",
        status=429,
        body={"status": "error", "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
    )
    first = _search(crm, "companies", limit=5)
    second = _search(crm, "companies", limit=5)
    assert first.status_code == 429 and first.json()["errorType"] == "RATE_LIMIT"
    assert second.status_code == 200 and len(second.json()["results"]) == 5


def test_a_lost_response_creates_the_note_once_but_the_caller_sees_an_error(
    apis: FakeApis, crm: httpx.Client, book: Portfolio
) -> None:
    apis.faults.add(path=r"/crm/v3/objects/notes$", method="POST", after_handling=True)
    contact = book.contacts[1]
    body = _note(contact["associations"]["companies"][0], contact["id"], "lostmarker1")
    with pytest.raises(httpx.ReadError):
        crm.post("/crm/v3/objects/notes", json=body)
    assert apis.hubspot.created["notes"] == 1
    _catch_up(apis)
    marker = {"propertyName": "hs_note_body", "operator": "CONTAINS_TOKEN", "value": "lostmarker1"}
    found = _search(crm, "notes", filterGroups=[{"filters": [marker]}]).json()
    assert found["total"] == 1


def test_connect_error_fault_raises_before_anything_happens(
    apis: FakeApis, crm: httpx.Client
) -> None:
    apis.faults.add(path=r"/crm/v3/objects/companies$", exception=httpx.ConnectError)
    with pytest.raises(httpx.ConnectError):
        crm.get("/crm/v3/objects/companies")
    assert crm.get("/crm/v3/objects/companies").status_code == 200


def test_rate_limits_are_on_by_default_and_refuse_the_fifth_search_in_a_second(
    book: Portfolio,
) -> None:
    tick = [100.0]
    fake = FakeHubSpot(book, ticker=lambda: tick[0])
    with httpx.Client(
        transport=httpx.MockTransport(fake.handler), base_url="https://api.hubapi.com", headers=HS
    ) as client:
        statuses = [_search(client, "companies", limit=1).status_code for _ in range(5)]
        refused = _search(client, "companies", limit=1)
        tick[0] += 1.5
        again = _search(client, "companies", limit=1)
    assert statuses == [200] * 4 + [429]
    assert refused.json()["errorType"] == "RATE_LIMIT" and refused.json()["policyName"]
    assert again.status_code == 200


# -- sequences -------------------------------------------------------------------------------


def test_enrollment_is_refused_when_already_enrolled_or_unsubscribed(
    apis: FakeApis, crm: httpx.Client, book: Portfolio
) -> None:
    owner = next(o for o in book.owners if o["email"] == book.demo_owner_email)
    sequences = crm.get("/automation/v4/sequences", params={"userId": owner["userId"]}).json()
    sequence_id = sequences["results"][0]["id"]
    enrolled = {e["contactId"] for e in book.enrollments}
    contact = next(
        c
        for c in book.contacts
        if c["id"] not in enrolled
        and c["properties"]["hs_email_optout"] == "false"
        and not c["properties"].get("hs_email_hard_bounce_reason")
    )

    def enroll(contact_id: str) -> httpx.Response:
        return crm.post(
            "/automation/v4/sequences/enrollments",
            params={"userId": owner["userId"]},
            json={
                "contactId": contact_id,
                "sequenceId": sequence_id,
                "senderEmail": owner["email"],
            },
        )

    first = enroll(contact["id"])
    assert first.status_code == 200
    assert set(first.json()) == {"id", "toEmail", "enrolledAt", "updatedAt"}  # the lite answer
    current = crm.get(f"/automation/v4/sequences/enrollments/contact/{contact['id']}").json()
    assert current["id"] == first.json()["id"] and current["sequenceId"] == sequence_id

    again = enroll(contact["id"])
    assert again.status_code == 400
    assert again.json()["subCategory"] == "ALREADY_ENROLLED"
    assert apis.hubspot.created["enrollments"] == 1

    unsubscribed = apis.hubspot.create(
        "contacts", {"email": "gone@example.com", "hs_email_optout": "true"}
    )
    refused = enroll(unsubscribed)
    assert refused.status_code == 400 and refused.json()["status"] == "error"
    assert apis.hubspot.created["enrollments"] == 1


def test_sequences_page_by_user(crm: httpx.Client, book: Portfolio) -> None:
    owner = next(o for o in book.owners if o["email"] == book.demo_owner_email)
    names: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"userId": owner["userId"], "limit": 2}
        if after:
            params["after"] = after
        body = crm.get("/automation/v4/sequences", params=params).json()
        names += [s["name"] for s in body["results"]]
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    assert names == [s["name"] for s in book.sequences if s["userId"] == str(owner["userId"])]
    assert "Renewal prep" in names
    assert crm.get("/automation/v4/sequences").status_code == 400  # userId is required


# -- PostHog ---------------------------------------------------------------------------------


def _query(client: httpx.Client, sql: str) -> httpx.Response:
    return client.post(
        "/api/projects/1/query/", json={"query": {"kind": "HogQLQuery", "query": sql}}
    )


def test_posthog_pages_weekly_usage_by_keyset(apis: FakeApis, book: Portfolio) -> None:
    """Pages of 500 rows, each after the last key of the page before, read the book's weeks; with
    a LIMIT of the query's own, hasMore, limit and offset are null."""
    rows: list[list[Any]] = []
    after: tuple[str, date, str] | None = None
    with httpx.Client(
        transport=apis.transport(), base_url="https://us.posthog.com", headers=PH
    ) as c:
        while True:
            body = _query(c, usage_sql(26, 500, after)).json()
            assert body["columns"] == ["account", "week", "event", "events", "users"]
            assert (body["hasMore"], body["limit"], body["offset"]) == (None, None, None)
            rows += body["results"]
            if len(body["results"]) < 500:
                break
            account, week, event = body["results"][-1][:3]
            after = (account, date.fromisoformat(week), event)
        recent = _query(c, usage_sql(2, 50_000)).json()
    # (the fake holds older weeks too, for the demo's past outcomes: 26 are asked for)
    last_26 = set(book.weeks[-26:])
    assert [tuple(r) for r in rows] == [r for r in book.usage_weekly if r[1] in last_26]
    assert len(rows) > 500
    assert {r[1] for r in recent["results"]} == set(book.weeks[-2:])


def test_posthog_per_user_query_and_errors(apis: FakeApis, book: Portfolio) -> None:
    with httpx.Client(
        transport=apis.transport(), base_url="https://us.posthog.com", headers=PH
    ) as c:
        users = _query(c, users_sql(4, 50_000)).json()
        bad = _query(c, "SELECT event FROM events")
        unauthorised = c.post(
            "/api/projects/1/query/",
            headers={"Authorization": "Bearer nope"},
            json={"query": {"kind": "HogQLQuery", "query": usage_sql(1, 1)}},
        )
    # From the project's midnight 4 weeks ago; last seen in the project's zone, with offsets.
    cutoff = datetime.combine(PROJECT_TODAY - timedelta(weeks=4), datetime.min.time())
    cutoff = cutoff.replace(tzinfo=ZoneInfo("America/New_York"))
    expected = [
        (a, u, e, datetime.fromisoformat(seen), n)
        for a, u, e, seen, n in book.user_activity
        if datetime.fromisoformat(seen) >= cutoff
    ]
    got = [(a, u, e, datetime.fromisoformat(seen), n) for a, u, e, seen, n in users["results"]]
    assert got == expected and users["hasMore"] is None
    assert {row[3][-6:] for row in users["results"]} == {"-04:00", "-05:00"}, "EDT, then EST"
    assert bad.status_code == 400 and bad.json()["type"] == "validation_error"
    assert unauthorised.status_code == 401


def test_posthog_answers_the_users_active_today_with_whole_day_counts(
    apis: FakeApis, book: Portfolio
) -> None:
    users = list(apis.posthog.users)
    account, user, email, _, events = users[0]
    users[0] = (account, user, email, "2026-11-23T08:15:00.000000Z", events)
    apis.posthog.set_data(list(apis.posthog.usage), users)
    with httpx.Client(
        transport=apis.transport(), base_url="https://us.posthog.com", headers=PH
    ) as c:
        every = _query(c, users_sql(4, 50_000)).json()
        today = _query(c, users_sql(4, 50_000, active_today=True))
    assert len(every["results"]) > 1
    # 08:15 UTC is 03:15 in New York: after the project's midnight (05:00 UTC).
    shown = [account, user, email, "2026-11-23T03:15:00-05:00", events]
    assert today.status_code == 200 and today.json()["results"] == [shown]
    assert today.headers["Date"] == "Mon, 23 Nov 2026 09:30:00 GMT", "the fake's clock"


def test_search_by_modified_date_finds_the_same_records_after_edits_as_a_full_scan(
    apis: FakeApis, crm: httpx.Client
) -> None:
    """The fake's index of modified dates (like HubSpot's search index) changes no answer,
    before or after the lagging search index catches up with the edits."""
    apis.hubspot.build_search_index()
    since_day = "2026-11-22"
    ids = [  # contacts last modified before the window
        c["id"]
        for c in _list_all(crm, "contacts", limit=100)
        if c["properties"]["lastmodifieddate"] < since_day
    ][:7]
    apis.hubspot.touch_many("contacts", ids[:4], datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    apis.hubspot.update("contacts", ids[4], {"jobtitle": "Edited"})  # at NOW
    since = int(datetime(2026, 11, 22, tzinfo=UTC).timestamp() * 1000)
    window = [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}]

    def both() -> list[str]:
        body = _search(
            crm,
            "contacts",
            filterGroups=[{"filters": window}],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            limit=200,
        ).json()
        scanned = _search(  # two filter groups: the fake scans every record
            crm,
            "contacts",
            filterGroups=[{"filters": window}, {"filters": window}],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            limit=200,
        ).json()
        found = [r["id"] for r in body["results"]]
        assert found == [r["id"] for r in scanned["results"]]
        return found

    assert not set(ids[:5]) & set(both())  # the index still holds the old dates
    _catch_up(apis)
    found = both()
    assert set(ids[:5]) <= set(found) and found == sorted(found, key=int)


def test_posthog_rate_limit_answers_429() -> None:
    tick = [0.0]
    fake = FakePostHog(None, per_minute=2, ticker=lambda: tick[0])
    with httpx.Client(
        transport=httpx.MockTransport(fake.handler), base_url="https://us.posthog.com", headers=PH
    ) as c:
        codes = [_query(c, usage_sql(1, 1)).status_code for _ in range(3)]
        tick[0] += 61
        later = _query(c, usage_sql(1, 1)).status_code
    assert codes == [200, 200, 429] and later == 200


# -- served over loopback --------------------------------------------------------------------


def test_served_on_loopback_answers_real_http(book: Portfolio) -> None:
    apis = FakeApis(book, clock=lambda: NOW)
    with apis.serve("127.0.0.1", 0) as server, httpx.Client(base_url=server.url) as client:
        companies = client.get(
            "/crm/v3/objects/companies", params={"limit": 100}, headers=HS
        ).json()
        usage = client.post(
            "/api/projects/1/query/",
            headers=PH,
            json={"query": {"kind": "HogQLQuery", "query": usage_sql(26, 3)}},
        ).json()
        apis.faults.add(path=r"/crm/v3/objects/notes$", method="POST", after_handling=True)
        contact = book.contacts[2]
        with pytest.raises(httpx.TransportError):
            client.post(
                "/crm/v3/objects/notes",
                headers=HS,
                json=_note(contact["associations"]["companies"][0], contact["id"], "servedmark"),
            )
        after = client.get("/crm/v3/objects/notes", params={"limit": 1}, headers=HS)
    assert len(companies["results"]) == 40
    assert [tuple(r) for r in usage["results"]] == book.usage_weekly[:3]
    assert apis.hubspot.created["notes"] == 1
    assert after.status_code == 200  # the server keeps answering after hanging up once


def test_serving_off_loopback_is_refused(book: Portfolio) -> None:
    with pytest.raises(FakeServerError):
        FakeApis(book).serve("0.0.0.0", 0)


def test_fake_api_command_serves_until_interrupted() -> None:
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "csm_tui", "fake-api", "--port", str(port), "--accounts", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        response = httpx.get(
            f"http://127.0.0.1:{port}/crm/v3/objects/companies", headers=HS, timeout=10
        )
        assert len(response.json()["results"]) == 5
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_served_posthog_refuses_a_query_beyond_its_concurrency_limit(book: Portfolio) -> None:
    import threading
    import time

    apis = FakeApis(book, clock=lambda: NOW)
    apis.posthog.max_concurrent = 1
    apis.posthog.query_seconds = 1.0  # the first query stays "running" while the second arrives
    sql = {"query": {"kind": "HogQLQuery", "query": usage_sql(1, 1)}}
    statuses: list[int] = []
    with apis.serve("127.0.0.1", 0) as server:

        def first() -> None:
            with httpx.Client(base_url=server.url, headers=PH, timeout=30) as client:
                statuses.append(client.post("/api/projects/1/query/", json=sql).status_code)

        worker = threading.Thread(target=first)
        worker.start()
        while apis.posthog.running == 0:  # wait until the first query is inside the fake
            time.sleep(0.01)
        with httpx.Client(base_url=server.url, headers=PH, timeout=30) as client:
            second = client.post("/api/projects/1/query/", json=sql)
        worker.join()
    assert second.status_code == 429 and second.json()["type"] == "throttled_error"
    assert statuses == [200]
