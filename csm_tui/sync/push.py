"""Push the outbox to the CRM: touches as engagements, next steps as tasks, enrollments.

At-least-once without duplicates: every record carries its outbox id as a marker, and before
each create the CRM is searched for it (a create whose answer was lost is then found, not
made twice); a create whose outcome is unknown is never repeated in the same sync, as the
CRM's search may not show it yet. An enrollment first reads the contact's current enrollment
(the same lookup-before-create); ALREADY_ENROLLED counts as done and is reported.

A permanent refusal (4xx) fails that one item with its error and the push goes on with the
next: a 403 is a missing scope or seat for one feature, not a bad token. When a 403 names the
missing scope, later items of the same feature fail at once with the same line (no request).
A network failure leaves the item pending for the next sync; only a rejected token (401) or a
spent daily budget stops the push. Nothing is dropped silently.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlite_utils

from csm_tui.sources.http import (
    ApiError,
    BadResponse,
    DailyLimitReached,
    Forbidden,
    HttpPolicy,
    NotSent,
    TransientError,
)
from csm_tui.sources.hubspot import ENGAGEMENT_ASSOCIATION, HubSpot, association
from csm_tui.store import outbox
from csm_tui.store.outbox import UNCONFIRMED, OutboxItem
from csm_tui.store.transaction import transaction
from csm_tui.sync.mapping import marker_text
from csm_tui.sync.progress import ProgressCallback, SyncProgress, SyncReport

TOUCH_TYPE = {
    "note": "notes",
    "call": "calls",
    "meeting": "meetings",
    "qbr": "meetings",
    "email": "emails",
}
MARKER_SEARCH_PROPERTY = {
    "notes": "hs_note_body",
    "calls": "hs_call_body",
    "meetings": "hs_meeting_body",
    "emails": "hs_email_text",
    "tasks": "hs_task_body",
}
LOCAL_TABLE = {"touch": "touches", "next_step": "next_steps", "enrollment": "enrollments"}
# A 403 on an enrollment that names no scope: most often the user lacks the paid seat that
# sequences need (csm_tui/fakes/CONTRACT.md).
SEAT_HINT = (
    "enrolling needs a Sales Hub or Service Hub Professional or Enterprise seat assigned to the "
    "account owner in HubSpot"
)

SEARCH_CATCH_UP = timedelta(minutes=5)  # how long HubSpot's search may take to show a record


class StillIndexing(Exception):
    """Internal: an unconfirmed create is recent; the CRM's search may not show it yet."""


class PushFailed(Exception):
    """Internal: the CRM refused this item for good; the message says why.

    ``repeated``: the reason was already reported for an earlier item of this sync.
    """

    def __init__(self, message: str, *, repeated: bool = False) -> None:
        super().__init__(message)
        self.repeated = repeated


