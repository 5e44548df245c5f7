"""The CSM's local actions: log a touch, plan a next step, snooze, unsnooze, enroll, undo.

Each write goes in one transaction with its outbox row (snoozes, and ending them, are local only:
the CRM has no such thing). The outbox payloads defined here are what `csm_tui.sync.push` sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlite_utils

from csm_tui.store.db import utc_now
from csm_tui.store.outbox import PENDING, UNCONFIRMED, add_item, new_id, record_local_action
from csm_tui.store.transaction import transaction

TOUCH_KINDS = ("call", "email", "meeting", "qbr", "note")
SENTIMENTS = ("positive", "neutral", "negative")


class ActionError(ValueError):
    """A local action was refused; the message says why in one line."""


def log_touch(
    db: sqlite_utils.Database,
    *,
    account_id: str,
    kind: str,
    summary: str,
    occurred_at: str,
    contact_id: str | None = None,
    sentiment: str | None = None,
    next_step_title: str | None = None,
    next_step_due: date | None = None,
) -> str:
    """Record a touch (queued for the CRM), with the next step it planned if any; return its id.

    The touch and its next step are written in one transaction at one instant, so `undo_last`
    takes them back together.
    """
    if kind not in TOUCH_KINDS:
        raise ActionError(f"unknown kind {kind!r}: choose one of {', '.join(TOUCH_KINDS)}")
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise ActionError(f"unknown sentiment {sentiment!r}: choose one of {', '.join(SENTIMENTS)}")
    if next_step_title is not None and not next_step_title.strip():
        raise ActionError("a next step needs a title")
    touch_id = new_id()
    now = utc_now()
    row = {
        "id": touch_id,
        "account_id": account_id,
        "contact_id": contact_id,
        "kind": kind,
        "occurred_at": occurred_at,
        "summary": summary,
        "sentiment": sentiment,
        "remote_id": None,
        "origin": "local",
        "created_at": now,
    }
    payload = {
        k: row[k]
        for k in ("account_id", "contact_id", "kind", "occurred_at", "summary", "sentiment")
    }
    with transaction(db):
        record_local_action(
            db, table="touches", row=row, kind="touch", payload=payload, created_at=now
        )
        if next_step_title is not None:
            add_next_step(
                db,
                account_id=account_id,
                title=next_step_title,
                due_date=next_step_due,
                touch_id=touch_id,
                created_at=now,
            )
    return touch_id


def add_next_step(
    db: sqlite_utils.Database,
    *,
    account_id: str,
    title: str,
    due_date: date | None,
    touch_id: str | None = None,
    created_at: str | None = None,
) -> str:
    """Plan a next step (pushed as a CRM task); return its id."""
    if not title.strip():
        raise ActionError("a next step needs a title")
    step_id = new_id()
    now = created_at or utc_now()
    row = {
        "id": step_id,
        "account_id": account_id,
        "touch_id": touch_id,
        "title": title,
        "due_date": due_date.isoformat() if due_date else None,
        "done": 0,
        "remote_id": None,
        "origin": "local",
        "created_at": now,
    }
    payload = {k: row[k] for k in ("account_id", "title", "due_date")}
    record_local_action(
        db, table="next_steps", row=row, kind="next_step", payload=payload, created_at=now
    )
    return step_id


def change_next_step(
    db: sqlite_utils.Database,
    *,
    step_id: str,
    done: bool | None = None,
    due_date: date | None = None,
    title: str | None = None,
) -> str:
    """Complete, reschedule or retitle a next step, locally at once and in the CRM on the next
    sync (the task's status, due date or subject; setting them twice changes nothing, so a
    retried push is harmless). Returns the outbox id."""
    if done is None and due_date is None and title is None:
        raise ActionError("nothing to change: say done, a due date or a title")
    if title is not None and not title.strip():
        raise ActionError("a next step needs a title")
    step = db.execute(
        "SELECT account_id, done, due_date, title FROM next_steps WHERE id = ?", [step_id]
    ).fetchone()
    if step is None:
        raise ActionError(f"no next step has the id {step_id!r}")
    before = {"done": step[1], "due_date": step[2], "title": step[3]}
    changes: dict[str, Any] = {}
    if done is not None:
        changes["done"] = 1 if done else 0
    if due_date is not None:
        changes["due_date"] = due_date.isoformat()
    if title is not None:
        changes["title"] = title.strip()
    now = utc_now()
    with transaction(db):
        sets = ", ".join(f"{k} = ?" for k in changes)
        db.execute(f"UPDATE next_steps SET {sets} WHERE id = ?", [*changes.values(), step_id])
        outbox_id = add_item(
            db,
            kind="step_change",
            ref_id=step_id,
            payload={
                "account_id": step[0],
                **changes,
                "before": {k: before[k] for k in changes},  # what undo restores
            },
            now=now,
        )
    return outbox_id


def snooze(db: sqlite_utils.Database, *, account_id: str, until: date, reason: str = "") -> None:
    """Hide an account from the attention list until ``until`` (local only)."""
    row = {
        "account_id": account_id,
        "until": until.isoformat(),
        "reason": reason,
        "created_at": utc_now(),
        "ended_at": None,  # a snooze again after an unsnooze is a new one
        "ended_until": None,
    }
    record_local_action(db, table="snoozes", row=row, kind=None, replace=True)


def unsnooze(db: sqlite_utils.Database, *, account_id: str, today: date) -> str:
    """End an account's snooze today (local only, as the snooze was); undo restores it.

    Returns the day the snooze was to end. The row stays, ended: ``until`` becomes today (the
    account is back: a snooze hides it while ``until`` is after today), ``ended_until`` keeps
    the day it had for undo.
    """
    with transaction(db):
        row = db.execute(
            "SELECT until FROM snoozes WHERE account_id = ? AND until > ?",
            [account_id, today.isoformat()],
        ).fetchone()
        if row is None:
            raise ActionError("This account is not snoozed.")
        db.execute(
            "UPDATE snoozes SET until = ?, ended_at = ?, ended_until = ? WHERE account_id = ?",
            [today.isoformat(), utc_now(), row[0], account_id],
        )
    return str(row[0])


@dataclass(frozen=True)
class EnrollmentRequest:
    """One contact to enroll in one sequence."""

    contact_id: str
    account_id: str
    sequence_id: str
    sender_email: str
    user_id: str


def enroll(db: sqlite_utils.Database, requests: list[EnrollmentRequest]) -> list[str]:
    """Queue enrollments, all in one transaction; return their ids."""
    ids: list[str] = []
    batch_time = utc_now()  # one instant for the batch, so undo takes the batch back together
    with transaction(db):
        for req in requests:
            enrollment_id = new_id()
            row = {
                "id": enrollment_id,
                "contact_id": req.contact_id,
                "sequence_id": req.sequence_id,
                "account_id": req.account_id,
                "state": "queued",
                "enrolled_at": batch_time,
                "remote_id": None,
                "origin": "local",
            }
            payload: dict[str, Any] = {
                "contact_id": req.contact_id,
                "sequence_id": req.sequence_id,
                "sender_email": req.sender_email,
                "user_id": req.user_id,
            }
            record_local_action(
                db,
                table="enrollments",
                row=row,
                kind="enrollment",
                payload=payload,
                created_at=batch_time,
            )
            ids.append(enrollment_id)
    return ids


_TABLE_OF_KIND = {"touch": "touches", "next_step": "next_steps", "enrollment": "enrollments"}


@dataclass(frozen=True)
class Undone:
    """What `undo_last` took back."""

    kind: str  # touch / next_step / enrollment / snooze / unsnooze
    account_id: str | None
    description: str


def undo_last(db: sqlite_utils.Database) -> Undone | None:
    """Take back the most recent local action that has not been pushed; None if there is none.

    An action is every pending outbox row written at one instant: a batch of enrollments, or a
    touch with its next step, is undone together. Pushed rows (state done) and failed ones
    (which the outbox view retries or discards) are never touched.
    """
    with transaction(db):
        last = next(
            iter(
                db.query(
                    "SELECT created_at FROM outbox WHERE state = ? "
                    "ORDER BY created_at DESC, rowid DESC LIMIT 1",
                    [PENDING],
                )
            ),
            None,
        )
        # A snooze, or its early end (unsnooze), is the last action when it is newer than the
        # outbox's last row: undo deletes the snooze, or gives it back its day.
        snz = next(
            iter(
                db.query(
                    "SELECT account_id, created_at AS at, 0 AS ended FROM snoozes "
                    "WHERE ended_at IS NULL UNION ALL "
                    "SELECT account_id, ended_at AS at, 1 AS ended FROM snoozes "
                    "WHERE ended_at IS NOT NULL ORDER BY at DESC LIMIT 1"
                )
            ),
            None,
        )
        if snz is not None and (last is None or snz["at"] > last["created_at"]):
            if snz["ended"]:
                db.execute(
                    "UPDATE snoozes SET until = ended_until, ended_at = NULL, ended_until = NULL "
                    "WHERE account_id = ?",
                    [snz["account_id"]],
                )
                return Undone("unsnooze", snz["account_id"], "unsnooze")
            db.execute("DELETE FROM snoozes WHERE account_id = ?", [snz["account_id"]])
            return Undone("snooze", snz["account_id"], "snooze")
        if last is None:
            return None
        batch = list(
            db.query(
                "SELECT id, kind, ref_id, last_error FROM outbox WHERE state = ? "
                "AND created_at = ? ORDER BY rowid",
                [PENDING, last["created_at"]],
            )
        )
        if any((item["last_error"] or "").startswith(UNCONFIRMED) for item in batch):
            raise ActionError(
                "The last action was already sent to the CRM (its answer is not confirmed "
                "yet), so it can no longer be undone."
            )
        account_id = None
        kinds: dict[str, int] = {}
        for item in batch:
            if item["kind"] == "step_change":  # a change is undone by restoring, not deleting
                payload = json.loads(
                    db.execute("SELECT payload FROM outbox WHERE id = ?", [item["id"]]).fetchone()[
                        0
                    ]
                )
                restore = payload.get("before") or {}
                if restore:
                    sets = ", ".join(f"{k} = ?" for k in restore)
                    db.execute(
                        f"UPDATE next_steps SET {sets} WHERE id = ?",
                        [*restore.values(), item["ref_id"]],
                    )
                account_id = account_id or payload.get("account_id")
                db.execute("DELETE FROM outbox WHERE id = ?", [item["id"]])
                kinds["step_change"] = kinds.get("step_change", 0) + 1
                continue
            table = _TABLE_OF_KIND[item["kind"]]
            row = next(
                iter(db.query(f"SELECT * FROM {table} WHERE id = ?", [item["ref_id"]])), None
            )
            if row is not None and account_id is None:
                account_id = row.get("account_id")
            db.execute(f"DELETE FROM {table} WHERE id = ?", [item["ref_id"]])
            db.execute("DELETE FROM outbox WHERE id = ?", [item["id"]])
            kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
        kind = "touch" if "touch" in kinds else batch[0]["kind"]
        return Undone(kind, account_id, _describe_batch(kinds))


def _describe_batch(kinds: dict[str, int]) -> str:
    """'logged touch and its next step', '3 enrollments', 'next step'."""
    if "touch" in kinds:
        return "logged touch and its next step" if "next_step" in kinds else "logged touch"
    if kinds.get("enrollment", 0) > 1:
        return f"{kinds['enrollment']} enrollments"
    names = {"next_step": "next step", "enrollment": "enrollment", "step_change": "step change"}
    return names.get(next(iter(kinds)), "action")
