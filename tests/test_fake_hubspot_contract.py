"""The fake HubSpot refuses and behaves as the real HubSpot does: one test per rule.

Each rule, with its source, is listed in csm_tui/fakes/CONTRACT.md ("HubSpot").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from csm_tui.fakes.hubspot import FakeHubSpot
from csm_tui.fakes.hubspot_schema import demo_schema
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.sources.pacing import SimulatedClock

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
TOKEN = "demo-hubspot-token"
ENGAGEMENTS = ("notes", "calls", "meetings", "emails", "tasks")


class Clock:
    """The fake's wall clock; tests move it forward."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Portal:
    """A fake HubSpot, its clocks, and a client that spaces requests 0.3 s apart (simulated)."""

    fake: FakeHubSpot
    clock: Clock
    tick: SimulatedClock
    http: httpx.Client

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def post(self, path: str, body: dict[str, Any], **params: Any) -> httpx.Response:
        return self.http.post(path, json=body, params=params or None)

    def search(self, obj_type: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/crm/v3/objects/{obj_type}/search", json=body)

    def batch(self, obj_type: str, ids: list[str], **body: Any) -> httpx.Response:
        body = {"properties": [], "propertiesWithHistory": [], **body}
        body["inputs"] = [{"id": i} for i in ids]
        return self.http.post(f"/crm/v3/objects/{obj_type}/batch/read", json=body)


@pytest.fixture(scope="module")
def book() -> Portfolio:
    return generate_portfolio(12, seed=5, today=TODAY)


@pytest.fixture
def make(book: Portfolio) -> Iterator[Callable[..., Portal]]:
    opened: list[httpx.Client] = []

    def make_portal(pace: float = 0.3, portfolio: Portfolio | None = book, **kw: Any) -> Portal:
        clock, tick = Clock(NOW), SimulatedClock(1000.0)
        fake = FakeHubSpot(portfolio, clock=clock, ticker=tick.monotonic, **kw)

        def space(request: httpx.Request) -> None:
            tick.advance(pace)

        http = httpx.Client(
            transport=httpx.MockTransport(fake.handler),
            base_url="https://api.hubapi.com",
            headers={"Authorization": f"Bearer {TOKEN}"},
            event_hooks={"request": [space]},
        )
        opened.append(http)
        return Portal(fake, clock, tick, http)

    yield make_portal
    for http in opened:
        http.close()


@pytest.fixture
def hs(make: Callable[..., Portal]) -> Portal:
    return make()


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def refused(response: httpx.Response, status: int = 400, category: str = "VALIDATION_ERROR") -> str:
    """Assert HubSpot's error body; return its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["correlationId"] and body["category"] == category
    assert response.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]
    return str(body["message"])


def note_body(company_id: str, **props: Any) -> dict[str, Any]:
    return {
        "properties": {"hs_timestamp": ms(NOW), "hs_note_body": "Kickoff call", **props},
        "associations": [
            {
                "to": {"id": company_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 190}],
            }
        ],
    }


# -- 1. limits are refused, never capped --------------------------------------------------------


def test_a_list_page_over_100_is_refused_not_capped(hs: Portal) -> None:
    assert hs.get("/crm/v3/objects/contacts", limit=100).status_code == 200
    assert "100" in refused(hs.get("/crm/v3/objects/contacts", limit=101))


def test_a_list_page_over_50_with_property_history_is_refused(hs: Portal) -> None:
    ok = hs.get("/crm/v3/objects/companies", limit=50, propertiesWithHistory="arr")
    assert ok.status_code == 200 and "propertiesWithHistory" in ok.json()["results"][0]
    assert "50" in refused(
        hs.get("/crm/v3/objects/companies", limit=51, propertiesWithHistory="arr")
    )


def test_a_search_page_over_200_is_refused(hs: Portal) -> None:
    assert hs.search("contacts", limit=200).status_code == 200
    refused(hs.search("contacts", limit=201))


def test_search_refuses_any_page_reaching_past_10000_results(hs: Portal) -> None:
    refused(hs.search("contacts", limit=10, after="10000"))
    refused(hs.search("contacts", limit=200, after="9900"))  # would reach result 10,100
    assert hs.search("contacts", limit=200, after="9800").status_code == 200


def test_a_batch_read_over_100_or_over_50_with_history_is_refused(hs: Portal) -> None:
    ids = [str(i) for i in range(1, 102)]
    assert "100" in refused(hs.batch("companies", ids))
    message = refused(hs.batch("companies", ids[:51], propertiesWithHistory=["arr"]))
    assert message == (
        "The maximum number of inputs supported in a batch request for property histories is 50"
    )


def test_an_association_batch_read_over_1000_inputs_is_refused(hs: Portal) -> None:
    inputs = [{"id": str(i)} for i in range(1001)]
    assert "1000" in refused(
        hs.post("/crm/v4/associations/contacts/companies/batch/read", {"inputs": inputs})
    )


def test_search_refuses_more_than_5_groups_6_filters_a_group_or_18_in_all(hs: Portal) -> None:
    one = {"propertyName": "firstname", "operator": "HAS_PROPERTY"}
    assert hs.search("contacts", filterGroups=[{"filters": [one] * 6}] * 3).status_code == 200
    refused(hs.search("contacts", filterGroups=[{"filters": [one]}] * 6))
    refused(hs.search("contacts", filterGroups=[{"filters": [one] * 7}]))
    refused(hs.search("contacts", filterGroups=[{"filters": [one] * 5}] * 4))  # 20 in all


def test_search_refuses_an_unknown_operator(hs: Portal) -> None:
    bad = {"propertyName": "firstname", "operator": "STARTS_WITH", "value": "A"}
    assert "STARTS_WITH" in refused(hs.search("contacts", filterGroups=[{"filters": [bad]}]))


def test_date_filters_take_epoch_milliseconds_only(hs: Portal) -> None:
    def window(prop: str, value: str) -> httpx.Response:
        f = {"propertyName": prop, "operator": "GTE", "value": value}
        return hs.search("companies", filterGroups=[{"filters": [f]}])

    assert window("hs_lastmodifieddate", ms(NOW - timedelta(days=30))).status_code == 200
    refused(window("hs_lastmodifieddate", "2026-11-01T00:00:00Z"))
    refused(window("renewal_date", "2027-01-01"))  # a date-only property too
    assert window("renewal_date", ms(datetime(2027, 1, 1, tzinfo=UTC))).status_code == 200


# -- 2. properties on read and on create; engagement rules --------------------------------------


def test_unknown_properties_are_left_out_of_every_read(hs: Portal, book: Portfolio) -> None:
    cid = book.companies[0]["id"]
    wanted = "name,no_such_property"
    got = hs.get(f"/crm/v3/objects/companies/{cid}", properties=wanted).json()["properties"]
    listed = hs.get("/crm/v3/objects/companies", properties=wanted).json()["results"][0]
    found = hs.search("companies", properties=["name", "no_such_property"]).json()["results"][0]
    batch = hs.batch("companies", [cid], properties=["name", "no_such_property"]).json()
    for props in (
        got,
        listed["properties"],
        found["properties"],
        batch["results"][0]["properties"],
    ):
        assert "name" in props and "no_such_property" not in props
    # A known property without a value comes back as null: the way to tell the two apart.
    assert (
        "cs_stage"
        in hs.get(f"/crm/v3/objects/companies/{cid}", properties="cs_stage").json()["properties"]
    )


def test_an_unknown_or_read_only_property_on_create_is_refused_by_name(
    hs: Portal, book: Portfolio
) -> None:
    company = book.companies[0]["id"]
    message = refused(hs.post("/crm/v3/objects/notes", note_body(company, csm_tui_id="abc")))
    assert "csm_tui_id" in message and "PROPERTY_DOESNT_EXIST" in message
    message = refused(hs.post("/crm/v3/objects/notes", note_body(company, hs_object_id="1")))
    assert "hs_object_id" in message and "READ_ONLY_VALUE" in message
    assert hs.fake.created["notes"] == 0


def test_every_engagement_create_needs_hs_timestamp(hs: Portal, book: Portfolio) -> None:
    company = book.companies[0]["id"]
    type_ids = {"notes": 190, "calls": 182, "meetings": 188, "emails": 186, "tasks": 192}
    for obj_type in ENGAGEMENTS:
        body = {
            "properties": {},
            "associations": [
                {
                    "to": {"id": company},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": type_ids[obj_type],
                        }
                    ],
                }
            ],
        }
        response = hs.post(f"/crm/v3/objects/{obj_type}", body)
        assert "Some required properties were not set" in refused(response)
        assert response.json()["context"] == {"properties": ["hs_timestamp"]}
        body["properties"] = {"hs_timestamp": ms(NOW)}
        assert hs.post(f"/crm/v3/objects/{obj_type}", body).status_code == 201
    assert sum(hs.fake.created.values()) == 5


def test_an_association_type_id_must_match_the_targets_type(hs: Portal, book: Portfolio) -> None:
    contact = book.contacts[0]
    company = contact["associations"]["companies"][0]

    def note_to(to_id: str, type_id: int, category: str = "HUBSPOT_DEFINED") -> httpx.Response:
        body = note_body(company)
        body["associations"] = [
            {
                "to": {"id": to_id},
                "types": [{"associationCategory": category, "associationTypeId": type_id}],
            }
        ]
        return hs.post("/crm/v3/objects/notes", body)

    refused(note_to(contact["id"], 190))  # note -> company id, given a contact
    refused(note_to(company, 202))  # note -> contact id, given a company
    refused(note_to(company, 202 + 1000))  # no such type
    refused(note_to(company, 190, "USER_DEFINED"))
    assert note_to(contact["id"], 202).status_code == 201
    assert note_to(company, 190).status_code == 201


def test_a_date_property_takes_midnight_utc_only(hs: Portal, book: Portfolio) -> None:
    # Through a company write scope granted for this test only.
    hs.fake.scopes.add("crm.objects.companies.write")
    cid = book.companies[0]["id"]
    path = f"/crm/v3/objects/companies/{cid}"
    bad = hs.http.patch(path, json={"properties": {"renewal_date": ms(NOW)}})
    assert "renewal_date" in refused(bad)
    good = hs.http.patch(path, json={"properties": {"renewal_date": "2027-02-01"}})
    assert good.status_code == 200
    assert good.json()["properties"]["renewal_date"] == "2027-02-01"


# -- 3. contacts' modified date; archived records -------------------------------------------------


def test_contacts_filter_on_lastmodifieddate_and_hs_lastmodifieddate_finds_nothing(
    hs: Portal,
) -> None:
    since = ms(NOW - timedelta(days=365))
    good = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": since}
    wrong = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since}
    found = hs.search("contacts", filterGroups=[{"filters": [good]}], limit=200).json()
    assert found["total"] == len(hs.fake.records("contacts")) > 0
    nothing = hs.search("contacts", filterGroups=[{"filters": [wrong]}], limit=200)
    assert nothing.status_code == 200 and nothing.json() == {"total": 0, "results": []}


def test_search_never_returns_archived_records_even_before_its_index_catches_up(
    hs: Portal, book: Portfolio
) -> None:
    gone = book.companies[1]["id"]
    hs.fake.archive("companies", gone)
    first = {r["id"] for r in hs.search("companies", limit=200).json()["results"]}
    hs.clock.advance(hours=1)
    later = {r["id"] for r in hs.search("companies", limit=200).json()["results"]}
    assert gone not in first and gone not in later and len(later) == len(book.companies) - 1


# -- 4. the search index lags ---------------------------------------------------------------------


def test_search_shows_an_update_with_old_values_until_its_index_catches_up(
    hs: Portal, book: Portfolio
) -> None:
    company = book.companies[2]
    before = company["properties"]["hs_lastmodifieddate"]
    hs.fake.update("companies", company["id"], {"name": "Renamed Co"})
    by_id = [{"propertyName": "hs_object_id", "operator": "EQ", "value": company["id"]}]

    def seen() -> dict[str, Any]:
        body = hs.search("companies", filterGroups=[{"filters": by_id}], properties=["name"])
        return body.json()["results"][0]["properties"]

    stale = seen()
    assert stale["name"] == company["properties"]["name"]
    assert stale["hs_lastmodifieddate"] == before
    # GET and batch read are consistent at once.
    current = hs.get(f"/crm/v3/objects/companies/{company['id']}", properties="name").json()
    assert current["properties"]["name"] == "Renamed Co"
    batch = hs.batch("companies", [company["id"]], properties=["name"]).json()
    assert batch["results"][0]["properties"]["name"] == "Renamed Co"
    hs.clock.advance(seconds=hs.fake.search_lag)
    assert seen()["name"] == "Renamed Co"


def test_search_does_not_find_a_new_record_until_its_index_catches_up(hs: Portal) -> None:
    assert hs.fake.search_lag > 0  # on by default
    rid = hs.fake.create("companies", {"name": "Fresh Co", "domain": "fresh.example"})
    by_id = [{"propertyName": "hs_object_id", "operator": "EQ", "value": rid}]
    assert hs.search("companies", filterGroups=[{"filters": by_id}]).json()["total"] == 0
    assert hs.get(f"/crm/v3/objects/companies/{rid}").status_code == 200
    hs.clock.advance(seconds=hs.fake.search_lag)
    assert hs.search("companies", filterGroups=[{"filters": by_id}]).json()["total"] == 1


def test_recent_search_results_are_not_monotonic_in_modified_date(
    hs: Portal, book: Portfolio
) -> None:
    order = [c["id"] for c in book.contacts[:20]]
    for cid in order:  # one edit a second
        hs.fake.update("contacts", cid, {"jobtitle": "Edited"})
        hs.clock.advance(seconds=1)
    since = ms(NOW)
    window = [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": since}]
    out_of_order = False
    for _ in range(40):
        found = hs.search("contacts", filterGroups=[{"filters": window}], limit=200).json()
        visible = {r["id"] for r in found["results"]}
        changed_first = [cid in visible for cid in order]
        # Visible edits are not always a prefix of the edit order: a later edit shows first.
        out_of_order |= changed_first != sorted(changed_first, reverse=True)
        hs.clock.advance(seconds=1)
    assert out_of_order
    assert {r["id"] for r in found["results"]} >= set(order)  # all caught up in the end


# -- 5. association shapes and paging -------------------------------------------------------------


def test_v3_embedded_associations_list_the_primary_company_twice(
    hs: Portal, book: Portfolio
) -> None:
    contact = book.contacts[0]
    primary = contact["associations"]["companies"][0]
    other = book.companies[-1]["id"]
    hs.fake.create("notes", {"hs_timestamp": ms(NOW)}, {"contacts": [contact["id"]]})
    hs.fake.associate("contacts", contact["id"], "companies", other)
    body = hs.get(f"/crm/v3/objects/contacts/{contact['id']}", associations="companies").json()
    assert body["associations"]["companies"]["results"] == [
        {"id": primary, "type": "contact_to_company"},
        {"id": primary, "type": "contact_to_company_unlabeled"},
        {"id": other, "type": "contact_to_company_unlabeled"},
    ]
    deal = book.deals[0]
    listed = hs.get(f"/crm/v3/objects/deals/{deal['id']}", associations="companies").json()
    assert [a["type"] for a in listed["associations"]["companies"]["results"]] == [
        "deal_to_company",
        "deal_to_company_unlabeled",
    ]


def test_v3_embedded_associations_page_per_record(hs: Portal, book: Portfolio) -> None:
    company = book.companies[0]["id"]
    for i in range(15):
        hs.fake.create("contacts", {"email": f"p{i}@bulk.example"}, {"companies": [company]})
    listed = hs.get("/crm/v3/objects/companies", limit=1, associations="contacts").json()
    page = listed["results"][0]["associations"]["contacts"]
    assert len(page["results"]) == hs.fake.association_page_size
    ids = [a["id"] for a in page["results"]]
    while "paging" in page:
        page = hs.get(page["paging"]["next"]["link"]).json()
        ids += [a["id"] for a in page["results"]]
    expected = hs.fake.associations_of("companies", company, "contacts")
    assert sorted(set(ids)) == sorted(expected) and len(ids) == 2 * len(expected)  # all primary


def test_v4_batch_read_labels_primary_links_and_pages_each_record(
    hs: Portal, book: Portfolio
) -> None:
    company = book.companies[0]["id"]
    contacts = hs.fake.associations_of("companies", company, "contacts")
    body = {"inputs": [{"id": contacts[0]}]}
    found = hs.post("/crm/v4/associations/contacts/companies/batch/read", body).json()
    assert found["status"] == "COMPLETE" and found["startedAt"] and found["completedAt"]
    (result,) = found["results"]
    assert result == {
        "from": {"id": contacts[0]},
        "to": [
            {
                "toObjectId": int(company),
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
                    {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None},
                ],
            }
        ],
    }
    pairs = {("deals", "companies"): (5, 341), ("tickets", "companies"): (26, 339)}
    for (from_type, to_type), type_ids in pairs.items():
        rid = getattr(book, from_type)[0]["id"]
        got = hs.post(
            f"/crm/v4/associations/{from_type}/{to_type}/batch/read", {"inputs": [{"id": rid}]}
        ).json()
        assert (
            tuple(t["typeId"] for t in got["results"][0]["to"][0]["associationTypes"]) == type_ids
        )
    for i in range(15):  # more contacts than one page holds
        hs.fake.create("contacts", {"email": f"p{i}@bulk.example"}, {"companies": [company]})
    seen: list[int] = []
    item: dict[str, Any] = {"id": company}
    while True:
        got = hs.post("/crm/v4/associations/companies/contacts/batch/read", {"inputs": [item]})
        (result,) = got.json()["results"]
        assert len(result["to"]) <= hs.fake.association_page_size
        assert all([t["typeId"] for t in r["associationTypes"]] == [2, 280] for r in result["to"])
        seen += [t["toObjectId"] for t in result["to"]]
        if "paging" not in result:
            break
        item = {"id": company, "after": result["paging"]["next"]["after"]}
    assert sorted(str(i) for i in seen) == sorted(
        hs.fake.associations_of("companies", company, "contacts")
    )
    # A cursor belongs to the record it came with.
    cursor = item["after"]
    wrong = {"inputs": [{"id": book.companies[1]["id"], "after": cursor}]}
    refused(hs.post("/crm/v4/associations/companies/contacts/batch/read", wrong))


def test_v4_batch_read_reports_missing_ids_in_a_207(hs: Portal, book: Portfolio) -> None:
    contact = book.contacts[0]["id"]
    body = {"inputs": [{"id": contact}, {"id": "999999"}]}
    got = hs.post("/crm/v4/associations/contacts/companies/batch/read", body)
    assert got.status_code == 207
    payload = got.json()
    assert [r["from"]["id"] for r in payload["results"]] == [contact]
    assert payload["numErrors"] == 1
    assert payload["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert payload["errors"][0]["context"] == {"fromObjectId": ["999999"]}


def test_association_edits_leave_every_modified_date_alone(hs: Portal, book: Portfolio) -> None:
    contact = book.contacts[0]
    old = contact["associations"]["companies"][0]
    new = next(c["id"] for c in book.companies if c["id"] != old)

    def stamps() -> list[str]:
        return [
            hs.fake.record("contacts", contact["id"])["properties"]["lastmodifieddate"],
            hs.fake.record("companies", old)["properties"]["hs_lastmodifieddate"],
            hs.fake.record("companies", new)["properties"]["hs_lastmodifieddate"],
        ]

    before = stamps()
    hs.clock.advance(minutes=5)
    hs.fake.reassociate("contacts", contact["id"], "companies", old, new)
    assert hs.post("/crm/v3/objects/notes", note_body(new)).status_code == 201  # a new link
    assert stamps() == before
    assert hs.fake.associations_of("contacts", contact["id"], "companies")[0] == new


# -- 6. scopes, tokens --------------------------------------------------------------------------


def test_a_missing_scope_is_a_403_for_that_endpoint_only(make: Callable[..., Portal]) -> None:
    from csm_tui.fakes.hubspot_schema import DEFAULT_SCOPES

    hs = make(scopes=DEFAULT_SCOPES - {"crm.objects.companies.read"})
    response = hs.get("/crm/v3/objects/companies")
    refused(response, 403, "MISSING_SCOPES")
    body = response.json()
    assert body["message"].startswith("This app hasn't been granted all required scopes")
    assert body["errors"] == [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": ["crm.objects.companies.read"]},
        }
    ]
    assert body["links"]["scopes"]
    refused(hs.search("companies"), 403, "MISSING_SCOPES")
    refused(
        hs.post("/crm/v4/associations/contacts/companies/batch/read", {"inputs": [{"id": "1"}]}),
        403,
        "MISSING_SCOPES",
    )
    assert hs.get("/crm/v3/objects/contacts").status_code == 200  # the token is still good


def test_emails_need_sales_email_read_as_well(make: Callable[..., Portal]) -> None:
    from csm_tui.fakes.hubspot_schema import DEFAULT_SCOPES

    hs = make(scopes=DEFAULT_SCOPES - {"sales-email-read"})
    response = hs.get("/crm/v3/objects/emails")
    refused(response, 403, "MISSING_SCOPES")
    assert response.json()["errors"][0]["context"]["requiredGranularScopes"] == ["sales-email-read"]
    assert hs.get("/crm/v3/objects/notes").status_code == 200


def test_401_is_only_for_a_bad_token(hs: Portal) -> None:
    bad = hs.http.get("/crm/v3/objects/companies", headers={"Authorization": "Bearer nope"})
    refused(bad, 401, "INVALID_AUTHENTICATION")
    hs.fake.scopes.clear()
    refused(hs.get("/crm/v3/objects/companies"), 403, "MISSING_SCOPES")


def test_token_info_names_the_user_account_app_and_scopes(hs: Portal, book: Portfolio) -> None:
    info = hs.post("/oauth/v2/private-apps/get/access-token-info", {"tokenKey": TOKEN})
    assert info.status_code == 200
    body = info.json()
    assert set(body) == {"userId", "hubId", "appId", "scopes"}
    assert body["userId"] == book.owners[0]["userId"]
    assert "crm.objects.companies.read" in body["scopes"]


# -- 7. sequences ---------------------------------------------------------------------------------


def _enroll(
    hs: Portal, user_id: Any, contact_id: str, sequence_id: str, sender: str
) -> httpx.Response:
    return hs.post(
        "/automation/v4/sequences/enrollments",
        {"contactId": contact_id, "sequenceId": sequence_id, "senderEmail": sender},
        userId=user_id,
    )


def _free_contact(hs: Portal, book: Portfolio, skip: int = 0) -> str:
    free = [
        c["id"]
        for c in book.contacts
        if c["id"] not in hs.fake.enrollments
        and c["properties"]["hs_email_optout"] == "false"
        and not c["properties"].get("hs_email_hard_bounce_reason")
    ]
    return free[skip]


def test_sequences_need_a_user_id_not_an_owner_id(hs: Portal, book: Portfolio) -> None:
    owner = book.owners[0]
    assert "userId" in refused(hs.get("/automation/v4/sequences"))
    assert "owner id" in refused(hs.get("/automation/v4/sequences", userId=owner["id"]))
    listed = hs.get("/automation/v4/sequences", userId=owner["userId"], limit=100).json()
    assert listed["results"] and all("steps" not in s for s in listed["results"])
    one = hs.get(f"/automation/v4/sequences/{listed['results'][0]['id']}", userId=owner["userId"])
    assert one.status_code == 200 and one.json()["steps"]


def test_a_user_without_a_sales_or_service_pro_seat_cannot_enroll(
    hs: Portal, book: Portfolio
) -> None:
    seatless = book.owners[-1]
    assert not hs.fake.users[str(seatless["userId"])].sequences_seat
    seq = next(s["id"] for s in book.sequences if s["userId"] == str(seatless["userId"]))
    response = _enroll(hs, seatless["userId"], _free_contact(hs, book), seq, seatless["email"])
    assert response.status_code == 403 and response.json()["category"] != "MISSING_SCOPES"
    assert hs.fake.created["enrollments"] == 0


def test_the_sender_must_be_a_connected_inbox_of_the_user(hs: Portal, book: Portfolio) -> None:
    owner = book.owners[1]  # sends from an inbox other than the login email
    inbox = hs.fake.users[str(owner["userId"])].inboxes[0]
    assert inbox != owner["email"]
    seq = next(s["id"] for s in book.sequences if s["userId"] == str(owner["userId"]))
    contact = _free_contact(hs, book)
    assert "connected inbox" in refused(_enroll(hs, owner["userId"], contact, seq, owner["email"]))
    done = _enroll(hs, owner["userId"], contact, seq, inbox)
    assert done.status_code == 200
    assert set(done.json()) == {"id", "toEmail", "enrolledAt", "updatedAt"}


def test_one_sequence_at_a_time_and_never_the_unsubscribed_or_bounced(
    hs: Portal, book: Portfolio
) -> None:
    owner = book.owners[0]
    seq_a, seq_b = [s["id"] for s in book.sequences if s["userId"] == str(owner["userId"])][:2]
    contact = _free_contact(hs, book)
    assert _enroll(hs, owner["userId"], contact, seq_a, owner["email"]).status_code == 200
    again = _enroll(hs, owner["userId"], contact, seq_b, owner["email"])
    assert refused(again) and again.json()["subCategory"] == "ALREADY_ENROLLED"
    gone = hs.fake.create("contacts", {"email": "gone@example.com", "hs_email_optout": "true"})
    assert "unsubscribed" in refused(_enroll(hs, owner["userId"], gone, seq_a, owner["email"]))
    bounced = next(
        (c["id"] for c in book.contacts if c["properties"].get("hs_email_hard_bounce_reason")),
        None,
    )
    if bounced is not None:
        assert "bounced" in refused(_enroll(hs, owner["userId"], bounced, seq_a, owner["email"]))
    assert hs.fake.created["enrollments"] == 1


def test_an_enrollment_updates_the_contacts_sequence_properties_and_modified_date(
    hs: Portal, book: Portfolio
) -> None:
    owner = book.owners[0]
    seq = next(s["id"] for s in book.sequences if s["userId"] == str(owner["userId"]))
    contact = _free_contact(hs, book)
    names = ",".join(
        [
            "hs_sequences_is_enrolled",
            "hs_sequences_actively_enrolled_count",
            "hs_sequences_enrolled_count",
            "hs_latest_sequence_enrolled",
            "hs_latest_sequence_enrolled_date",
        ]
    )
    before = hs.get(f"/crm/v3/objects/contacts/{contact}", properties=names).json()["properties"]
    assert before["hs_sequences_is_enrolled"] in (None, "false")
    hs.clock.advance(minutes=3)
    assert _enroll(hs, owner["userId"], contact, seq, owner["email"]).status_code == 200
    after = hs.get(f"/crm/v3/objects/contacts/{contact}", properties=names).json()["properties"]
    assert after["hs_sequences_is_enrolled"] == "true"
    assert after["hs_sequences_actively_enrolled_count"] == "1"
    assert after["hs_sequences_enrolled_count"] == "1"
    assert after["hs_latest_sequence_enrolled"] == seq
    assert after["hs_latest_sequence_enrolled_date"] == "2026-11-23T14:03:00.000Z"
    assert after["lastmodifieddate"] == "2026-11-23T14:03:00.000Z" != before["lastmodifieddate"]
    enrolled = [c for c in book.contacts if c["id"] in {e["contactId"] for e in book.enrollments}]
    if enrolled:  # the generated book's enrollments show on their contacts too
        props = hs.fake.record("contacts", enrolled[0]["id"])["properties"]
        assert props["hs_sequences_is_enrolled"] == "true"


# -- 8. rate limits ----------------------------------------------------------------------------------


def test_the_101st_request_in_10_seconds_is_refused_with_the_burst_policy(
    make: Callable[..., Portal],
) -> None:
    hs = make(pace=0.0)
    statuses = [hs.get("/crm/v3/owners").status_code for _ in range(101)]
    assert statuses == [200] * 100 + [429]
    body = hs.get("/crm/v3/owners").json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    hs.tick.advance(10)
    assert hs.get("/crm/v3/owners").status_code == 200
    pro = make(pace=0.0, burst_limit=190)
    assert [pro.get("/crm/v3/owners").status_code for _ in range(191)][-2:] == [200, 429]


def test_the_daily_budget_resets_at_the_accounts_midnight(make: Callable[..., Portal]) -> None:
    hs = make(daily_limit=3)
    hs.clock.now = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)  # 23:30 in New York
    assert [hs.get("/crm/v3/owners").status_code for _ in range(4)] == [200, 200, 200, 429]
    body = hs.get("/crm/v3/owners").json()
    assert body["policyName"] == "DAILY" and body["message"] == "You have reached your daily limit."
    hs.clock.advance(minutes=31)  # past midnight in New York, not in UTC terms of the day
    assert hs.get("/crm/v3/owners").status_code == 200


def test_search_allows_4_a_second_and_answers_without_rate_headers(
    make: Callable[..., Portal],
) -> None:
    hs = make(pace=0.0)
    answers = [hs.search("companies", limit=1) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 4 + [429]
    assert answers[4].json()["message"] == "You have reached your secondly limit."
    assert not [h for h in answers[0].headers if h.lower().startswith("x-hubspot-ratelimit")]
    assert answers[0].headers["X-HubSpot-Correlation-Id"]
    listed = hs.get("/crm/v3/objects/companies")
    assert listed.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert listed.headers["X-HubSpot-RateLimit-Daily"] == "250000"
    hs.tick.advance(1)
    assert hs.search("companies", limit=1).status_code == 200


# -- 9. the properties API ------------------------------------------------------------------------


def test_the_properties_api_serves_the_schema_the_fake_enforces(
    make: Callable[..., Portal],
) -> None:
    hs = make()
    companies = hs.get("/crm/v3/properties/companies").json()["results"]
    names = {p["name"] for p in companies}
    assert {"arr", "renewal_date", "contract_start_date", "seats", "cs_stage"} <= names
    arr = hs.get("/crm/v3/properties/companies/arr").json()
    assert arr["type"] == "number" and "hubspotDefined" not in arr
    assert hs.get("/crm/v3/properties/contacts/cs_role").json()["type"] == "enumeration"
    assert hs.get("/crm/v3/properties/tickets/escalated").status_code == 200
    bare = make(schema=demo_schema(without=[("tickets", "escalated"), ("tickets", "csat_score")]))
    refused(bare.get("/crm/v3/properties/tickets/escalated"), 404, "OBJECT_NOT_FOUND")
    ticket = bare.fake.records("tickets")[0]["id"]
    props = bare.get(f"/crm/v3/objects/tickets/{ticket}", properties="escalated,subject").json()
    assert "escalated" not in props["properties"] and "subject" in props["properties"]


# -- 10. batch read; search by owner -------------------------------------------------------------


def test_batch_read_returns_found_records_and_a_207_for_the_rest(
    hs: Portal, book: Portfolio
) -> None:
    live, gone = book.companies[0]["id"], book.companies[1]["id"]
    hs.fake.archive("companies", gone)
    got = hs.batch(
        "companies", [live, gone, "123"], properties=["name", "arr"], propertiesWithHistory=["arr"]
    )
    assert got.status_code == 207
    body = got.json()
    (result,) = body["results"]
    assert result["id"] == live and set(result["properties"]) >= {"name", "arr"}
    assert result["propertiesWithHistory"]["arr"] and "createdAt" in result
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert sorted(body["errors"][0]["context"]["ids"]) == sorted([gone, "123"])
    archived = hs.http.post(
        "/crm/v3/objects/companies/batch/read?archived=true",
        json={"inputs": [{"id": gone}], "properties": [], "propertiesWithHistory": []},
    )
    assert archived.status_code == 200 and archived.json()["results"][0]["archived"] is True
    # inputs, properties and propertiesWithHistory are all required (HS-spec, HS-py).
    refused(hs.post("/crm/v3/objects/companies/batch/read", {"inputs": [{"id": live}]}))


def test_companies_can_be_searched_by_owner(hs: Portal, book: Portfolio) -> None:
    owner = book.owners[0]["id"]
    f = {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": owner}
    found = hs.search("companies", filterGroups=[{"filters": [f]}], limit=200).json()
    expected = {c["id"] for c in book.companies if c["properties"]["hubspot_owner_id"] == owner}
    assert {r["id"] for r in found["results"]} == expected and expected
