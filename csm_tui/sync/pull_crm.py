"""Pull the CRM into the cache: owners, the book's companies and what hangs off them, ARR
history, sequences. It reads the book, never the whole portal.

1. Owners (one small list), to know the CSM's owner id and CRM user id.
2. The book's companies: a search by owner (``hubspot_owner_id EQ``), or, for a manager's view
   with no owner, the companies list. This gives every company id of the book and its modified
   date; companies new to the cache or modified since the last sync (minus a safety margin) are
   read whole by batch reads, with their ARR history (50 a request).
3. Each child type (contacts, deals, tickets, feedback, notes, calls, meetings, emails, tasks):
   one v4 association batch read from the book's companies gives the full set of child ids and
   which company each belongs to (so a record linked to another company, which does not move
   its modified date, is seen at once). Children new to the cache, moved to another account, or
   found by a modified-date search since the last sync (minus the margin) are read by batch
   reads; children no longer linked to the book leave the cache.

HubSpot's search is eventually consistent for creates and updates alike, so each search window
starts ``search_margin`` before the previous sync began; what it finds again is read again
(batch reads are current, unlike search) and written idempotently. A cursor moves in the same
transaction as the rows of its object, so a crash never leaves a cursor ahead of its data.
The rules each request follows, with their sources: csm_tui/fakes/CONTRACT.md.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import sqlite_utils

from csm_tui.sources.http import Forbidden
from csm_tui.sources.hubspot import (
    ASSOC_BATCH,
    BATCH_READ,
    HISTORY_LIMIT,
    SEARCH_LIMIT,
    HubSpot,
    modified_property,
)
from csm_tui.store.bulk import upsert_rows
from csm_tui.store.db import utc_now
from csm_tui.store.transaction import transaction
from csm_tui.sync import mapping
from csm_tui.sync.mapping import PropertyNames
from csm_tui.sync.progress import ProgressCallback, SyncProgress, SyncReport

CHILD_TYPES = (
    "contacts",
    "deals",
    "tickets",
    "feedback_submissions",
    "notes",
    "calls",
    "meetings",
    "emails",
    "tasks",
)
ENGAGEMENTS = ("notes", "calls", "meetings", "emails")
TABLE = {
    "companies": "accounts",
    "contacts": "contacts",
    "deals": "deals",
    "tickets": "tickets",
    "feedback_submissions": "survey_responses",
    "notes": "touches",
    "calls": "touches",
    "meetings": "touches",
    "emails": "touches",
    "tasks": "next_steps",
}
# Child records whose rows name a contact too (read through a second association batch read).
WITH_CONTACT = (*ENGAGEMENTS, "feedback_submissions")
SOURCE = "crm"
DEFAULT_SEARCH_MARGIN_MS = 30 * 60 * 1000


async def _nothing_to_wait_for() -> None:
    return None


class OwnerNotFound(LookupError):
    """crm.owner_email names no CRM owner."""


def row_key(obj_type: str, record_id: str) -> str:
    """The cache row id of a CRM record (engagements are prefixed: touches mix origins)."""
    if obj_type in ENGAGEMENTS or obj_type == "tasks":
        return f"crm:{obj_type}:{record_id}"
    return str(record_id)


def record_id_of(obj_type: str, key: str) -> str:
    """The CRM id inside a cache row id (the inverse of ``row_key``)."""
    prefix = f"crm:{obj_type}:"
    return key[len(prefix) :] if key.startswith(prefix) else key


def read_cursor(db: sqlite_utils.Database, source: str, obj: str) -> str | None:
    """The stored cursor of one object (None before its first complete pull)."""
    row = db.execute(
        "SELECT cursor FROM sync_state WHERE source=? AND object=?", [source, obj]
    ).fetchone()
    return row[0] if row else None


def write_state(
    db: sqlite_utils.Database,
    source: str,
    obj: str,
    *,
    cursor: str | None,
    started: str,
    stats: dict[str, Any],
) -> None:
    """Record a successful pull of one object (call inside the transaction of its last rows)."""
    db.execute(
        "INSERT INTO sync_state (source, object, cursor, sync_started_at, last_success, "
        "last_error, stats) VALUES (?, ?, ?, ?, ?, NULL, ?) ON CONFLICT(source, object) DO "
        "UPDATE SET cursor=excluded.cursor, sync_started_at=excluded.sync_started_at, "
        "last_success=excluded.last_success, last_error=NULL, stats=excluded.stats",
        [source, obj, cursor, started, utc_now(), json.dumps(stats, sort_keys=True)],
    )


def record_error(db: sqlite_utils.Database, source: str, obj: str, error: str) -> None:
    """Remember why an object's pull failed (its cursor stays where it was)."""
    with transaction(db):
        db.execute(
            "INSERT INTO sync_state (source, object, last_error) VALUES (?, ?, ?) "
            "ON CONFLICT(source, object) DO UPDATE SET last_error=excluded.last_error",
            [source, obj, error],
        )


