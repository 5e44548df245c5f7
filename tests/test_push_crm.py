"""Pushing the outbox: each local action reaches the CRM exactly once, or says why not."""

from __future__ import annotations

import httpx
import pytest
from support.clocks import Clock
from support.sync import FAST, TODAY, crm_settings

from csm_tui.config import Settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.store import outbox
from csm_tui.store.actions import EnrollmentRequest, add_next_step, enroll, log_touch
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking
from csm_tui.sync.progress import SyncReport


@pytest.fixture
def portfolio() -> Portfolio:
    return generate_portfolio(8, 11, today=TODAY)


@pytest.fixture
def synced(portfolio: Portfolio, apis: FakeApis, clock: Clock) -> Settings:
    """The owner's book, synced once."""
    settings = crm_settings(portfolio.demo_owner_email)
    push(settings, apis, clock)
    return settings


def push(settings: Settings, apis: FakeApis, clock: Clock) -> SyncReport:
    clock.advance(minutes=1)
    return sync_blocking(
        settings, analytics=False, transport=apis.transport(), clock=clock, today=TODAY, policy=FAST
    )


def first_account(settings: Settings) -> tuple[str, str, str]:
    """(account id, its owner id, one of its contacts)."""
    db = open_cache(settings.cache_path, create=False)
    try:
        account, owner = db.execute(
            "SELECT id, owner_id FROM accounts WHERE archived = 0 ORDER BY id LIMIT 1"
        ).fetchone()
        contact = db.execute(
            "SELECT id FROM contacts WHERE account_id = ? ORDER BY id LIMIT 1", [account]
        ).fetchone()[0]
        return account, owner, contact
    finally:
        db.conn.close()


def test_a_logged_touch_becomes_one_note_with_its_owner_and_associations(
    synced: Settings, apis: FakeApis, clock: Clock
) -> None:
    account, owner, contact = first_account(synced)
    db = open_cache(synced.cache_path)
    touch = log_touch(
        db, account_id=account, kind="qbr", summary="Walked through Q3 adoption",
        occurred_at=clock.now.isoformat(), contact_id=contact, sentiment="positive",
    )  # fmt: skip
    step = add_next_step(db, account_id=account, title="Send QBR deck", due_date=TODAY)
    db.conn.close()
    report = push(synced, apis, clock)
    assert report.pushed == 2 and report.push_failed == 0
    hub = apis.hubspot
    assert hub.created == {"meetings": 1, "tasks": 1}
    meeting = hub.records("meetings")[-1]
    assert meeting["properties"]["hs_meeting_title"] == "QBR"
    assert meeting["properties"]["hubspot_owner_id"] == owner
    assert hub.associations_of("meetings", meeting["id"], "companies") == [account]
    assert hub.associations_of("meetings", meeting["id"], "contacts") == [contact]
    task = hub.records("tasks")[-1]
    assert task["properties"]["hs_task_subject"] == "Send QBR deck"
    assert hub.associations_of("tasks", task["id"], "companies") == [account]
    db = open_cache(synced.cache_path)
    assert db["touches"].get(touch)["remote_id"] == meeting["id"]
    assert db["next_steps"].get(step)["remote_id"] == task["id"]
    assert outbox.counts(db) == {outbox.PENDING: 0, outbox.FAILED: 0, outbox.DONE: 2}
    # Pulled back, the CRM copies are recognised as ours: no duplicate rows in the timeline.
    assert (
        db.execute("SELECT COUNT(*) FROM touches WHERE remote_id = ?", [meeting["id"]]).fetchone()[
            0
        ]
        == 1
    )
    db.conn.close()
    push(synced, apis, clock)
    assert hub.created == {"meetings": 1, "tasks": 1}, "nothing is pushed twice"


def test_a_create_whose_answer_is_lost_is_found_not_made_again(
    synced: Settings, apis: FakeApis, clock: Clock
) -> None:
    account, _, contact = first_account(synced)
    db = open_cache(synced.cache_path)
    log_touch(db, account_id=account, kind="note", summary="Renewal chat",
              occurred_at=clock.now.isoformat(), contact_id=contact)  # fmt: skip
    db.conn.close()
    apis.faults.add(path=r"/crm/v3/objects/notes$", method="POST", after_handling=True)
    report = push(synced, apis, clock)
    assert apis.faults.pending == 0
    assert apis.hubspot.created["notes"] == 1
    # HubSpot's search shows the new note only after a while: the item waits, unconfirmed.
    assert report.pushed == 0 and any("wait for the next sync" in w for w in report.warnings)
    later = push(synced, apis, clock)  # a minute on: the search has caught up
    assert later.pushed == 1
    assert apis.hubspot.created["notes"] == 1, "found by its marker, not made again"


