"""Pull the CRM into the cache: owners, the book's companies and what hangs off them,
ARR history, sequences.

First sync (or --full): list endpoints, 100 a page. Later: search over ``[cursor, sync_start)``
sorted by hs_object_id, 200 a page, each page asking for ``hs_object_id GT <last id>`` (many
records can share one timestamp, so the timestamp alone never makes progress; ids never shift
like offsets do, and never meet the 10,000-result cap). The window ends at the CRM's clock when
it is ahead of ours. Each object's cursor moves in the same transaction as its last rows,
so a crash never leaves a cursor ahead of its data.

Every object's pages are fetched ahead from the start (PREFETCH_PAGES each) and written in the
same order as ever; pages that arrive together share a write transaction (never held while
the pull waits for the network more than BATCH_WAIT_SECONDS).

The book: companies owned by crm.owner_email (the whole portal when empty), including archived
ones (marked archived); a child record (contact, deal, ticket, survey, engagement) is in the
cache when one of its companies is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from csm_tui.gc_pause import gc_paused
from csm_tui.sources.hubspot import HubSpot, Page, modified_property
from csm_tui.store.bulk import upsert_rows
from csm_tui.store.db import utc_now
from csm_tui.store.transaction import transaction
from csm_tui.sync import mapping
from csm_tui.sync.mapping import PropertyNames
from csm_tui.sync.prefetch import Prefetch
from csm_tui.sync.progress import ProgressCallback, SyncProgress, SyncReport
from csm_tui.sync.write_turns import WriteTurns

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
SOURCE = "crm"


async def _nothing_to_wait_for() -> None:
    return None


def _nothing_to_do() -> None:
    return None


class OwnerNotFound(LookupError):
    """crm.owner_email names no CRM owner."""


def row_key(obj_type: str, record_id: str) -> str:
    """The cache row id of a CRM record (engagements are prefixed: touches mix origins)."""
    if obj_type in ENGAGEMENTS or obj_type == "tasks":
        return f"crm:{obj_type}:{record_id}"
    return str(record_id)


PREFETCH_PAGES = 16  # pages of each object type fetched ahead of the writer
BATCH_WAIT_SECONDS = 0.02  # how long an open write transaction waits for the next page


@dataclass
class FetchedPage:
    """One page of records as fetched; search results come with their associations."""

    records: list[dict[str, Any]]
    from_search: bool = False
    companies: dict[str, list[str]] | None = None
    contacts: dict[str, list[str]] | None = None


@dataclass
class PageRows:
    """What one page of records becomes: rows to write, ids to drop, the newest timestamp."""

    upserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    arr_accounts: list[str] = field(default_factory=list)  # replace their ARR history
    drop: list[str] = field(default_factory=list)  # cache row ids that left the book
    local_links: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # cache row ids present in the CRM
    enrollment_known: list[str] = field(default_factory=list)  # contacts whose CRM said
    enrollment_reads: list[str] = field(default_factory=list)  # contacts to read one by one
    max_modified: int | None = None
    count: int = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.upserts.setdefault(table, []).append(row)


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
        pull_enrollments: bool = True,
    ) -> None:
        self.db = db
        self.hs = hubspot
        self.names = names
        self.owner_email = owner_email.strip().lower()
        self.full = full
        self.start_ms = sync_start_ms
        self.started = utc_now()
        self.report = report
        self.progress = progress
        self.owner_id: str | None = None
        self.book: set[str] = set()
        self.current = "owners"  # the object being pulled (where an error is recorded)
        self.pull_enrollments_too = pull_enrollments
        self.changed_contacts: set[str] = set()  # whose current enrollment to read
        self._listing = False  # the object being pulled comes from a full list
        self._before: set[str] = set()  # the book's accounts before this pull
        self._cursors: dict[str, str | None] = {}  # per object, as read when its pull began
        self._entered: set[str] = set()  # companies new to the book whose children are listed
        self._unwritten_contacts: dict[str, str | None] = {}  # id -> account (None: dropped)
        # Awaited before the pull's first write (the engine's integrity check, for one).
        self.ready_to_write: Callable[[], Awaitable[None]] = _nothing_to_wait_for
        # Called once the book's accounts are written (the analytics can map to them), and
        # once its contacts are (their last activity can be worked out).
        self.book_ready: Callable[[], None] = _nothing_to_do
        self.contacts_ready: Callable[[], None] = _nothing_to_do
        # The writer, shared with the analytics pull's table copies (sync/write_turns.py), and
        # the writes waiting for its next turn (in order).
        self.turns = WriteTurns()
        self._batch = _Batch(db)
        self._waiting: deque[Callable[[], None]] = deque()

    # -- the whole pull ---------------------------------------------------------------------

    async def run(self) -> None:
        """Owners, companies, children, sequences; each object commits with its own cursor.

        Every object's pages are fetched ahead from the start (sync/prefetch.py) while earlier
        ones are mapped and written, in the same order as ever: companies, then children.
        """
        owners = await self.fetch_owners()
        self._follow_server_clock()
        self._before = self._account_ids()
        prefetched = {obj: self._prefetch(obj) for obj in ("companies", *CHILD_TYPES)}
        try:
            await self.ready_to_write()
            self.write_owners(owners)
            await self.pull_object("companies", prefetched["companies"])
            self.book = self._account_ids()
            self.book_ready()
            self._entered = set() if self.full else self._pending_backfill() & self.book
            for obj_type in CHILD_TYPES:
                await self.pull_object(obj_type, prefetched[obj_type])
            await self.settle_writes()  # what follows reads and writes at once
        finally:
            for pages in prefetched.values():
                await pages.close()
        entered = self._entered
        if entered:
            # Companies that just joined the book bring children that did not change, so no
            # search window holds them: list those once, for the newcomers only. The list of
            # newcomers was saved with the companies' cursor, so a crash cannot lose it.
            for obj_type in CHILD_TYPES:
                await self.backfill(obj_type, entered)
        self.contacts_ready()
        with transaction(self.db):
            self.db.execute("DELETE FROM sync_state WHERE source=? AND object='backfill'", [SOURCE])
        await self.pull_sequences()
        if self.pull_enrollments_too:
            await self.pull_enrollments()

    def _follow_server_clock(self) -> None:
        """End the search window at the CRM's "now" when its clock is ahead of ours.

        Modified dates are the CRM's clock: with a laptop clock behind it, a window ending at
        the laptop's "now" would leave out every change of the last minutes (or hours).
        """
        server = self.hs.client.server_time
        if server is not None:
            self.start_ms = max(self.start_ms, int(server.timestamp() * 1000))

    def _pending_backfill(self) -> set[str]:
        row = self.db.execute(
            "SELECT stats FROM sync_state WHERE source=? AND object='backfill'", [SOURCE]
        ).fetchone()
        return set(json.loads(row[0]).get("accounts", [])) if row and row[0] else set()

    def _remember_newcomers(self, full: bool) -> None:
        """Save the companies that joined the book (inside the companies' last transaction)."""
        if full or not self._before:
            return  # a full list brings every child anyway
        entered = self._account_ids() - self._before
        if not entered:
            return
        pending = sorted(self._pending_backfill() | entered)
        write_state(
            self.db,
            SOURCE,
            "backfill",
            cursor=None,
            started=self.started,
            stats={"accounts": pending},
        )

    def _pending_enrollment_reads(self) -> set[str]:
        row = self.db.execute(
            "SELECT stats FROM sync_state WHERE source=? AND object='enrollment_reads'", [SOURCE]
        ).fetchone()
        return set(json.loads(row[0]).get("contacts", [])) if row and row[0] else set()

    def _remember_enrollment_reads(self) -> None:
        """Save the contacts whose enrollment is still to be read (inside the contacts' last
        transaction): the cursor moves past them now, the reads come at the end of the pull."""
        pending = sorted(self._pending_enrollment_reads() | self.changed_contacts)
        if pending:
            write_state(
                self.db,
                SOURCE,
                "enrollment_reads",
                cursor=None,
                started=self.started,
                stats={"contacts": pending},
            )

    def _account_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM accounts")}

    # -- owners ------------------------------------------------------------------------------

    async def pull_owners(self) -> None:
        """All owners (a small list), and which one's book we follow."""
        self.write_owners(await self.fetch_owners())

    async def fetch_owners(self) -> list[dict[str, Any]]:
        """Read every owner (and find the one whose book we follow); nothing is written."""
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
            self.db["owners"].upsert_all(rows, pk="id")
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

    # -- one object ---------------------------------------------------------------------------

    def _prefetch(self, obj_type: str) -> Prefetch[FetchedPage]:
        """Start fetching one object type's pages: list (first/full) or search window, then
        archived records. The mode and window are fixed now, before anything is written."""
        cursor = None if self.full else read_cursor(self.db, SOURCE, obj_type)
        self._cursors[obj_type] = cursor
        sources: list[AsyncIterator[FetchedPage]] = []
        if cursor is None:
            sources.append(self._list_pages(obj_type, archived=False))
        else:
            sources.append(self._search_pages(obj_type, int(cursor)))
        sources.append(self._list_pages(obj_type, archived=True))
        return Prefetch(_chain(sources), depth=PREFETCH_PAGES)

    async def pull_object(self, obj_type: str, pages: Prefetch[FetchedPage] | None = None) -> None:
        """Pull one object type (pages from ``pages``, or fetched now), then its cursor.

        Its rows are written page by page, and its last page, the prune of a full list and the
        cursor in one transaction. While an analytics table is copied in (write_turns.py) the
        rows wait in memory and the pull goes on; any object but the book's companies may even
        end with its last transaction waiting (contacts not yet written are looked up in
        memory). What waits is written in order at the writer's next turn (``_flush``).
        """
        if pages is None:
            pages = self._prefetch(obj_type)
        cursor = self._cursors[obj_type]
        self.current = obj_type
        self.progress(SyncProgress("crm", obj_type, 0, None))
        full = cursor is None
        self._listing = full
        totals = _Totals()
        done = 0
        kept: list[PageRows] = []  # mapped, not yet written (the last one waits for the end)
        try:
            async for page in pages:
                with gc_paused():  # rows by the hundred: csm_tui/gc_pause.py
                    kept.append(self._prepare(obj_type, page))
                if obj_type == "contacts":
                    self._note_unwritten(kept[-1])
                done += len(page.records)
                self.progress(SyncProgress("crm", obj_type, done, None))
                if len(kept) < 2 or not self._my_turn(obj_type):
                    continue  # a copy writes: keep mapping, write these rows after it
                with gc_paused():
                    self._flush()
                    for rows in kept[:-1]:
                        self._write(obj_type, rows, totals)
                del kept[:-1]
                # Pages written together share a commit; the write lock is held for at most a
                # short wait for the next page, never for a slow network.
                if not await pages.wait_ready(BATCH_WAIT_SECONDS):
                    self._batch.commit()
            self._waiting.append(
                lambda: self._end_object(obj_type, kept, totals, cursor=cursor, done=done)
            )
            if obj_type == "companies":
                await self.settle_writes()  # the book: the next objects are mapped by it
            elif self._my_turn(obj_type):
                self._flush()
                self._batch.commit()
        except BaseException:
            self._batch.rollback()  # only if still open: a failure half-way
            raise

    def _my_turn(self, obj_type: str) -> bool:
        """Whether this pull may write now (a transaction is then open): not while an
        analytics copy runs, and a copy waiting for the writer gets it first, unless the
        object is the book's companies (the next objects wait for them)."""
        turns = self.turns
        if obj_type != "companies":
            if self._batch.open and turns.wanted():
                self._batch.commit()
            if not self._batch.open:
                turns.quiet()  # a waiting copy starts now
        if turns.busy():
            return False
        self._batch.begin()
        return True

    def _flush(self) -> None:
        """Write what waits, in order (inside the open transaction)."""
        while self._waiting:
            self._waiting.popleft()()

    async def settle_writes(self) -> None:
        """Write everything that waits, after the copy that runs, if any (what follows reads
        or writes the cache at once)."""
        if not self._batch.open:
            await self.turns.settle()
        self._batch.begin()
        try:
            self._flush()
        except BaseException:
            self._batch.rollback()
            raise
        self._batch.commit()

    def _end_object(
        self, obj_type: str, kept: list[PageRows], totals: _Totals, *, cursor: str | None, done: int
    ) -> None:
        """An object's last rows, the prune of a full list and its cursor (in the open
        transaction); then its totals are reported."""
        full = cursor is None
        for rows in kept:
            self._write(obj_type, rows, totals)
        if full:
            # A full list saw everything: what the cache holds beyond it left the CRM/book.
            totals.left += self._prune(obj_type, totals.seen)
        if obj_type == "companies":
            self._remember_newcomers(full)
        if obj_type == "contacts":
            if self.pull_enrollments_too:
                self._remember_enrollment_reads()
            self._unwritten_contacts.clear()
            if not self._entered:  # (else newcomers' contacts are backfilled later)
                self._batch.then.append(self.contacts_ready)
        if totals.max_modified is None:
            new_cursor = self.start_ms if cursor is None else int(cursor)  # nothing changed
        else:
            new_cursor = min(totals.max_modified, self.start_ms)
        stats = {
            "rows": totals.rows,
            "archived": totals.archived,
            "left_book": totals.left,
            "mode": "list" if full else "search",
        }
        write_state(
            self.db, SOURCE, obj_type, cursor=str(new_cursor), started=self.started, stats=stats
        )
        self.report.add_pulled(obj_type, totals.rows)
        self.report.archived += totals.archived
        self.report.left_book += totals.left
        self.progress(SyncProgress("crm", obj_type, done, done, "done"))

    async def backfill(self, obj_type: str, accounts: set[str]) -> None:
        """List one child type once, keeping only records of ``accounts`` (no cursor moves)."""
        saved_book = self.book
        self.book = accounts
        totals = _Totals()
        try:
            async for page in self._list_pages(obj_type, archived=False):
                rows = self._prepare(obj_type, page, drop_outside=False)
                with transaction(self.db):
                    self._write(obj_type, rows, totals)
        finally:
            self.book = saved_book
            self.report.add_pulled(obj_type, totals.rows)

    # -- paging ----------------------------------------------------------------------------

    def _associations_for(self, obj_type: str) -> list[str]:
        if obj_type == "companies":
            return []
        if obj_type == "contacts":
            return ["companies"]
        return ["companies", "contacts"]

    async def _list_pages(self, obj_type: str, *, archived: bool) -> AsyncIterator[FetchedPage]:
        after: str | None = None
        props = mapping.properties_for(obj_type, self.names)
        while True:
            page = await self.hs.list_page(
                obj_type,
                properties=props,
                after=after,
                associations=self._associations_for(obj_type),
                archived=archived,
                with_history=[self.names.arr] if obj_type == "companies" else [],
            )
            yield FetchedPage(page.results)
            if page.after is None:
                return
            after = page.after

    async def _search_pages(self, obj_type: str, cursor_ms: int) -> AsyncIterator[FetchedPage]:
        """Every record modified in ``[cursor, sync_start)``, sorted by id, a page at a time,
        with what search results lack (associations, ARR history) read for them.

        Each page asks for ids greater than the last one seen (always from ``after=0``), never
        for an offset: a record that leaves the window between two pages (archived, or changed
        again) would shift an offset and hide the record that took its place. This also never
        meets the 10,000-result cap.
        """
        mod = modified_property(obj_type)
        window = [
            {"propertyName": mod, "operator": "GTE", "value": str(cursor_ms)},
            {"propertyName": mod, "operator": "LT", "value": str(self.start_ms)},
        ]
        props = [*mapping.properties_for(obj_type, self.names), "hs_object_id"]

        def search(last_id: int | None) -> asyncio.Future[Page]:
            filters = list(window)
            if last_id is not None:
                filters.append(
                    {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}
                )
            return asyncio.ensure_future(
                self.hs.search_page(
                    obj_type,
                    filters=filters,
                    sort_property="hs_object_id",
                    properties=props,
                    after=0,
                )
            )

        pending: asyncio.Future[Page] | None = search(None)
        try:
            while pending is not None:
                page = await pending
                pending = None
                if not page.results:
                    return
                if page.after is not None:
                    # The next page is asked for while this one's associations are read.
                    pending = search(max(int(r["id"]) for r in page.results))
                yield await self._complete_search_page(obj_type, page.results)
        finally:
            if pending is not None:  # stopped early: drop the page asked ahead
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    async def _complete_search_page(
        self, obj_type: str, records: list[dict[str, Any]]
    ) -> FetchedPage:
        """Search results carry no associations (nor history): one v4 batch read per target
        type, and the ARR history of companies whose ARR changed."""
        fetched = FetchedPage(records, from_search=True, companies={}, contacts={})
        if obj_type == "companies":
            await self._attach_arr_history(records)
        ids = [str(r["id"]) for r in records]
        wanted = self._associations_for(obj_type)
        # Both target types at once (the client bounds how many requests go out together).
        found = await asyncio.gather(*(self.hs.associations(obj_type, to, ids) for to in wanted))
        links = {
            to: {k: _to_ids(v) for k, v in f.items()} for to, f in zip(wanted, found, strict=True)
        }
        fetched.companies = links.get("companies", {})
        fetched.contacts = links.get("contacts", {})
        return fetched

    # -- records -> rows ---------------------------------------------------------------------

    def _prepare(self, obj_type: str, page: FetchedPage, *, drop_outside: bool = True) -> PageRows:
        """Map a page of records to rows."""
        records = page.records
        out = PageRows(count=len(records))
        if not records:
            return out
        if page.from_search:
            companies, contacts = page.companies or {}, page.contacts or {}
        else:
            companies, contacts = {}, {}
            for r in records:
                companies[str(r["id"])] = mapping.association_ids(r, "companies")
                contacts[str(r["id"])] = mapping.association_ids(r, "contacts")
        for record in records:
            rid = str(record["id"])
            modified = mapping.epoch_ms(
                (record.get("properties") or {}).get(modified_property(obj_type))
                or record.get("updatedAt")
            )
            if modified is not None and not record.get("archived"):
                out.max_modified = (
                    modified if out.max_modified is None else max(out.max_modified, modified)
                )
            self._map(
                obj_type,
                record,
                rid,
                companies.get(rid, []),
                contacts.get(rid, []),
                out,
                drop_outside,
            )
        return out

    async def _attach_arr_history(self, records: list[dict[str, Any]]) -> None:
        """Search results carry no history: read it for book companies whose ARR changed."""
        need: list[dict[str, Any]] = []
        for r in records:
            p = r.get("properties") or {}
            if self.owner_id is not None and str(p.get("hubspot_owner_id") or "") != self.owner_id:
                continue
            row = self.db.execute(
                "SELECT arr FROM arr_history WHERE account_id=? ORDER BY date DESC LIMIT 1",
                [str(r["id"])],
            ).fetchone()
            if mapping.number(p.get(self.names.arr)) != (row[0] if row else None):
                need.append(r)

        async def attach(record: dict[str, Any]) -> None:
            found = await self.hs.read(
                "companies",
                str(record["id"]),
                properties=[self.names.arr],
                with_history=[self.names.arr],
            )
            record["propertiesWithHistory"] = found.get("propertiesWithHistory") or {}

        await asyncio.gather(*(attach(r) for r in need))

    def _in_book(self, company_ids: list[str]) -> str | None:
        for cid in company_ids:
            if cid in self.book:
                return cid
        return None

    def _map(
        self,
        obj_type: str,
        record: dict[str, Any],
        rid: str,
        company_ids: list[str],
        contact_ids: list[str],
        out: PageRows,
        drop_outside: bool,
    ) -> None:
        archived = bool(record.get("archived"))
        key = row_key(obj_type, rid)
        if obj_type == "companies":
            owner = (record.get("properties") or {}).get("hubspot_owner_id")
            if self.owner_id is not None and str(owner or "") != self.owner_id:
                out.drop.append(key)
                return
            out.add("accounts", mapping.account_row(record, self.names))
            if "propertiesWithHistory" in record:
                out.arr_accounts.append(rid)
                for h in mapping.arr_history_rows(record, self.names):
                    out.add("arr_history", h)
            out.seen.append(key)
            return
        account = self._in_book(company_ids)
        if account is None:  # no company of the book: the book's contact it is about, if any
            account = self._account_of_contact(contact_ids)
        if account is None:
            if drop_outside:
                out.drop.append(key)
            return
        contact = contact_ids[0] if contact_ids else None
        if obj_type in ("notes", "calls", "meetings", "emails", "tasks"):
            if archived:
                out.drop.append(key)  # touches and next steps have no archived flag
                return
            marker = mapping.record_marker(obj_type, record)
            if marker is not None:
                local = self._local_row_of(marker)
                if local is not None:
                    done = None
                    if obj_type == "tasks":
                        status = str((record.get("properties") or {}).get("hs_task_status") or "")
                        done = 1 if status.upper() == "COMPLETED" else 0
                    out.local_links.append((TABLE[obj_type], local, rid, done))
                    return
            if obj_type == "tasks":
                out.add("next_steps", mapping.next_step_row(record, account))
            else:
                out.add("touches", mapping.touch_row(obj_type, record, account, contact))
            out.seen.append(key)
            return
        row: dict[str, Any] | None
        if obj_type == "contacts":
            row = mapping.contact_row(record, self.names, account)
            enrollment = mapping.enrollment_from_properties(record, account)
            if enrollment is False:
                if not archived and (self._listing or not self._cached("contacts", rid)):
                    out.enrollment_reads.append(rid)
            else:
                out.enrollment_known.append(rid)
                if enrollment:
                    out.add("enrollments", enrollment)
        elif obj_type == "deals":
            row = mapping.deal_row(record, account)
        elif obj_type == "tickets":
            row = mapping.ticket_row(record, account)
        else:
            row = mapping.survey_row(record, account, contact)
        if row is None:
            out.drop.append(key)
            return
        out.add(TABLE[obj_type], row)
        out.seen.append(key)

    def _cached(self, table: str, row_id: str) -> bool:
        return self.db.execute(f"SELECT 1 FROM {table} WHERE id=?", [row_id]).fetchone() is not None

    def _note_unwritten(self, rows: PageRows) -> None:
        """Contacts mapped but not yet written (they may wait for an analytics copy): the
        objects after them are mapped by them all the same."""
        unwritten = self._unwritten_contacts
        for row in rows.upserts.get("contacts", ()):
            unwritten[str(row["id"])] = row.get("account_id")
        for key in rows.drop:
            unwritten[key] = None

    def _account_of_contact(self, contact_ids: list[str]) -> str | None:
        unwritten = self._unwritten_contacts
        for cid in contact_ids:
            if cid in unwritten:
                if unwritten[cid] in self.book:
                    return unwritten[cid]
                continue
            row = self.db.execute("SELECT account_id FROM contacts WHERE id=?", [cid]).fetchone()
            if row and row[0] in self.book:
                return str(row[0])
        return None

    def _local_row_of(self, outbox_id: str) -> str | None:
        row = self.db.execute("SELECT ref_id FROM outbox WHERE id=?", [outbox_id]).fetchone()
        return str(row[0]) if row else None

    # -- rows -> cache -------------------------------------------------------------------------

    def _write(self, obj_type: str, rows: PageRows, totals: _Totals) -> None:
        """Write one page's rows in one transaction (joined by the caller's, if any), and
        count them in the object's ``totals``."""
        table = TABLE[obj_type]
        with transaction(self.db):
            if obj_type == "companies":
                if rows.arr_accounts:
                    self.db.execute(
                        "DELETE FROM arr_history WHERE account_id IN (SELECT value FROM json_each(?))",
                        [json.dumps(rows.arr_accounts)],
                    )
                left = remove_accounts(self.db, rows.drop)
            else:
                left = self._delete(table, rows.drop)
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
        totals.seen.update(rows.seen)
        self.changed_contacts.update(rows.enrollment_reads)
        if rows.max_modified is not None:
            totals.max_modified = (
                rows.max_modified
                if totals.max_modified is None
                else max(totals.max_modified, rows.max_modified)
            )
        totals.rows += sum(len(b) for n, b in rows.upserts.items() if n == TABLE[obj_type])
        totals.archived += sum(
            1 for b in rows.upserts.values() for r in b if r.get("archived") == 1
        )
        totals.left += left

    def _delete(self, table: str, ids: list[str]) -> int:
        if not ids:
            return 0
        scope = "IN (SELECT value FROM json_each(?))"
        extra = " AND origin='crm'" if table in ("touches", "next_steps") else ""
        return self.db.execute(
            f"DELETE FROM {table} WHERE id {scope}{extra}", [json.dumps(ids)]
        ).rowcount

    def _prune(self, obj_type: str, seen: set[str]) -> int:
        """After a full list: drop cached rows of this type the CRM no longer has in the book."""
        table = TABLE[obj_type]
        if obj_type == "companies":
            have = self._account_ids()
            return remove_accounts(self.db, sorted(have - seen))
        if table in ("touches", "next_steps"):
            prefix = f"crm:{obj_type}:"
            have = {
                r[0]
                for r in self.db.execute(
                    f"SELECT id FROM {table} WHERE origin='crm' AND substr(id, 1, ?) = ?",
                    [len(prefix), prefix],
                )
            }
        else:
            have = {r[0] for r in self.db.execute(f"SELECT id FROM {table}")}
        return self._delete(table, sorted(have - seen))

    # -- enrollments ----------------------------------------------------------------------------

    async def pull_enrollments(self) -> None:
        """The current sequence enrollment of contacts the CRM did not describe on the contact.

        HubSpot keeps the current sequence on the contact (hs_sequences_is_enrolled, read with
        it); where that is missing, the enrollment is read one contact per request: every
        contact of a full list, later only contacts new to the cache, at most
        MAX_ENROLLMENT_READS per sync.
        """
        self.current = "enrollments"
        ids = sorted(self.changed_contacts | self._pending_enrollment_reads())
        if len(ids) > MAX_ENROLLMENT_READS:
            with transaction(self.db):
                self.db.execute(
                    "DELETE FROM sync_state WHERE source=? AND object='enrollment_reads'", [SOURCE]
                )
            self.report.warnings.append(
                f"current sequence enrollments not read for {len(ids):,} new contacts (one "
                f"request each; at most {MAX_ENROLLMENT_READS:,} per sync): pushing an "
                "enrollment still checks the contact first"
            )
            return
        self.progress(SyncProgress("crm", "enrollments", 0, len(ids)))
        found = 0
        for start in range(0, len(ids), ENROLLMENT_BATCH):
            chunk = ids[start : start + ENROLLMENT_BATCH]
            current = await _enrollments_of(self.hs, chunk)
            pushed = {
                r[0]
                for r in self.db.execute(
                    "SELECT remote_id FROM enrollments WHERE origin='local' AND remote_id IS NOT NULL"
                )
            }
            rows: list[dict[str, Any]] = []
            for contact_id, e in zip(chunk, current, strict=True):
                if e is None or not e.get("sequenceId") or str(e.get("id")) in pushed:
                    continue
                rows.append(
                    {
                        "id": f"crm:enrollment:{e.get('id') or contact_id}",
                        "contact_id": contact_id,
                        "sequence_id": str(e["sequenceId"]),
                        "account_id": self._account_of(contact_id),
                        "state": "active",
                        "enrolled_at": mapping.instant(e.get("enrolledAt")),
                        "remote_id": str(e.get("id") or "") or None,
                        "origin": "crm",
                    }
                )
            with transaction(self.db):
                self.db.execute(
                    "DELETE FROM enrollments WHERE origin='crm' AND contact_id IN "
                    "(SELECT value FROM json_each(?))",
                    [json.dumps(chunk)],
                )
                if rows:
                    self.db["enrollments"].upsert_all(rows, pk="id")
            found += len(rows)
            self.progress(SyncProgress("crm", "enrollments", start + len(chunk), len(ids)))
        with transaction(self.db):
            self.db.execute(
                "DELETE FROM sync_state WHERE source=? AND object='enrollment_reads'", [SOURCE]
            )
            write_state(
                self.db,
                SOURCE,
                "enrollments",
                cursor=None,
                started=self.started,
                stats={"contacts_read": len(ids), "rows": found},
            )
        self.report.add_pulled("enrollments", found)
        self.progress(SyncProgress("crm", "enrollments", len(ids), len(ids), "done"))

    def _account_of(self, contact_id: str) -> str | None:
        row = self.db.execute("SELECT account_id FROM contacts WHERE id=?", [contact_id]).fetchone()
        return str(row[0]) if row and row[0] else None

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
        rows: list[dict[str, Any]] = []
        for user_id in user_ids:
            after: str | None = None
            while True:
                page = await self.hs.sequences_page(user_id, after)
                for s in page.results:
                    steps = s.get("steps")
                    rows.append(
                        {
                            "id": str(s["id"]),
                            "name": str(s.get("name") or ""),
                            "user_id": str(s.get("userId") or user_id),
                            "steps": len(steps)
                            if isinstance(steps, list)
                            else mapping.whole(steps),
                            "created_at": mapping.instant(s.get("createdAt")),
                            "updated_at": mapping.instant(s.get("updatedAt")),
                        }
                    )
                if page.after is None:
                    break
                after = page.after
        with transaction(self.db):
            self.db.execute("DELETE FROM sequences")
            if rows:
                self.db["sequences"].upsert_all(rows, pk="id")
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


ENROLLMENT_BATCH = 200
MAX_ENROLLMENT_READS = 2_000


async def _enrollments_of(hs: HubSpot, ids: list[str]) -> list[dict[str, Any] | None]:
    return list(await asyncio.gather(*(hs.enrollment_of(i) for i in ids)))


def _to_ids(entries: list[dict[str, Any]]) -> list[str]:
    """Target ids of v4 association results, primary (labelled) first, then by id."""
    primary: list[str] = []
    rest: list[str] = []
    for e in entries:
        to_id = e.get("toObjectId", e.get("id"))
        if to_id is None:
            continue
        labels = " ".join(str(t.get("label") or "") for t in e.get("associationTypes") or [])
        (primary if "primary" in labels.lower() else rest).append(str(to_id))
    return list(dict.fromkeys(primary + sorted(rest, key=lambda v: (len(v), v))))


async def _chain(sources: list[AsyncIterator[FetchedPage]]) -> AsyncIterator[FetchedPage]:
    for source in sources:
        async for item in source:
            yield item


@dataclass
class _Totals:
    """Running totals of one object's pull."""

    seen: set[str] = field(default_factory=set)  # row keys met (a full list prunes the rest)
    max_modified: int | None = None
    rows: int = 0
    archived: int = 0
    left: int = 0


class _Batch:
    """A write transaction spanning several pages (one commit per page cost ~1 ms each at
    thousands of pages); committed when the next page is not there within a short wait."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.open = False
        self.then: list[Callable[[], None]] = []  # called once what is open is committed

    def begin(self) -> None:
        """Start the transaction unless one is open."""
        if not self.open:
            self.db.conn.execute("BEGIN IMMEDIATE")
            self.open = True

    def commit(self) -> None:
        """Commit what is open, then call what waited for it."""
        if self.open:
            self.open = False
            self.db.conn.execute("COMMIT")
        then, self.then = self.then, []
        for call in then:
            call()

    def rollback(self) -> None:
        """Roll back what is still open (after a failure)."""
        self.then.clear()
        if self.open:
            self.open = False
            self.db.conn.execute("ROLLBACK")
