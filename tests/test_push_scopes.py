"""Pushing the outbox when HubSpot refuses one feature: a missing scope (403 MISSING_SCOPES) or a
missing seat fails only the items that need it, every other item is still pushed in the same
sync, and the enrollment's sender is the inbox the user connected to HubSpot.

The Pusher runs alone here, against the in-process fake HubSpot: one owner, one company, two
contacts and a sequence, and a cache that knows the company.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlite_utils

from csm_tui.commands.demo import demo_inbox, demo_settings
from csm_tui.config import Settings, load_settings
from csm_tui.fakes.router import FakeApis
from csm_tui.sources.http import DailyLimitReached, HttpPolicy
from csm_tui.sources.hubspot import HubSpot
from csm_tui.store import outbox
from csm_tui.store.actions import EnrollmentRequest, add_next_step, enroll, log_touch
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import crm_client
from csm_tui.sync.progress import SyncReport
from csm_tui.sync.push import Pusher

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
FAST = HttpPolicy(attempts=2, retry_total_seconds=5, wait_initial=0.001, wait_max=0.002,
                  wait_jitter=0.0, max_retry_after=0.0)  # fmt: skip
LOGIN = "csm@us.test"
USER_ID = 4242  # the owners API userId: what enrollments are made on behalf of


class Book:
    """A tiny portal in the fake and the same account in the cache."""

    def __init__(self, settings: Settings, inbox: str = LOGIN) -> None:
        self.settings = settings
        self.apis = FakeApis(clock=lambda: NOW)
        hub = self.apis.hubspot
        # ``inbox``: the one inbox the owner connected to HubSpot, which sequences send from.
        self.owner = hub.add_owner(LOGIN, "Casey", "Morgan", user_id=USER_ID, inboxes=[inbox])
        self.company = hub.create(
            "companies", {"name": "Acme", "hubspot_owner_id": self.owner["id"]}
        )
        self.contacts = [
            hub.create("contacts", {"email": f"p{i}@acme.test"}, {"companies": [self.company]})
            for i in range(2)
        ]
        self.sequence = hub.add_sequence("Onboarding", USER_ID)
        self.db: sqlite_utils.Database = open_cache(settings.cache_path)
        self.db["accounts"].insert(
            {"id": self.company, "name": "Acme", "owner_id": self.owner["id"]}
        )

    def queue_enrollments(self, sender: str = LOGIN) -> None:
        """Both contacts into the sequence, as the enroll screen queues them."""
        enroll(self.db, [
            EnrollmentRequest(c, self.company, self.sequence, sender, str(USER_ID))
            for c in self.contacts
        ])  # fmt: skip

    def queue_touch_and_step(self) -> None:
        log_touch(self.db, account_id=self.company, kind="note", summary="Kickoff went well",
                  occurred_at=NOW.isoformat())  # fmt: skip
        add_next_step(self.db, account_id=self.company, title="Send the recap", due_date=None)

    def push(self, *, sender_email: str = "", owner_email: str = LOGIN) -> SyncReport:
        report = SyncReport()
        client = crm_client(self.settings, FAST, self.apis.transport())

        async def go() -> None:
            try:
                await Pusher(
                    self.db, HubSpot(client), policy=FAST, report=report,
                    progress=lambda _: None, now=NOW, sender_email=sender_email,
                    owner_email=owner_email,
                ).run()  # fmt: skip
            finally:
                await client.aclose()

        asyncio.run(go())
        return report

    def states(self) -> dict[str, list[tuple[str, str | None]]]:
        """Per outbox kind: (state, last error) of each item, oldest first."""
        found: dict[str, list[tuple[str, str | None]]] = {}
        for item in outbox.items(self.db, (outbox.PENDING, outbox.FAILED, outbox.DONE)):
            found.setdefault(item.kind, []).append((item.state, item.last_error))
        return found

    def sent(self, fragment: str, method: str | None = None) -> list[str]:
        """The requests the fake received whose path holds ``fragment``."""
        return [
            f"{r.method} {r.url.path}"
            for r in self.apis.hubspot.requests
            if fragment in r.url.path and (method is None or r.method == method)
        ]


INBOX = "casey@mail.us.test"  # not the login email


@pytest.fixture(params=[LOGIN])
def book(request: pytest.FixtureRequest, isolated_env: object) -> Iterator[Book]:
    settings = load_settings(
        crm={"base_url": "http://127.0.0.1:9", "token": "demo-hubspot-token", "owner_email": LOGIN}
    )
    made = Book(settings, inbox=request.param)
    yield made
    made.db.conn.close()


def test_a_missing_enroll_scope_fails_the_enrollments_and_everything_after_is_still_pushed(
    book: Book,
) -> None:
    book.queue_enrollments()
    book.queue_touch_and_step()
    # The private app may read sequences but not enroll.
    book.apis.hubspot.scopes.discard("automation.sequences.enrollments.write")
    report = book.push()

    # The note and the task queued after the enrollments reached HubSpot in the same sync.
    assert book.apis.hubspot.created == {"notes": 1, "tasks": 1}
    assert report.pushed == 2 and report.push_failed == 2
    states = book.states()
    assert [s for s, _ in states["touch"] + states["next_step"]] == [outbox.DONE, outbox.DONE]
    # Each enrollment failed with the one line naming the scope (what the outbox command shows).
    for state, error in states["enrollment"]:
        assert state == outbox.FAILED
        assert error and "automation.sequences.enrollments.write" in error
        assert "\n" not in error and "token rejected" not in error
    # The second enrollment failed without asking HubSpot again: one refused POST in all.
    assert len(book.sent("/sequences/enrollments", "POST")) == 1
    assert len(book.sent("/enrollments/contact/")) == 1
    # The sync's output says it once, and counts the rest.
    assert len(report.push_errors) == 2
    assert "automation.sequences.enrollments.write" in report.push_errors[0]
    assert report.push_errors[1].startswith("1 more outbox item failed for a missing scope")


def test_a_missing_email_scope_stops_only_emails_not_notes(book: Book) -> None:
    for kind in ("email", "note", "email"):
        log_touch(book.db, account_id=book.company, kind=kind, summary=f"A {kind}",
                  occurred_at=NOW.isoformat())  # fmt: skip
    # Emails need sales-email-read, even to look one up by its marker.
    book.apis.hubspot.scopes.discard("sales-email-read")
    report = book.push()
    assert book.apis.hubspot.created == {"notes": 1}
    assert report.pushed == 1 and report.push_failed == 2
    assert len(book.sent("/objects/emails")) == 1, "the second email is not tried"
    errors = [e for _, e in book.states()["touch"] if e]
    assert len(errors) == 2 and all("sales-email-read" in e for e in errors)


def test_a_user_without_a_sequences_seat_fails_alone_and_the_next_enrollment_is_tried(
    book: Book,
) -> None:
    hub = book.apis.hubspot
    hub.add_owner("lead@us.test", user_id=777, sequences_seat=False)
    theirs = hub.add_sequence("Renewal", 777)
    enroll(book.db, [
        EnrollmentRequest(book.contacts[0], book.company, theirs, "lead@us.test", "777"),
        EnrollmentRequest(book.contacts[1], book.company, book.sequence, LOGIN, str(USER_ID)),
    ])  # fmt: skip
    report = book.push()
    first, second = book.states()["enrollment"]
    assert first[0] == outbox.FAILED and first[1] and "seat" in first[1]
    assert second[0] == outbox.DONE  # a seat is missing for one user only: no shortcut
    assert report.pushed == 1 and report.push_failed == 1


def test_a_403_naming_nothing_on_an_enrollment_says_a_seat_may_be_missing(book: Book) -> None:
    book.queue_enrollments()
    book.apis.faults.add(path=r"/sequences/enrollments$", method="POST", status=403, times=1,
                         body={"status": "error", "message": "Forbidden", "category": "FORBIDDEN"})  # fmt: skip
    book.push()
    first, second = book.states()["enrollment"]
    assert first[0] == outbox.FAILED and first[1]
    assert "Professional or Enterprise seat" in first[1] and "\n" not in first[1]
    assert second[0] == outbox.DONE


def test_an_enrollment_read_that_makes_no_sense_waits_without_blocking_the_rest(
    book: Book,
) -> None:
    book.queue_enrollments()
    book.queue_touch_and_step()
    # A proxy answers the contact's enrollment with something that is not an enrollment.
    book.apis.faults.add(path=r"/enrollments/contact/", status=200, times=100, body="[1, 2]",
                         content_type="application/json")  # fmt: skip
    report = book.push()
    assert book.apis.hubspot.created == {"notes": 1, "tasks": 1}
    assert [s for s, _ in book.states()["enrollment"]] == [outbox.PENDING, outbox.PENDING]
    assert book.sent("/sequences/enrollments", "POST") == [], "nothing is enrolled unread"
    assert any("wait for the next sync" in w for w in report.warnings)


def test_a_spent_daily_budget_stops_the_push_and_keeps_every_item(book: Book) -> None:
    book.queue_touch_and_step()
    daily = {"status": "error", "message": "You have reached your daily limit.",
             "errorType": "RATE_LIMIT", "policyName": "DAILY", "correlationId": "d"}  # fmt: skip
    book.apis.faults.add(path=r"/crm/v3/objects/", status=429, times=100, body=daily)
    with pytest.raises(DailyLimitReached):
        book.push()
    # One request was refused; the task was not sent to be refused as well.
    assert len(book.apis.hubspot.requests) == 1
    states = book.states()
    assert [s for s, _ in states["touch"] + states["next_step"]] == [outbox.PENDING] * 2


@pytest.mark.parametrize("book", [INBOX], indirect=True)
def test_enrollments_are_made_for_the_owners_user_id_from_the_connected_inbox(
    book: Book,
) -> None:
    book.queue_enrollments()
    report = book.push(sender_email=INBOX)
    assert report.pushed == 2 and report.push_failed == 0
    assert book.apis.hubspot.created["enrollments"] == 2
    posts = [
        r for r in book.apis.hubspot.requests
        if r.method == "POST" and r.url.path.endswith("/sequences/enrollments")
    ]  # fmt: skip
    # On behalf of the owners API's userId (the owner id would be another user, or none).
    assert {r.url.params["userId"] for r in posts} == {str(USER_ID)} != {book.owner["id"]}
    assert {json.loads(r.content)["senderEmail"] for r in posts} == {INBOX}


@pytest.mark.parametrize("book", [INBOX], indirect=True)
def test_without_the_sender_setting_a_refused_login_email_says_what_to_set(book: Book) -> None:
    book.queue_enrollments()
    report = book.push()  # crm.sender_email not set: the login email is tried
    assert report.push_failed == 2 and book.apis.hubspot.created["enrollments"] == 0
    for _, error in book.states()["enrollment"]:
        assert error and "not a connected inbox" in error  # HubSpot's reason, kept
        assert f"login email {LOGIN}" in error and "crm.sender_email" in error


def test_the_sender_setting_is_not_used_for_another_owners_enrollment(book: Book) -> None:
    book.queue_enrollments(sender="lead@us.test")  # an account of someone else's book
    book.push(sender_email=INBOX)
    bodies = [
        json.loads(r.content) for r in book.apis.hubspot.requests
        if r.method == "POST" and r.url.path.endswith("/sequences/enrollments")
    ]  # fmt: skip
    assert bodies and {b["senderEmail"] for b in bodies} == {"lead@us.test"}


def test_the_demo_sends_from_the_inbox_its_owner_connected() -> None:
    hub = FakeApis(clock=lambda: NOW).hubspot
    hub.add_owner(LOGIN, user_id=1, inboxes=[INBOX])
    hub.add_owner("lead@us.test", user_id=2)
    assert demo_inbox(hub, LOGIN) == INBOX
    assert demo_inbox(hub, "lead@us.test") == "lead@us.test"
    settings = demo_settings(load_settings(), LOGIN, "t", "t", sender_email=INBOX)
    assert settings.crm.sender_email == INBOX
    # The demo portal has the custom ticket properties, so the demo scores escalations.
    props = settings.crm.properties
    assert (props.ticket_escalated, props.ticket_csat) == ("escalated", "csat_score")
