"""Past HubSpot's 10,000-results-per-search cap, with every record sharing one timestamp."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from support.clocks import Clock
from support.sync import FAST, TODAY, crm_settings

from csm_tui.fakes.hubspot import FakeHubSpot
from csm_tui.fakes.router import paced_transport
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking

BULK = 10_350


def test_more_than_10000_records_modified_in_one_second_all_arrive_without_looping() -> None:
    clock = Clock(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
    # HubSpot pages a record's associations by hundreds (v4 reads take up to 500 a call): the
    # fake's small default page would make this one company cost a thousand requests.
    fake = FakeHubSpot(clock=clock, association_page_size=500)
    company = fake.create("companies", {"name": "Bulk Co", "domain": "bulk.example"})
    settings = crm_settings("")
    transport = paced_transport(fake)
    run = dict(analytics=False, transport=transport, clock=clock, today=TODAY, policy=FAST)
    sync_blocking(settings, **run)

    # A month-end import: 10,350 contacts, all modified at the very same instant.
    clock.advance(minutes=10)
    ids = [
        fake.create("contacts", {"email": f"user{i}@bulk.example"}, {"companies": [company]})
        for i in range(BULK)
    ]
    fake.touch_many("contacts", ids, clock.now)
    clock.advance(minutes=1)
    before = len(fake.requests)
    report = sync_blocking(settings, **run)

    db = open_cache(settings.cache_path, create=False)
    assert db["contacts"].count == BULK
    assert db.execute("SELECT COUNT(DISTINCT email) FROM contacts").fetchone()[0] == BULK
    db.conn.close()
    searches = [
        r for r in fake.requests[before:] if r.url.path == "/crm/v3/objects/contacts/search"
    ]
    pages = -(-BULK // 200)
    assert pages <= len(searches) <= pages + 2  # one query per page: no page read twice
    assert report.pulled["contacts"] == BULK
    assert not any("/enrollments/contact/" in r.url.path for r in fake.requests[before:]), (
        "the contacts' sequence state comes with them: no request per contact"
    )
    restarted = [
        r for r in searches
        if any(f["operator"] == "GT" for f in json.loads(r.content)["filterGroups"][0]["filters"])
    ]  # fmt: skip
    assert restarted, "past 10,000 the search restarts after the last id seen"