def hs_time(value: str | datetime) -> str:
    """An instant as HubSpot takes it: ISO in UTC with milliseconds and Z."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _title(summary: str, fallback: str) -> str:
    first = summary.strip().splitlines()[0] if summary.strip() else ""
    return (first[:77] + "...") if len(first) > 80 else (first or fallback)


def touch_record(
    item: OutboxItem, owner_id: str | None
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """(object type, properties, associations) of a touch, with our marker in its body."""
    p = item.payload
    kind = str(p.get("kind") or "note")
    obj_type = TOUCH_TYPE.get(kind, "notes")
    summary = str(p.get("summary") or "")
    sentiment = p.get("sentiment")
    body = summary + (f"\nSentiment: {sentiment}" if sentiment else "")
    body = f"{body}\n{marker_text(item.id)}".strip()
    when = hs_time(str(p["occurred_at"]))
    props: dict[str, Any] = {"hs_timestamp": when}
    if obj_type == "notes":
        props["hs_note_body"] = body
    elif obj_type == "calls":
        props |= {"hs_call_title": _title(summary, "Call"), "hs_call_body": body}
        props["hs_call_direction"] = "OUTBOUND"
    elif obj_type == "meetings":
        title = "QBR" if kind == "qbr" else _title(summary, "Meeting")
        props |= {"hs_meeting_title": title, "hs_meeting_body": body}
        props["hs_meeting_start_time"] = when
    else:
        props |= {"hs_email_subject": _title(summary, "Email"), "hs_email_text": body}
        props["hs_email_direction"] = "EMAIL"
    if owner_id:
        props["hubspot_owner_id"] = owner_id
    to_contact, to_company = ENGAGEMENT_ASSOCIATION[obj_type]
    assoc = [association(str(p["account_id"]), to_company)]
    if p.get("contact_id"):
        assoc.append(association(str(p["contact_id"]), to_contact))
    return obj_type, props, assoc


def task_record(
    item: OutboxItem, owner_id: str | None, now: datetime
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """(object type, properties, associations) of a next step as a task."""
    p = item.payload
    due = p.get("due_date")
    when = datetime.combine(date.fromisoformat(due), time(9, 0), UTC) if due else now
    props: dict[str, Any] = {
        "hs_task_subject": str(p.get("title") or ""),
        "hs_task_body": marker_text(item.id),
        "hs_task_status": "NOT_STARTED",
        "hs_timestamp": hs_time(when),
    }
    if owner_id:
        props["hubspot_owner_id"] = owner_id
    _, to_company = ENGAGEMENT_ASSOCIATION["tasks"]
    return "tasks", props, [association(str(p["account_id"]), to_company)]


def _already_enrolled(exc: ApiError) -> bool:
    body = exc.body or {}
    text = " ".join(
        str(body.get(k) or "") for k in ("category", "subCategory", "errorType", "message")
    )
    return "ALREADY_ENROLLED" in text.upper().replace(" ", "_") or "ALREADY_ENROLLED" in str(exc)


def _about_the_contact(exc: ApiError) -> bool:
    """True when HubSpot refused the enrollment because of the contact (unsubscribed, bounced),
    so the sender is not what went wrong."""
    return str((exc.body or {}).get("subCategory") or "").upper().startswith("CONTACT_")


def feature_of(item: OutboxItem) -> str:
    """The CRM feature an outbox item needs: a missing scope stops that feature, not the push."""
    if item.kind == "enrollment":
        return "sequences"
    if item.kind in ("next_step", "step_change"):
        return "tasks"
    return TOUCH_TYPE.get(str(item.payload.get("kind") or "note"), "notes")


class Pusher:
    """Push every pending outbox item, oldest first.

    ``sender_email`` (settings crm.sender_email) is the inbox connected to HubSpot that
    sequences send from, for enrollments on behalf of ``owner_email`` (crm.owner_email; all of
    them when that is empty); unset, the account owner's login email is sent instead.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        hubspot: HubSpot,
        *,
        policy: HttpPolicy,
        report: SyncReport,
        progress: ProgressCallback,
        now: datetime,
        sender_email: str = "",
        owner_email: str = "",
    ) -> None:
        self.db = db
        self.hs = hubspot
        self.policy = policy
        self.report = report
        self.progress = progress
        self.now = now
        self.sender_email = sender_email.strip()
        self.owner_email = owner_email.strip().lower()
        self._state = "active"  # what the local enrollment row becomes when its item is done
        # feature -> the 403 line naming the scope it lacks: the token will not gain it during
        # this sync, so later items of that feature fail without a request.
        self._refused: dict[str, str] = {}
        self._repeated = 0

    async def run(self) -> None:
        """Push what waits; report what failed or was already there."""
        waiting = outbox.items(self.db, (outbox.PENDING,))
        left = 0
        if waiting:
            self.progress(SyncProgress("push", "outbox", 0, len(waiting)))
        for n, listed in enumerate(waiting, 1):
            self._state = "active"
            # Read again right before pushing: the CSM may have undone or discarded it since
            # the push began (the app works while a cron sync runs).
            item = outbox.pending_item(self.db, listed.id)
            try:
                if item is None:
                    continue
                remote_id = await self._push(item)
            except PushFailed as exc:
                assert item is not None  # raised by _push: the item was there
                self._fail(item, str(exc), repeated=exc.repeated)
            except StillIndexing:
                left += 1  # the row keeps the time of the unconfirmed create
            except DailyLimitReached:
                raise  # every later request is refused too, until the portal's midnight
            except (TransientError, BadResponse) as exc:
                assert item is not None  # raised by _push: the item was there
                left += 1
                self._note_attempt(item.id, str(exc))
            else:
                self._done(item, remote_id)
                self.report.pushed += 1
            finally:
                done = n == len(waiting)
                self.progress(
                    SyncProgress("push", "outbox", n, len(waiting), "done" if done else "")
                )
        if self._repeated:
            self.report.push_errors.append(
                f"{self._repeated} more outbox item{'s' if self._repeated > 1 else ''} failed "
                "for a missing scope named above, without being sent"
            )
        if left:
            self.report.warnings.append(
                f"{left} outbox item{'s' if left > 1 else ''} could not reach the CRM and "
                "wait for the next sync"
            )

    def _fail(self, item: OutboxItem, message: str, *, repeated: bool) -> None:
        """The item fails with its one-line reason; the sync reports each reason once."""
        outbox.mark_failed(self.db, item.id, message)
        self.report.push_failed += 1
        if repeated:
            self._repeated += 1
        else:
            self.report.push_errors.append(f"{item.kind} {item.id[:8]}: {message}")

    def _note_attempt(self, item_id: str, error: str, *, count: bool = True) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE outbox SET attempts=attempts+?, last_error=?, updated_at=? WHERE id=?",
                [int(count), error, self.now.isoformat(timespec="microseconds"), item_id],
            )

    def _done(self, item: OutboxItem, remote_id: str | None) -> None:
        """Outbox row done and the local row linked to the CRM record, in one transaction."""
        table = LOCAL_TABLE.get(item.kind)
        with transaction(self.db):
            outbox.mark_done(self.db, item.id, remote_id)
            if table is None:  # a change to a record the CRM already has: nothing to link
                return
            if table == "enrollments":
                self.db.execute(
                    "UPDATE enrollments SET remote_id=?, state=? WHERE id=?",
                    [remote_id, self._state, item.ref_id],
                )
            else:
                self.db.execute(
                    f"UPDATE {table} SET remote_id=? WHERE id=?", [remote_id, item.ref_id]
                )

    def _owner_of(self, account_id: Any) -> str | None:
        row = self.db.execute("SELECT owner_id FROM accounts WHERE id=?", [account_id]).fetchone()
        return str(row[0]) if row and row[0] else None

    async def _push(self, item: OutboxItem) -> str | None:
        feature = feature_of(item)
        if feature in self._refused:
            raise PushFailed(self._refused[feature], repeated=True)
        try:
            if item.kind == "enrollment":
                return await self._enroll(item)
            if item.kind == "step_change":
                return await self._change_task(item)
            owner = self._owner_of(item.payload.get("account_id"))
            if item.kind == "touch":
                obj_type, props, assoc = touch_record(item, owner)
            elif item.kind == "next_step":
                obj_type, props, assoc = task_record(item, owner, self.now)
            else:
                raise PushFailed(f"unknown outbox kind {item.kind!r}")
            return await self._create_once(item, obj_type, props, assoc)
        except Forbidden as exc:
            message = str(exc)
            if exc.scopes:
                self._refused[feature] = message
            elif item.kind == "enrollment" and "seat" not in message.lower():
                message = f"{message}; {SEAT_HINT}"
            raise PushFailed(message) from None
        except ApiError as exc:
            raise PushFailed(str(exc)) from None
        except (KeyError, ValueError) as exc:
            raise PushFailed(
                f"the outbox item is malformed ({type(exc).__name__}: {exc})"
            ) from None

    async def _change_task(self, item: OutboxItem) -> str | None:
        """Complete, reschedule or retitle the task behind a next step (setting the same values
        again changes nothing: a retried push cannot double anything)."""
        row = self.db.execute(
            "SELECT remote_id FROM next_steps WHERE id = ?", [item.ref_id]
        ).fetchone()
        task_id = item.ref_id.removeprefix("crm:tasks:") if item.ref_id.startswith("crm:") else None
        task_id = task_id or (str(row[0]) if row and row[0] else None)
        if task_id is None:
            # The step itself has not reached the CRM yet (its create failed or waits).
            raise TransientError("its next step is not in the CRM yet; it waits for it")
        p = item.payload
        props: dict[str, Any] = {}
        if "done" in p:
            props["hs_task_status"] = "COMPLETED" if p["done"] else "NOT_STARTED"
        if p.get("due_date"):
            props["hs_timestamp"] = hs_time(f"{p['due_date']}T09:00:00+00:00")
        if p.get("title"):
            props["hs_task_subject"] = str(p["title"])
        await self.hs.update("tasks", task_id, props)
        return task_id

    async def _create_once(
        self, item: OutboxItem, obj_type: str, props: dict[str, Any], assoc: list[dict[str, Any]]
    ) -> str:
        """Look for the marker, create if absent; never create twice in one sync.

        After a create whose outcome is unknown (the answer was lost, or made no sense), one
        lookup follows; if it finds nothing the item waits. HubSpot's search shows a new record
        only after a delay, so the item is created again only once SEARCH_CATCH_UP has passed
        since that create and the marker is still not found, and no pull has linked the local
        row to the record meanwhile (a pull reads the book's records whole, marker included,
        whatever the search shows).
        """
        linked = self._linked(item)
        if linked is not None:
            return linked
        marker, prop = item.id, MARKER_SEARCH_PROPERTY[obj_type]
        found = await self.hs.find_by_marker(obj_type, prop, marker)
        if found is not None:
            return str(found["id"])
        if (item.last_error or "").startswith(UNCONFIRMED):
            since = self.now - datetime.fromisoformat(item.updated_at)
            if since < SEARCH_CATCH_UP:
                raise StillIndexing(marker)
        # Written before the create is sent: a sync killed before the answer leaves the item
        # marked unconfirmed, so the next sync waits for the search too.
        self._note_attempt(item.id, f"{UNCONFIRMED}: sent, no answer yet", count=False)
        try:
            created = await self.hs.create(obj_type, props, assoc)
        except (NotSent, DailyLimitReached):
            raise  # refused or never sent: nothing was created, a later sync tries again
        except (TransientError, BadResponse) as exc:
            try:
                found = await self.hs.find_by_marker(obj_type, prop, marker)
            except TransientError:
                found = None
            if found is not None:
                return str(found["id"])
            raise TransientError(
                f"{UNCONFIRMED} ({exc}): the CRM may have it already, so it is looked up "
                "again before any new create"
            ) from None
        return str(created["id"])

    def _linked(self, item: OutboxItem) -> str | None:
        """The CRM record a pull already linked to the item's local row: it read that record,
        with the item's marker, through a batch read (current, unlike search), so it exists
        even while the search does not show it yet."""
        row = self.db.execute(
            f"SELECT remote_id FROM {LOCAL_TABLE[item.kind]} WHERE id=?", [item.ref_id]
        ).fetchone()
        return str(row[0]) if row and row[0] else None

    def _sender(self, payload: dict[str, Any]) -> tuple[str, str]:
        """The senderEmail to send and, when it is the account owner's login email, why (to
        say if HubSpot refuses it)."""
        login = str(payload.get("sender_email") or "").strip()
        if not self.sender_email:
            return login, (
                ", as crm.sender_email is not set: set it to the inbox connected to HubSpot that "
                "sequences send from"
            )
        if not self.owner_email or login.lower() == self.owner_email:
            return self.sender_email, ""
        return login, f": crm.sender_email is used only for {self.owner_email}'s enrollments"

    async def _enroll(self, item: OutboxItem) -> str | None:
        """Enroll once: read the contact's enrollment first, and again after a lost answer.

        The enrollment read answers from HubSpot's records, not a search index, so a lost
        answer is settled by one read; if that read fails too, the item waits for the next
        sync, which reads before it sends anything.
        """
        p = item.payload
        contact, sequence = str(p["contact_id"]), str(p["sequence_id"])
        # The owners API userId, which enroll_inputs stored (the owner id would be refused).
        user_id = str(p.get("user_id") or "")
        sender, why = self._sender(p)
        if not user_id:
            raise PushFailed(
                "the account owner has no HubSpot user id: sync again, then queue the "
                "enrollment again"
            )
        if not sender:
            raise PushFailed(
                "no sender for the sequence: set crm.sender_email to your inbox connected to "
                "HubSpot"
            )
        current = await self.hs.enrollment_of(contact)
        if current is not None:
            return self._enrolled(item, current, sequence)
        try:
            created = await self.hs.enroll(user_id, contact, sequence, sender)
        except (NotSent, DailyLimitReached):
            raise  # refused or never sent: nothing was enrolled
        except (TransientError, BadResponse) as exc:
            try:
                current = await self.hs.enrollment_of(contact)
            except (NotSent, DailyLimitReached):
                raise
            except (TransientError, BadResponse):
                current = None
            if current is not None:
                return self._enrolled(item, current, sequence)
            raise TransientError(
                f"Unconfirmed enrollment ({exc}): the contact's enrollment is read again "
                "before any new try"
            ) from None
        except Forbidden:
            raise
        except ApiError as exc:
            if _already_enrolled(exc):
                self._report_already(item, None)
                return None
            if why and not _about_the_contact(exc):
                raise PushFailed(
                    f"{exc} (senderEmail was the account owner's login email {sender}{why})"
                ) from None
            raise
        return str(created.get("id") or "") or None

    def _enrolled(self, item: OutboxItem, current: dict[str, Any], sequence: str) -> str | None:
        """The contact's current enrollment settles the item: ours, or someone else's."""
        if str(current.get("sequenceId")) != sequence:
            self._report_already(item, current)
        return str(current.get("id") or "") or None

    def _report_already(self, item: OutboxItem, current: dict[str, Any] | None) -> None:
        self._state = "failed"  # our enrollment did not happen: the contact is in another one
        self.report.already_enrolled += 1
        where = f" in sequence {current.get('sequenceId')}" if current else ""
        self.report.warnings.append(
            f"contact {item.payload.get('contact_id')} was already enrolled{where}: "
            "not enrolled again"
        )