def remove_accounts(db: sqlite_utils.Database, ids: Iterable[str]) -> int:
    """Drop accounts that left the book and every CRM row hanging off them (local rows stay)."""
    ids = list(ids)
    if not ids:
        return 0
    marks = json.dumps(ids)
    scope = "IN (SELECT value FROM json_each(?))"
    for table in (
        "arr_history",
        "contacts",
        "deals",
        "tickets",
        "survey_responses",
        "usage_weekly",
        "user_activity",
        "scores",
    ):
        db.execute(f"DELETE FROM {table} WHERE account_id {scope}", [marks])
    db.execute(f"DELETE FROM touches WHERE origin='crm' AND account_id {scope}", [marks])
    db.execute(f"DELETE FROM next_steps WHERE origin='crm' AND account_id {scope}", [marks])
    return db.execute(f"DELETE FROM accounts WHERE id {scope}", [marks]).rowcount


@dataclass
class _Rows:
    """What one object's records become: rows to write, local rows to link, enrollments."""

    upserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    local_links: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    enrollment_known: list[str] = field(default_factory=list)  # contacts whose CRM said
    dropped: list[str] = field(default_factory=list)  # read, but no row (a survey without score)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.upserts.setdefault(table, []).append(row)

    def count(self, table: str) -> int:
        return len(self.upserts.get(table, ()))


