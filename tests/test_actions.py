"""Local actions: each writes its row and its outbox row together or not at all, and `u` takes
back the last one the CRM has not seen yet."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest

from csm_tui.store import actions, outbox
from csm_tui.store.actions import EnrollmentRequest


def fail_outbox_writes(db, kind: str) -> None:
    """Make the next outbox insert of ``kind`` fail, as a full disk would."""
    db.execute(
        f"CREATE TRIGGER fail_{kind} BEFORE INSERT ON outbox WHEN NEW.kind = '{kind}' "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )


def payloads(db, kind: str) -> list[dict]:
    rows = db.query("SELECT payload FROM outbox WHERE kind = ? ORDER BY rowid", [kind])
    return [json.loads(r["payload"]) for r in rows]


def requests(*contacts: str) -> list[EnrollmentRequest]:
    return [EnrollmentRequest(c, "a1", "seq1", "csm@us.test", "u1") for c in contacts]


def test_a_touch_with_its_next_step_is_queued_with_the_payloads_sync_pushes(db) -> None:
    touch_id = actions.log_touch(
        db,
        account_id="a1",
        kind="call",
        summary="Renewal call",
        occurred_at="2026-11-21T14:00:00.000000+00:00",
        contact_id="c1",
        sentiment="positive",
        next_step_title="Send the quote",
        next_step_due=date(2026, 11, 27),
    )
    assert payloads(db, "touch") == [
        {
            "account_id": "a1",
            "contact_id": "c1",
            "kind": "call",
            "occurred_at": "2026-11-21T14:00:00.000000+00:00",
            "summary": "Renewal call",
            "sentiment": "positive",
        }
    ]
    assert payloads(db, "next_step") == [
        {"account_id": "a1", "title": "Send the quote", "due_date": "2026-11-27"}
    ]
    step = next(iter(db.query("SELECT * FROM next_steps")))
    assert step["touch_id"] == touch_id and step["done"] == 0


def test_a_touch_whose_outbox_row_cannot_be_written_leaves_nothing_behind(db) -> None:
    fail_outbox_writes(db, "next_step")
    with pytest.raises(sqlite3.DatabaseError, match="disk full"):
        actions.log_touch(
            db,
            account_id="a1",
            kind="email",
            summary="x",
            occurred_at="2026-11-21T14:00:00+00:00",
            next_step_title="Follow up",
        )
    assert db["touches"].count == 0 and db["outbox"].count == 0


def test_a_next_step_is_written_with_its_outbox_row_or_not_at_all(db) -> None:
    actions.add_next_step(db, account_id="a1", title="Book QBR", due_date=None)
    assert db["next_steps"].count == 1 and payloads(db, "next_step")[0]["due_date"] is None
    fail_outbox_writes(db, "next_step")
    with pytest.raises(sqlite3.DatabaseError):
        actions.add_next_step(db, account_id="a1", title="Second", due_date=None)
    assert db["next_steps"].count == 1


def test_an_enrollment_batch_is_written_whole_or_not_at_all(db) -> None:
    ids = actions.enroll(db, requests("c1", "c2"))
    assert len(ids) == 2
    assert payloads(db, "enrollment") == [
        {"contact_id": c, "sequence_id": "seq1", "sender_email": "csm@us.test", "user_id": "u1"}
        for c in ("c1", "c2")
    ]
    fail_outbox_writes(db, "enrollment")
    with pytest.raises(sqlite3.DatabaseError):
        actions.enroll(db, requests("c3", "c4"))
    assert db["enrollments"].count == 2


def test_a_snooze_is_local_only(db) -> None:
    actions.snooze(db, account_id="a1", until=date(2026, 11, 30), reason="on holiday")
    assert db["snoozes"].get("a1")["reason"] == "on holiday"
    assert db["outbox"].count == 0


def test_invalid_actions_are_refused_with_one_line(db) -> None:
    with pytest.raises(actions.ActionError, match="unknown kind 'fax'"):
        actions.log_touch(db, account_id="a1", kind="fax", summary="", occurred_at="x")
    with pytest.raises(actions.ActionError, match="needs a title"):
        actions.add_next_step(db, account_id="a1", title="  ", due_date=None)
    assert db["outbox"].count == 0


def test_undo_takes_back_a_batch_of_enrollments_together(db) -> None:
    actions.add_next_step(db, account_id="a1", title="Earlier", due_date=None)
    actions.enroll(db, requests("c1", "c2", "c3"))
    undone = actions.undo_last(db)
    assert undone is not None and undone.kind == "enrollment"
    assert undone.description == "3 enrollments" and undone.account_id == "a1"
    assert db["enrollments"].count == 0
    assert [i.kind for i in outbox.items(db)] == ["next_step"]


def test_undo_takes_back_a_touch_with_its_next_step(db) -> None:
    actions.log_touch(
        db,
        account_id="a1",
        kind="call",
        summary="s",
        occurred_at="2026-11-21T14:00:00+00:00",
        next_step_title="Send deck",
    )
    undone = actions.undo_last(db)
    assert undone is not None and undone.description == "logged touch and its next step"
    assert db["touches"].count == 0 and db["next_steps"].count == 0 and db["outbox"].count == 0


def test_a_pushed_action_is_never_undone(db) -> None:
    actions.add_next_step(db, account_id="a1", title="Still waiting", due_date=None)
    actions.log_touch(
        db, account_id="a2", kind="note", summary="pushed", occurred_at="2026-11-21T14:00:00+00:00"
    )
    [_step, touch] = outbox.items(db)
    outbox.mark_done(db, touch.id, remote_id="crm-1")
    undone = actions.undo_last(db)  # the touch is in the CRM: the next step is the last unpushed
    assert undone is not None and undone.kind == "next_step"
    assert db["touches"].count == 1
    assert actions.undo_last(db) is None
    assert db["touches"].count == 1
    assert [r["state"] for r in db.query("SELECT state FROM outbox")] == ["done"]


def test_an_action_whose_create_is_in_flight_cannot_be_undone(db) -> None:
    from csm_tui.store import actions as acts
    from csm_tui.store.outbox import UNCONFIRMED

    acts.log_touch(
        db,
        account_id="1",
        kind="call",
        summary="Sent already",
        occurred_at="2026-11-23T09:00:00+00:00",
    )
    db.execute("UPDATE outbox SET last_error = ?", [f"{UNCONFIRMED}: sent, no answer yet"])
    with pytest.raises(acts.ActionError, match="can no longer be undone"):
        acts.undo_last(db)
    assert db["touches"].count == 1 and db["outbox"].count == 1