def test_a_network_failure_leaves_the_item_waiting_and_a_refusal_fails_it_with_its_reason(
    synced: Settings, apis: FakeApis, clock: Clock
) -> None:
    account, _, contact = first_account(synced)
    db = open_cache(synced.cache_path)
    log_touch(db, account_id=account, kind="call", summary="Left a voicemail",
              occurred_at=clock.now.isoformat(), contact_id=contact)  # fmt: skip
    log_touch(db, account_id="999", kind="note", summary="Account that does not exist",
              occurred_at=clock.now.isoformat())  # fmt: skip
    db.conn.close()
    apis.faults.add(
        path=r"/crm/v3/objects/calls$", method="POST", exception=httpx.ConnectError, times=100
    )
    report = push(synced, apis, clock)
    assert report.pushed == 0 and report.push_failed == 1
    assert "does not exist" in report.push_errors[0]
    assert any("wait for the next sync" in w for w in report.warnings)
    db = open_cache(synced.cache_path)
    states = {i.payload["kind"]: (i.state, i.last_error) for i in outbox.items(db)}
    assert states["call"][0] == outbox.PENDING
    assert states["note"][0] == outbox.FAILED and "does not exist" in states["note"][1]
    db.conn.close()
    apis.faults.clear()
    assert push(synced, apis, clock).pushed == 1
    assert apis.hubspot.created["calls"] == 1


def test_an_already_enrolled_contact_is_reported_not_enrolled_again(
    portfolio: Portfolio, synced: Settings, apis: FakeApis, clock: Clock
) -> None:
    db = open_cache(synced.cache_path)
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    seq_a, seq_b = [s["id"] for s in portfolio.sequences if s["userId"] == str(owner["userId"])][:2]
    busy_id, free_id = [
        r[0]
        for r in db.execute(
            "SELECT id FROM contacts WHERE unsubscribed = 0 AND bounced = 0 ORDER BY id LIMIT 2"
        )
    ]
    for cid in (busy_id, free_id):
        apis.hubspot.enrollments.pop(cid, None)
    # Someone else enrolled this contact in another sequence, in HubSpot, meanwhile.
    apis.hubspot.enrollments[busy_id] = {"id": "77", "contactId": busy_id, "sequenceId": seq_a}
    busy = {"contactId": busy_id, "sequenceId": seq_a}
    other_seq = seq_b
    free = (free_id, db["contacts"].get(free_id)["account_id"])
    account_of_busy = db["contacts"].get(busy["contactId"])["account_id"]
    enroll(db, [
        EnrollmentRequest(busy["contactId"], account_of_busy, other_seq, owner["email"], str(owner["userId"])),
        EnrollmentRequest(free[0], free[1], other_seq, owner["email"], str(owner["userId"])),
    ])  # fmt: skip
    db.conn.close()
    apis.faults.add(path=r"/sequences/enrollments$", method="POST", after_handling=True)
    report = push(synced, apis, clock)
    assert report.already_enrolled == 1 and report.pushed == 2
    assert any(busy["contactId"] in w and "already enrolled" in w for w in report.warnings)
    assert (
        apis.hubspot.created["enrollments"] == 1
    )  # the free contact, once despite the lost answer
    assert apis.hubspot.enrollments[busy["contactId"]]["sequenceId"] == busy["sequenceId"]
    db = open_cache(synced.cache_path)
    states = {r["contact_id"]: r["state"] for r in db["enrollments"].rows if r["origin"] == "local"}
    db.conn.close()
    assert states == {busy_id: "failed", free_id: "active"}


def test_an_unsubscribed_contact_is_refused_and_the_item_keeps_the_reason(
    portfolio: Portfolio, synced: Settings, apis: FakeApis, clock: Clock
) -> None:
    db = open_cache(synced.cache_path)
    contact, account = db.execute(
        "SELECT id, account_id FROM contacts ORDER BY id LIMIT 1"
    ).fetchone()
    db.conn.close()
    apis.hubspot.update("contacts", contact, {"hs_email_optout": "true"})
    apis.hubspot.enrollments.pop(contact, None)
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    seq = next(s["id"] for s in portfolio.sequences if s["userId"] == str(owner["userId"]))
    db = open_cache(synced.cache_path)
    enroll(db, [EnrollmentRequest(contact, account, seq, owner["email"], str(owner["userId"]))])
    db.conn.close()
    report = push(synced, apis, clock)
    assert report.push_failed == 1 and "unsubscribed" in report.push_errors[0]
    db = open_cache(synced.cache_path)
    (item,) = outbox.items(db)
    assert item.state == outbox.FAILED and "unsubscribed" in (item.last_error or "")
    db.conn.close()


def test_already_enrolled_from_the_create_itself_counts_as_done_and_is_reported(
    portfolio: Portfolio, synced: Settings, apis: FakeApis, clock: Clock
) -> None:
    db = open_cache(synced.cache_path)
    owner = next(o for o in portfolio.owners if o["email"] == portfolio.demo_owner_email)
    seq_a, seq_b = [s["id"] for s in portfolio.sequences if s["userId"] == str(owner["userId"])][:2]
    contact, account = db.execute(
        "SELECT id, account_id FROM contacts WHERE unsubscribed = 0 AND bounced = 0 LIMIT 1"
    ).fetchone()
    apis.hubspot.enrollments[contact] = {"id": "78", "contactId": contact, "sequenceId": seq_a}
    enroll(db, [EnrollmentRequest(contact, account, seq_b, owner["email"], str(owner["userId"]))])
    db.conn.close()
    # The read of the contact's enrollment misses it (a race): the create answers ALREADY_ENROLLED.
    apis.faults.add(path=rf"/enrollments/contact/{contact}$", status=404,
                    body={"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"})  # fmt: skip
    report = push(synced, apis, clock)
    assert report.pushed == 1 and report.already_enrolled == 1 and report.push_failed == 0
    assert apis.hubspot.created["enrollments"] == 0
