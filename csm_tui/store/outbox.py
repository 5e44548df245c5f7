"""The outbox: every local action waits here until it is pushed to the CRM, exactly once."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from csm_tui.store.db import utc_now
from csm_tui.store.transaction import transaction

PENDING, FAILED, DONE = "pending", "failed", "done"
# last_error of an item whose create may already have happened (sent, no answer yet).
UNCONFIRMED = "Unconfirmed create"


@dataclass(frozen=True)
class OutboxItem:
    """One action waiting to be pushed (or that failed)."""

    id: str
    kind: str
    ref_id: str
    payload: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None
    remote_id: str | None
    created_at: str
    updated_at: str


def new_id() -> str:
    """A fresh local id (uuid4, hex)."""
    return uuid.uuid4().hex


def add_item(
    db: sqlite_utils.Database,
    *,
    kind: str,
    ref_id: str,
    payload: dict[str, Any] | None,
    now: str,
) -> str:
    """Queue one outbox item (inside the caller's transaction, with the local write it pushes);
    its id."""
    outbox_id = new_id()
    db.table("outbox").insert(
        {
            "id": outbox_id,
            "kind": kind,
            "ref_id": ref_id,
            "payload": json.dumps(payload or {}, sort_keys=True),
            "state": PENDING,
            "attempts": 0,
            "last_error": None,
            "remote_id": None,
            "created_at": now,
            "updated_at": now,
        }
    )
    return outbox_id


def record_local_action(
    db: sqlite_utils.Database,
    *,
    table: str,
    row: dict[str, Any],
    kind: str | None,
    payload: dict[str, Any] | None = None,
    replace: bool = False,
    created_at: str | None = None,
) -> str | None:
    """Write a local action's row and its outbox row in one transaction.

    ``row`` must carry its ``id`` (or ``account_id`` for snoozes). ``kind=None`` records a
    local-only action (a snooze) with no outbox row. Returns the outbox id, or None.
    """
    now = created_at or utc_now()
    with transaction(db):
        if replace:
            db.table(table).upsert(row, pk=_pk(table))
        else:
            db.table(table).insert(row)
        if kind is None:
            return None
        return add_item(
            db,
            kind=kind,
            ref_id=str(row.get("id") or row.get("account_id")),
            payload=payload,
            now=now,
        )


def _pk(table: str) -> str:
    return "account_id" if table == "snoozes" else "id"


def _item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        kind=row["kind"],
        ref_id=row["ref_id"],
        payload=json.loads(row["payload"] or "{}"),
        state=row["state"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        remote_id=row["remote_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def items(
    db: sqlite_utils.Database, states: tuple[str, ...] = (PENDING, FAILED)
) -> list[OutboxItem]:
    """Outbox items in the given states, oldest first."""
    marks = ",".join("?" for _ in states)
    rows = db.query(
        f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY created_at, rowid", states
    )
    return [_item(r) for r in rows]


def find(db: sqlite_utils.Database, item_id: str) -> OutboxItem | None:
    """The waiting or failed item named by ``item_id`` (its id, or a unique prefix of at least
    MIN_PREFIX characters); None if there is none. Raises AmbiguousIdError."""
    target = _resolve(db, item_id, (PENDING, FAILED))
    if target is None:
        return None
    row = next(iter(db.query("SELECT * FROM outbox WHERE id = ?", [target])), None)
    return _item(row) if row is not None else None


def pending_item(db: sqlite_utils.Database, item_id: str) -> OutboxItem | None:
    """The item if it still waits to be pushed (not undone, discarded, failed or done)."""
    row = next(
        iter(db.query("SELECT * FROM outbox WHERE id = ? AND state = ?", [item_id, PENDING])),
        None,
    )
    return _item(row) if row is not None else None


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Number of outbox items per state."""
    found = {PENDING: 0, FAILED: 0, DONE: 0}
    for row in db.query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state"):
        found[row["state"]] = row["n"]
    return found


def mark_done(db: sqlite_utils.Database, item_id: str, remote_id: str | None) -> None:
    """The CRM has the item: keep the row (for audit) as done, with the remote id."""
    with transaction(db):
        db.execute(
            "UPDATE outbox SET state=?, remote_id=?, last_error=NULL, attempts=attempts+1, "
            "updated_at=? WHERE id=?",
            (DONE, remote_id, utc_now(), item_id),
        )


def mark_failed(db: sqlite_utils.Database, item_id: str, error: str) -> None:
    """Pushing failed: keep the item with its error, to be retried or discarded by the user."""
    with transaction(db):
        db.execute(
            "UPDATE outbox SET state=?, last_error=?, attempts=attempts+1, updated_at=? WHERE id=?",
            (FAILED, error, utc_now(), item_id),
        )


class AmbiguousIdError(ValueError):
    """An id prefix matches more than one outbox item, or is too short to name one surely."""


MIN_PREFIX = 6  # a shorter prefix names an item by luck (two characters matched a pending call)


def _resolve(db: sqlite_utils.Database, item_id: str, states: tuple[str, ...]) -> str | None:
    """The one item in ``states`` whose id starts with ``item_id``; None if there is none.

    Raises AmbiguousIdError when the prefix matches several items: acting on "the first"
    of them would retry or drop something the user did not mean.
    """
    prefix = item_id.strip().lower()
    if not prefix or not all(c in "0123456789abcdef" for c in prefix):
        return None
    if len(prefix) < MIN_PREFIX:
        raise AmbiguousIdError(
            f"{item_id!r} is too short to name an outbox item surely: give at least "
            f"{MIN_PREFIX} characters of its id (`csm-tui outbox` lists them)"
        )
    marks = ",".join("?" for _ in states)
    found = [
        row["id"]
        for row in db.query(
            f"SELECT id FROM outbox WHERE substr(id, 1, ?) = ? AND state IN ({marks}) ORDER BY id",
            [len(prefix), prefix, *states],
        )
    ]
    if len(found) > 1:
        shown = ", ".join(i[: max(len(prefix) + 4, 8)] for i in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise AmbiguousIdError(
            f"{item_id!r} matches {len(found)} outbox items ({shown}{more}): give more of the id"
        )
    return found[0] if found else None


def retry(db: sqlite_utils.Database, item_id: str) -> bool:
    """Put a failed item back in line; False if no failed item has that id (or id prefix).

    Raises AmbiguousIdError if the prefix matches several failed items.
    """
    with transaction(db):
        target = _resolve(db, item_id, (FAILED,))
        if target is None:
            return False
        cur = db.execute(
            "UPDATE outbox SET state=?, updated_at=? WHERE id=? AND state=?",
            (PENDING, utc_now(), target, FAILED),
        )
        return cur.rowcount == 1


def discard(db: sqlite_utils.Database, item_id: str) -> bool:
    """Drop a waiting or failed item (the user's choice); its local row stays.

    False if no such item; raises AmbiguousIdError if the prefix matches several.
    """
    with transaction(db):
        target = _resolve(db, item_id, (PENDING, FAILED))
        if target is None:
            return False
        cur = db.execute(
            "DELETE FROM outbox WHERE id=? AND state IN (?, ?)", (target, PENDING, FAILED)
        )
        return cur.rowcount == 1