class CrmPull:
    """One pull of the CRM into one cache."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        hubspot: HubSpot,
        *,
        names: PropertyNames,
        owner_email: str,
        full: bool,
        sync_start_ms: int,
        report: SyncReport,
        progress: ProgressCallback,
        search_margin_ms: int = DEFAULT_SEARCH_MARGIN_MS,
        ready_to_write: Callable[[], Awaitable[None]] = _nothing_to_wait_for,
        per_second: float = 10.0,
    ) -> None:
        self.db = db
        self.hs = hubspot
        self.names = names
        self.owner_email = owner_email.strip().lower()
        self.full = full
        self.start_ms = sync_start_ms
        self.margin_ms = search_margin_ms
        self.started = utc_now()
        self.report = report
        self.progress = progress
        # Awaited before the pull's first write (the engine's integrity check, for one).
        self.ready_to_write = ready_to_write
        self.owner_id: str | None = None
        self.book: list[str] = []  # the book's company ids, in id order
        self.current = "owners"  # the object being pulled (where an error is recorded)
        self.planned = 0  # requests this pull knows it needs (grows as it learns the book)
        self.per_second = per_second

    # -- the whole pull ---------------------------------------------------------------------

    async def run(self) -> None:
        """Owners, the book's companies, each child type, sequences."""
        owners = await self.fetch_owners()
        self._follow_server_clock()
        await self.ready_to_write()
        self.write_owners(owners)
        await self.check_properties()
        self.planned = self.hs.client.requests
        await self.pull_companies()
        # The child types are independent: their requests interleave within the budget (each
        # writes its rows and cursor in one transaction of its own, never across an await).
        # The first failure cancels the rest (TaskGroup) and names its own object.
        try:
            async with asyncio.TaskGroup() as group:
                for obj_type in CHILD_TYPES:
                    group.create_task(self._optional(obj_type, self.pull_children(obj_type)))
                group.create_task(self._optional("sequences", self.pull_sequences()))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        sent = self.hs.client.requests
        self.progress(SyncProgress("crm", "requests", sent, sent, "done"))

    async def _optional(self, obj_type: str, pull: Awaitable[None]) -> None:
        """Pull one feature; a 403 (a missing scope or paid seat) turns off that feature alone,
        with one line naming what is missing, and the rest of the sync goes on."""
        try:
            await pull
        except Forbidden as exc:
            self.report.warnings.append(f"{obj_type} not synced: {exc}")
            record_error(self.db, SOURCE, obj_type, str(exc))
        except Exception:
            self.current = obj_type  # where the engine records the error
            raise

    def _plan(self, more: int) -> None:
        """Count ``more`` requests as needed, and say how far the pull is: requests sent of
        those known to be needed, and the time left at the budget's pace."""
        self.planned += more
        sent = self.hs.client.requests
        total = max(self.planned, sent)
        left = (total - sent) / self.per_second
        self.progress(SyncProgress("crm", "requests", sent, total, f"about {left:.0f} s left"))

    def _follow_server_clock(self) -> None:
        """End the search window at the CRM's "now" when its clock is ahead of ours.

        Modified dates are the CRM's clock: with a laptop clock behind it, a window ending at
        the laptop's "now" would leave out every change of the last minutes (or hours).
        """
        server = self.hs.client.server_time
        if server is not None:
            self.start_ms = max(self.start_ms, int(server.timestamp() * 1000))

    def _window_start(self, obj_type: str) -> int | None:
        """Where this object's modified-date search begins (None: read everything)."""
        cursor = None if self.full else read_cursor(self.db, SOURCE, obj_type)
        if cursor is None:
            return None
        return int(cursor) - self.margin_ms

    # -- owners ------------------------------------------------------------------------------

    async def fetch_owners(self) -> list[dict[str, Any]]:
        """Read every owner (and find the one whose book we follow); nothing is written."""
        self.current = "owners"
        rows: list[dict[str, Any]] = []
        after: str | None = None
        self.progress(SyncProgress("crm", "owners", 0, None))
        while True:
            page = await self.hs.owners_page(after)
            for o in page.results:
                rows.append(
                    {
                        "id": str(o["id"]),
                        "email": (o.get("email") or "").lower() or None,
                        "first_name": o.get("firstName"),
                        "last_name": o.get("lastName"),
                        "user_id": str(o["userId"]) if o.get("userId") is not None else None,
                        "teams": json.dumps([t.get("name") for t in o.get("teams") or []]),
                        "archived": 1 if o.get("archived") else 0,
                    }
                )
            self.progress(SyncProgress("crm", "owners", len(rows), None))
            if page.after is None:
                break
            after = page.after
        if self.owner_email:
            match = [r for r in rows if r["email"] == self.owner_email]
            if not match:
                raise OwnerNotFound(
                    f"No CRM owner has the email {self.owner_email} (crm.owner_email): "
                    "fix the setting, or leave it empty to follow the whole portal."
                )
            self.owner_id = match[0]["id"]
        return rows

    def write_owners(self, rows: list[dict[str, Any]]) -> None:
        """Store the owners read by fetch_owners."""
        with transaction(self.db):
            self.db.table("owners").upsert_all(rows, pk="id")
            write_state(
                self.db,
                SOURCE,
                "owners",
                cursor=None,
                started=self.started,
                stats={"rows": len(rows)},
            )
        self.report.add_pulled("owners", len(rows))
        self.progress(SyncProgress("crm", "owners", len(rows), len(rows), "done"))

    async def check_properties(self) -> None:
        """Custom properties the portal lacks (reads ignore unknown names, so only the
        properties API tells): one warning each, and they are read as unknown, never as zero."""
        objects = sorted(
            {
                mapping.PROPERTY_OBJECT[f.name]
                for f in fields(self.names)
                if getattr(self.names, f.name)
            }
        )
        available: dict[str, set[str]] = {}
        for obj_type in objects:
            try:
                available[obj_type] = await self.hs.properties(obj_type)
            except Forbidden:
                continue  # no scope to look: the object's own pull says so
        missing = mapping.missing_properties(available, self.names)
        for obj_type, setting, prop in missing:
            self.report.warnings.append(
                f"the CRM has no {obj_type} property {prop!r} ({setting}): read as unknown; "
                f'set {setting} to the property your portal uses, or to "" if it has none'
            )
        if missing:
            self.names = self.names.without(missing)

    # -- companies ---------------------------------------------------------------------------

    async def pull_companies(self) -> None:
        """The book's company ids; read whole the new and the recently modified ones."""
        self.current = "companies"
        since = self._window_start("companies")
        modified = modified_property("companies")
        found: dict[str, int | None] = {}  # id -> modified ms, as search or the list says
        listed_records: list[dict[str, Any]] = []  # whole records, when the list brings them
        self.progress(SyncProgress("crm", "companies", 0, None))
        if self.owner_id is not None:
            owner = {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": self.owner_id}
            async for page in self.hs.search_all(
                "companies", filters=[owner], properties=[modified]
            ):
                for r in page:
                    found[str(r["id"])] = _modified_ms(r, modified)
                self.progress(SyncProgress("crm", "companies", len(found), None))
        else:
            # A manager's view lists the portal (lists are current, unlike search). The first
            # time, the list brings the whole records with their ARR history (50 a page): one
            # request per 50 companies instead of a list page and a batch read.
            whole = since is None
            after: str | None = None
            while True:
                listed = await self.hs.list_page(
                    "companies",
                    properties=mapping.properties_for("companies", self.names)
                    if whole
                    else [modified],
                    with_history=[self.names.arr] if whole else [],
                    after=after,
                )
                for r in listed.results:
                    found[str(r["id"])] = _modified_ms(r, modified)
                if whole:
                    listed_records.extend(listed.results)
                self.progress(SyncProgress("crm", "companies", len(found), None))
                if listed.after is None:
                    break
                after = listed.after
        self._plan(math.ceil(len(found) / SEARCH_LIMIT) if self.owner_id else 0)
        cached = self._cached_ids("accounts")
        to_read = [
            cid
            for cid, at in found.items()
            if since is None or cid not in cached or at is None or at >= since
        ]
        if self.owner_id is None and since is None:
            records = listed_records
        else:
            self._plan(math.ceil(len(to_read) / HISTORY_LIMIT))
            records = await self.hs.batch_read(
                "companies",
                to_read,
                properties=mapping.properties_for("companies", self.names),
                with_history=[self.names.arr],
            )
        rows = _Rows()
        book = set(found)
        for record in records:
            owner_of = str((record.get("properties") or {}).get("hubspot_owner_id") or "")
            if record.get("archived") or (self.owner_id is not None and owner_of != self.owner_id):
                book.discard(str(record["id"]))  # the search was behind: it left the book
                continue
            rows.add("accounts", mapping.account_row(record, self.names))
            for h in mapping.arr_history_rows(record, self.names):
                rows.add("arr_history", h)
        # Asked for but not found: archived (or merged) since the search indexed it.
        book -= set(to_read) - {str(r["id"]) for r in records}
        self.book = sorted(book, key=_id_order)
        with transaction(self.db):
            left = remove_accounts(self.db, sorted(cached - book))
            read_ids = [str(r["id"]) for r in rows.upserts.get("accounts", ())]
            if read_ids:
                self.db.execute(
                    "DELETE FROM arr_history WHERE account_id IN (SELECT value FROM json_each(?))",
                    [json.dumps(read_ids)],
                )
            self._write(rows)
            write_state(
                self.db,
                SOURCE,
                "companies",
                cursor=str(self.start_ms),
                started=self.started,
                stats={"book": len(self.book), "read": len(read_ids), "left_book": left},
            )
        self.report.add_pulled("companies", len(read_ids))
        self.report.left_book += left
        self.progress(SyncProgress("crm", "companies", len(self.book), len(self.book), "done"))

    # -- children ----------------------------------------------------------------------------

    async def pull_children(self, obj_type: str) -> None:
        """One child type of the book: which records hang off its companies, and the records
        that are new, moved or modified since the last sync."""
        self.current = obj_type
        table = TABLE[obj_type]
        self.progress(SyncProgress("crm", obj_type, 0, None))
        since = self._window_start(obj_type)
        self._plan(1 + (since is not None))  # the association read, the search window
        links = await self.hs.associations("companies", obj_type, self.book)
        account_of = _accounts_by_child(links)
        cached = self._cached_accounts(obj_type)
        to_read = {
            rid
            for rid, account in account_of.items()
            if since is None or rid not in cached or cached[rid] != account
        }
        if since is not None and account_of:
            to_read |= await self._modified_since(obj_type, since) & account_of.keys()
        ids = sorted(to_read, key=_id_order)
        self._plan(math.ceil(len(ids) / BATCH_READ) + (obj_type in WITH_CONTACT and bool(ids)))
        self.progress(SyncProgress("crm", obj_type, 0, len(ids)))
        records = await self.hs.batch_read(
            obj_type, ids, properties=mapping.properties_for(obj_type, self.names)
        )
        contact_of: dict[str, list[str]] = {}
        if obj_type in WITH_CONTACT and records:
            found = await self.hs.associations(
                obj_type, "contacts", [str(r["id"]) for r in records]
            )
            contact_of = {k: _to_ids(v) for k, v in found.items()}
        rows = _Rows()
        for record in records:
            rid = str(record["id"])
            if record.get("archived") or rid not in account_of:
                continue
            self._map(obj_type, record, account_of[rid], contact_of.get(rid, []), rows)
        read = {str(r["id"]) for r in records}
        gone = [key for rid, key in _keys(obj_type, cached) if rid not in account_of]
        # Linked to the book but not found by the batch read: archived since the link was read.
        gone += [row_key(obj_type, rid) for rid in to_read - read if rid in cached]
        # Read, but no longer a row (a survey whose score became unreadable): as a clean sync.
        gone += [key for key in rows.dropped if record_id_of(obj_type, key) in cached]
        relinked = await self._contacts_after_removal(gone) if obj_type == "contacts" else []
        with transaction(self.db):
            removed = self._delete(table, gone)
            for link_table, key, contact in relinked:
                self.db.execute(f"UPDATE {link_table} SET contact_id=? WHERE id=?", [contact, key])
            self._write(rows)
            write_state(
                self.db,
                SOURCE,
                obj_type,
                cursor=str(self.start_ms),
                started=self.started,
                stats={"linked": len(account_of), "read": len(read), "removed": removed},
            )
        self.report.add_pulled(obj_type, rows.count(table))
        self.report.archived += removed
        self.progress(SyncProgress("crm", obj_type, len(ids), len(ids), "done"))
        self._plan(0)

    async def _modified_since(self, obj_type: str, since_ms: int) -> set[str]:
        """Ids of records of this type modified at or after ``since_ms`` (portal-wide search)."""
        prop = modified_property(obj_type)
        window = [{"propertyName": prop, "operator": "GTE", "value": str(since_ms)}]
        ids: set[str] = set()
        async for page in self.hs.search_all(obj_type, filters=window, properties=[prop]):
            ids.update(str(r["id"]) for r in page)
        return ids

    def _map(
        self,
        obj_type: str,
        record: dict[str, Any],
        account: str,
        contact_ids: list[str],
        out: _Rows,
    ) -> None:
        contact = contact_ids[0] if contact_ids else None
        if obj_type in (*ENGAGEMENTS, "tasks"):
            marker = mapping.record_marker(obj_type, record)
            local = self._local_row_of(marker) if marker is not None else None
            if local is not None:  # our own pushed touch or task: link it, never duplicate it
                done = None
                if obj_type == "tasks":
                    status = str((record.get("properties") or {}).get("hs_task_status") or "")
                    done = 1 if status.upper() == "COMPLETED" else 0
                out.local_links.append((TABLE[obj_type], local, str(record["id"]), done))
            elif obj_type == "tasks":
                out.add("next_steps", mapping.next_step_row(record, account))
            else:
                out.add("touches", mapping.touch_row(obj_type, record, account, contact))
            return
        row: dict[str, Any] | None
        if obj_type == "contacts":
            row = mapping.contact_row(record, self.names, account)
            enrollment = mapping.enrollment_from_properties(record, account)
            if enrollment is not False:
                out.enrollment_known.append(str(record["id"]))
                if enrollment:
                    out.add("enrollments", enrollment)
        elif obj_type == "deals":
            row = mapping.deal_row(record, account)
        elif obj_type == "tickets":
            row = mapping.ticket_row(record, account, self.names)
        else:
            row = mapping.survey_row(record, account, contact)
        if row is not None:
            out.add(TABLE[obj_type], row)
        else:
            out.dropped.append(row_key(obj_type, str(record["id"])))

    async def _contacts_after_removal(
        self, contacts: list[str]
    ) -> list[tuple[str, str, str | None]]:
        """The contact that CRM touches and surveys naming one of these leaving contacts name now.

        A contact archived in the CRM drops out of its engagements' associations without moving
        their modified dates; a contact moved to another account still names them. Each such
        row's contact is read again, as a clean sync reads it: (table, row id, contact).
        """
        if not contacts:
            return []
        named: dict[str, list[tuple[str, str]]] = {}  # obj type -> (table, row id)
        marks = json.dumps(contacts)
        for (key,) in self.db.execute(
            "SELECT id FROM touches WHERE origin='crm' AND contact_id IN "
            "(SELECT value FROM json_each(?))",
            [marks],
        ):
            obj_type = str(key).split(":")[1]
            named.setdefault(obj_type, []).append(("touches", str(key)))
        for (key,) in self.db.execute(
            "SELECT id FROM survey_responses WHERE contact_id IN (SELECT value FROM json_each(?))",
            [marks],
        ):
            named.setdefault("feedback_submissions", []).append(("survey_responses", str(key)))
        found: list[tuple[str, str, str | None]] = []
        for obj_type, rows in named.items():
            self._plan(math.ceil(len(rows) / ASSOC_BATCH))
            ids = [record_id_of(obj_type, key) for _, key in rows]
            try:
                links = await self.hs.associations(obj_type, "contacts", ids)
            except Forbidden:
                continue  # that type's own pull says so
            for (link_table, key), rid in zip(rows, ids, strict=True):
                now = _to_ids(links.get(rid, []))
                found.append((link_table, key, now[0] if now else None))
        return found

    # -- the cache -----------------------------------------------------------------------------

    def _cached_ids(self, table: str) -> set[str]:
        return {r[0] for r in self.db.execute(f"SELECT id FROM {table}")}

    def _cached_accounts(self, obj_type: str) -> dict[str, str | None]:
        """CRM id -> account id of this type's rows in the cache (CRM rows only)."""
        table = TABLE[obj_type]
        if table in ("touches", "next_steps"):
            prefix = f"crm:{obj_type}:"
            rows = self.db.execute(
                f"SELECT id, account_id FROM {table} WHERE origin='crm' AND substr(id, 1, ?) = ?",
                [len(prefix), prefix],
            )
            found = {record_id_of(obj_type, r[0]): r[1] for r in rows}
            # Our own pushed rows, linked to their CRM record, count as cached too.
            linked = self.db.execute(
                f"SELECT remote_id, account_id FROM {table} WHERE origin != 'crm' AND "
                "remote_id IS NOT NULL"
            )
            found.update({str(r[0]): r[1] for r in linked})
            return found
        return {r[0]: r[1] for r in self.db.execute(f"SELECT id, account_id FROM {table}")}

    def _local_row_of(self, outbox_id: str) -> str | None:
        row = self.db.execute("SELECT ref_id FROM outbox WHERE id=?", [outbox_id]).fetchone()
        return str(row[0]) if row else None

    def _write(self, rows: _Rows) -> None:
        """Write mapped rows (inside the caller's transaction)."""
        if rows.enrollment_known:
            self.db.execute(
                "DELETE FROM enrollments WHERE origin='crm' AND contact_id IN "
                "(SELECT value FROM json_each(?))",
                [json.dumps(rows.enrollment_known)],
            )
        for name, batch in rows.upserts.items():
            pk: Any = ("account_id", "date") if name == "arr_history" else "id"
            upsert_rows(self.db, name, batch, pk)
        for link_table, local_id, remote_id, done in rows.local_links:
            if done is None:
                self.db.execute(
                    f"UPDATE {link_table} SET remote_id=? WHERE id=?", [remote_id, local_id]
                )
            else:
                self.db.execute(
                    f"UPDATE {link_table} SET remote_id=?, done=? WHERE id=?",
                    [remote_id, done, local_id],
                )

    def _delete(self, table: str, ids: list[str]) -> int:
        if not ids:
            return 0
        scope = "IN (SELECT value FROM json_each(?))"
        extra = " AND origin='crm'" if table in ("touches", "next_steps") else ""
        deleted = self.db.execute(
            f"DELETE FROM {table} WHERE id {scope}{extra}", [json.dumps(ids)]
        ).rowcount
        if table == "contacts":
            self.db.execute(
                f"DELETE FROM enrollments WHERE origin='crm' AND contact_id {scope}",
                [json.dumps(ids)],
            )
        return deleted

    # -- sequences ------------------------------------------------------------------------------

    async def pull_sequences(self) -> None:
        """The sequences each book owner can enroll into (by their CRM user id)."""
        self.current = "sequences"
        self.progress(SyncProgress("crm", "sequences", 0, None))
        if self.owner_id is not None:
            owners = [self.owner_id]
        else:
            owners = [
                r[0]
                for r in self.db.execute(
                    "SELECT DISTINCT owner_id FROM accounts WHERE owner_id IS NOT NULL"
                )
            ]
        user_ids = sorted(
            {
                str(r[0])
                for r in self.db.execute(
                    "SELECT user_id FROM owners WHERE user_id IS NOT NULL AND id IN "
                    "(SELECT value FROM json_each(?))",
                    [json.dumps(owners)],
                )
            }
        )
        self._plan(len(user_ids))
        pages = await asyncio.gather(*(self._sequences_of(user_id) for user_id in user_ids))
        rows = [row for page in pages for row in page]
        with transaction(self.db):
            self.db.execute("DELETE FROM sequences")
            if rows:
                self.db.table("sequences").upsert_all(rows, pk=("user_id", "id"))
            write_state(
                self.db,
                SOURCE,
                "sequences",
                cursor=None,
                started=self.started,
                stats={"rows": len(rows)},
            )
        self.report.add_pulled("sequences", len(rows))
        self.progress(SyncProgress("crm", "sequences", len(rows), len(rows), "done"))

    async def _sequences_of(self, user_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            try:
                page = await self.hs.sequences_page(user_id, after)
            except Forbidden as exc:
                # One user without a sequences seat: their list is left out, not everyone's.
                self.report.warnings.append(f"sequences of user {user_id} not synced: {exc}")
                return rows
            for s in page.results:
                steps = s.get("steps")
                rows.append(
                    {
                        "id": str(s["id"]),
                        "name": str(s.get("name") or ""),
                        "user_id": user_id,  # whose list it is (not merged across users)
                        "steps": len(steps) if isinstance(steps, list) else mapping.whole(steps),
                        "created_at": mapping.instant(s.get("createdAt")),
                        "updated_at": mapping.instant(s.get("updatedAt")),
                    }
                )
            if page.after is None:
                return rows
            after = page.after


def _modified_ms(record: dict[str, Any], prop: str) -> int | None:
    return mapping.epoch_ms((record.get("properties") or {}).get(prop) or record.get("updatedAt"))


def _id_order(value: str) -> tuple[int, str]:
    return (len(value), value)


def _keys(obj_type: str, cached: dict[str, str | None]) -> list[tuple[str, str]]:
    return [(rid, row_key(obj_type, rid)) for rid in cached]


def _accounts_by_child(links: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Child id -> the book company it belongs to: the one whose link is labelled primary, else
    the lowest company id (so a record linked to several companies never switches accounts)."""
    best: dict[str, tuple[bool, tuple[int, str], str]] = {}
    for company, entries in links.items():
        for entry in entries:
            child = entry.get("toObjectId", entry.get("id"))
            if child is None:
                continue
            child = str(child)
            primary = _is_primary(entry)
            rank = (not primary, _id_order(company), company)
            if child not in best or rank < best[child]:
                best[child] = rank
    return {child: rank[2] for child, rank in best.items()}


def _is_primary(entry: dict[str, Any]) -> bool:
    return any(
        str(t.get("label") or "").lower() == "primary"
        for t in entry.get("associationTypes") or ()
        if isinstance(t, dict)
    )


def _to_ids(entries: list[dict[str, Any]]) -> list[str]:
    """Target ids of v4 association results, primary (labelled) first, then by id."""
    primary: list[str] = []
    rest: list[str] = []
    for e in entries:
        to_id = e.get("toObjectId", e.get("id"))
        if to_id is None:
            continue
        (primary if _is_primary(e) else rest).append(str(to_id))
    return list(dict.fromkeys(primary + sorted(rest, key=_id_order)))
