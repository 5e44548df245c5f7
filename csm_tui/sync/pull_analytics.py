"""Pull product analytics (PostHog) into the cache: weekly usage per account and event, and
per-user activity; then each contact's last activity by email.

Weekly usage: the first pull (or --full) takes analytics.weeks; later ones re-pull the last
analytics.repull_weeks weeks (late events land there) and write only the rows that differ.
Per-user activity: the first pull of a (UTC) day takes every user; later pulls that day take only
users active that day, the only ones whose numbers can have moved (30-day counts start at a
midnight, see sources/posthog.py).

A whole pull's pages are mapped and staged in a scratch file next to the cache (nothing of the
cache is locked meanwhile; sync/page_staging.py), by a second process over the network
(sync/analytics_helper.py), then moved into the cache in one transaction with the cursor, so a
failed page leaves the cache as it was. A re-pull (small) is kept in memory and compared with
the cache. Groups that match no account are counted and reported, never dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from csm_tui.gc_pause import gc_paused
from csm_tui.sources.http import Endpoint, HttpPolicy
from csm_tui.sources.posthog import PostHog
from csm_tui.store.bulk import rows_in_scope, write_differences
from csm_tui.store.transaction import transaction
from csm_tui.sync import mapping
from csm_tui.sync.analytics_helper import AnalyticsHelper, Job, Outcome
from csm_tui.sync.page_staging import PageStaging
from csm_tui.sync.prefetch import Prefetch
from csm_tui.sync.progress import ProgressCallback, SyncProgress, SyncReport
from csm_tui.sync.pull_crm import read_cursor, write_state
from csm_tui.sync.write_turns import WriteTurns

SOURCE = "analytics"
USAGE_COLUMNS = ("account_id", "week", "event", "count", "users")
USAGE_KEY = ("account_id", "week", "event")
USER_COLUMNS = ("account_id", "user_key", "email", "last_seen", "events_30d")
USER_KEY = ("account_id", "user_key")


def week_of(day: date) -> date:
    """The Monday that starts ``day``'s week."""
    return day - timedelta(days=day.weekday())


def group_index(db: sqlite_utils.Database, group_key: str) -> dict[str, str]:
    """Analytics group value -> account id (by domain unless the key names the id)."""
    column = "id" if group_key in ("id", "company_id", "hs_object_id") else "domain"
    index: dict[str, str] = {}
    for account_id, value in db.execute(
        f"SELECT id, {column} FROM accounts WHERE {column} IS NOT NULL ORDER BY archived, id"
    ):
        key = mapping.domain(value) if column == "domain" else str(value)
        if key and key not in index:
            index[key] = str(account_id)
    return index


def _group(value: Any, group_key: str) -> str | None:
    if value in (None, ""):
        return None
    return mapping.domain(value) if group_key not in ("id", "company_id") else str(value)


class Groups:
    """Group value -> account id, looked up once per distinct value (a page repeats each group
    hundreds of times); also which values matched nothing, and which accounts more than one
    group maps to (www. and the bare domain), whose rows must be added up."""

    def __init__(self, index: dict[str, str], group_key: str) -> None:
        self.index = index
        self.group_key = group_key
        self.known: dict[Any, str | None] = {}
        self.first_group: dict[str, Any] = {}
        self.shared: set[str] = set()
        self.unmatched: set[str] = set()

    def look_up(self, value: Any) -> str | None:
        """The account of one group value (remembered)."""
        account = self.index.get(_group(value, self.group_key) or "")
        if account is None:
            self.unmatched.add(str(value))
        elif self.first_group.setdefault(account, value) != value:
            self.shared.add(account)
        # An unhashable value (a malformed answer) is simply looked up again next time.
        with contextlib.suppress(TypeError):
            self.known[value] = account
        return account

    def on_accounts(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Rows mapped by group value (their first column), with their accounts instead (rows
        of groups that match no account are left out)."""
        out = []
        for row in rows:
            account = self.known[row[0]] if row[0] in self.known else self.look_up(row[0])
            if account is not None:
                out.append((account, *row[1:]))
        return out


def _usage_rows(
    page: Sequence[Sequence[Any]], groups: Groups | None, weeks: dict[Any, str | None]
) -> list[tuple[Any, ...]]:
    """Cache rows of one weekly-usage page (rows of unknown groups or weeks are left out);
    without ``groups`` (the book is not in yet) the first column is the group value."""
    out: list[tuple[Any, ...]] = []
    add = out.append
    known = groups.known if groups is not None else None
    # The hot loop of a full pull (over a million rows): lookups are remembered per distinct
    # value, and values already of the right type skip the general converters.
    for group, week, event, events, users in page:
        if known is None:
            account = group if type(group) is str else _group_value(group)
        else:
            try:
                account = known[group]
            except (KeyError, TypeError):
                account = groups.look_up(group)  # type: ignore[union-attr]
            if account is None:
                continue
        try:
            day = weeks[week]
        except (KeyError, TypeError):
            day = mapping.day(week)
            if isinstance(week, str):
                weeks[week] = day
        if day is None:
            continue
        add(
            (
                account,
                day,
                event if type(event) is str else str(event),
                events if type(events) is int else (mapping.whole(events) or 0),
                users if type(users) is int else (mapping.whole(users) or 0),
            )
        )
    return out


def _users_rows(
    page: Sequence[Sequence[Any]], groups: Groups | None, _: Any = None
) -> list[tuple[Any, ...]]:
    """Cache rows of one per-user activity page (rows of unknown groups are left out); without
    ``groups`` the first column is the group value."""
    known = groups.known if groups is not None else None
    instant = mapping.instant
    out: list[tuple[Any, ...]] = []
    add = out.append
    for group, user, email, last_seen, events_30d in page:
        if known is None:
            account = group if type(group) is str else _group_value(group)
        else:
            try:
                account = known[group]
            except (KeyError, TypeError):
                account = groups.look_up(group)  # type: ignore[union-attr]
            if account is None:
                continue
        add(
            (
                account,
                user if type(user) is str else str(user),
                str(email or "").strip().lower() or None,
                instant(last_seen),
                events_30d if type(events_30d) is int else (mapping.whole(events_30d) or 0),
            )
        )
    return out


def _group_value(value: Any) -> Any:
    """A group value as kept until the book is in (hashable; None stays None)."""
    return value if value is None or isinstance(value, int | float | str) else str(value)


TO_ROWS: dict[
    str, Callable[[Sequence[Sequence[Any]], Groups | None, dict[Any, str | None]], list[Any]]
]
TO_ROWS = {"usage_weekly": _usage_rows, "user_activity": _users_rows}


async def stage_pages(
    into: Staged, pages: AsyncIterator[Sequence[Sequence[Any]]], table: str,
    progress: Callable[[int], None],
) -> None:  # fmt: skip
    """Map each page's rows and stage them (or keep them, for a re-pull); ``progress`` gets
    the rows fetched so far. In the sync's process or the analytics helper's, which starts
    before the book's accounts are known: its rows wait, by group value, until they are."""
    to_rows = TO_ROWS[table]
    async for page in pages:
        into.fetched += len(page)
        with gc_paused():  # a page's rows by the ten thousand: csm_tui/gc_pause.py
            if into.groups is None:
                into.early.extend(to_rows(page, None, into.weeks))
            else:
                into.keep_early()
                into.keep(to_rows(page, into.groups, into.weeks))
        progress(into.fetched)


def refresh_last_active(
    db: sqlite_utils.Database,
    *,
    contacts: Collection[str] | None = None,
    emails: Collection[str] | None = None,
    changes: list[tuple[str | None, str]] | None = None,
) -> None:
    """contacts.last_active = the latest analytics activity of the contact's email.

    For every contact; or, when ``contacts`` or ``emails`` is given, only for those contacts and
    the contacts with one of those (lower-case) emails. ``changes``: what
    ``last_active_changes`` found already (read on another connection).
    """
    if changes is None:
        changes = last_active_changes(db, contacts=contacts, emails=emails)
    if changes:
        with transaction(db):
            db.conn.executemany("UPDATE contacts SET last_active = ? WHERE id = ?", changes)


def last_active_changes(
    db: sqlite_utils.Database,
    *,
    contacts: Collection[str] | None = None,
    emails: Collection[str] | None = None,
) -> list[tuple[str | None, str]]:
    """(last activity, contact id) of the contacts whose last activity differs from the cache's
    (all, or as ``refresh_last_active`` scopes them). Reads only."""
    scoped = contacts is not None or emails is not None
    if scoped and not contacts and not emails:
        return []
    sql = "SELECT id, email, last_active FROM contacts"
    params: list[str] = []
    if scoped:
        sql += (
            " WHERE id IN (SELECT value FROM json_each(?)) "
            "OR lower(email) IN (SELECT value FROM json_each(?))"
        )
        params = [json.dumps(sorted(contacts or ())), json.dumps(sorted(emails or ()))]
    targets = [
        (contact_id, (email or "").lower(), current)
        for contact_id, email, current in db.execute(sql, params).fetchall()
    ]
    wanted = sorted({email for _, email, _ in targets if email})
    if not wanted:
        latest: dict[str, str] = {}
    else:
        # One pass over the activity rows, grouping only the emails of these contacts.
        latest = dict(
            db.execute(
                "SELECT lower(email), MAX(last_seen) FROM user_activity "
                "WHERE lower(email) IN (SELECT value FROM json_each(?)) GROUP BY lower(email)",
                [json.dumps(wanted)],
            ).fetchall()
        )
    return [
        (latest.get(email), contact_id)
        for contact_id, email, current in targets
        if latest.get(email) != current
    ]


class AnalyticsPull:
    """One pull of the analytics source into one cache, in three steps.

    ``start()`` decides what to ask for (from the stored cursors) and begins downloading;
    ``begin_staging()`` maps and stages the pages from then on, once the book's accounts are in
    the cache, alongside whatever else runs (the CRM pull), writing nothing to the cache;
    ``run()`` waits for that and writes, each object in one transaction with its cursor.

    With ``helper`` (where the API is, and the HTTP policy), whole pulls are downloaded,
    mapped and staged by a second process (sync/analytics_helper.py) when the machine has a
    second core; the rest is done here.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        posthog: PostHog,
        *,
        settings: Any,
        full: bool,
        today: date,
        report: SyncReport,
        progress: ProgressCallback,
        started: str,
        helper: tuple[Endpoint, HttpPolicy] | None = None,
    ) -> None:
        self.db = db
        self.ph = posthog
        self.a = settings.analytics
        self.full = full
        self.today = today
        self.report = report
        self.progress = progress
        self.started = started
        self.current = "usage_weekly"  # the object being pulled (where an error is recorded)
        # Awaited before the first write to the cache (the engine's integrity check).
        self.ready_to_write: Callable[[], Awaitable[None]] = _nothing_to_wait_for
        self._helper_spec = helper
        self._helper: AnalyticsHelper | None = None
        self._started = False  # start() fixed the queries
        self._pages: dict[str, Prefetch[Any]] = {}
        self._staging: asyncio.Future[None] | None = None
        self._usage = Staged()
        self._users = Staged()
        # The writer, shared with the CRM pull: a staged table's copy waits for its turn.
        self.turns = WriteTurns()
        self._moves: dict[str, asyncio.Future[int]] = {}  # copies started, per table
        # Tables written whole (not row by row): a change tracker does not see what moved.
        self.rewritten: set[str] = set()
        # Called once a whole users pull is in the cache (contacts' last activity can follow).
        self.users_written: Callable[[], None] = _nothing_to_do

    @property
    def requests(self) -> int:
        """Requests the helper process made (the caller counts its own client's)."""
        return self._helper.requests if self._helper is not None else 0

    def start(self) -> None:
        """Fix both queries now and start downloading their pages.

        A re-pull (the last weeks, the users active today) is small and downloads whole while
        the caller works; a whole pull keeps at most two pages waiting.
        """
        self._started = True
        cursor = None if self.full else read_cursor(self.db, SOURCE, "usage_weekly")
        self._usage_whole = cursor is None
        self._weeks = self.a.weeks if self._usage_whole else self.a.repull_weeks
        self._since = week_of(self.today) - timedelta(weeks=self._weeks)
        # Every user on the first pull of a (UTC) day; later that day, those active that day.
        self._day = self.today.isoformat()
        self._last_whole_day = self._stored_whole_day()
        self._all_users = self.full or self._last_whole_day != self._day
        if self._usage_whole:
            self._usage.staged = PageStaging.beside(
                self.db, "usage_weekly", USAGE_COLUMNS, USAGE_KEY
            )
        if self._all_users:
            self._users.staged = PageStaging.beside(
                self.db, "user_activity", USER_COLUMNS, USER_KEY
            )
        whole = [s for s in (self._usage, self._users) if s.staged is not None]
        if whole and self._helper_spec is not None:
            endpoint, policy = self._helper_spec
            job = Job(
                endpoint, policy, self.ph.project_id, self.a.group_index, self.a.group_key,
                usage_weeks=self._weeks, user_weeks=self.a.weeks,
                tables=tuple(s.staged.scratch for s in whole if s.staged is not None),
            )  # fmt: skip
            self._helper = AnalyticsHelper.start(job, self._helped_progress)
            if self._helper is not None:
                for staged in whole:
                    staged.helped = True
        if not self._usage.helped:
            self._pages["usage_weekly"] = Prefetch(
                self.ph.weekly_usage(self.a.group_index, self._weeks),
                depth=2 if self._usage_whole else 0,
            )
        if not self._users.helped:
            self._pages["user_activity"] = Prefetch(
                self.ph.user_activity(
                    self.a.group_index, self.a.weeks, active_today=not self._all_users
                ),
                depth=2 if self._all_users else 0,
            )

    def _helped_progress(self, table: str, fetched: int) -> None:
        self.progress(SyncProgress("analytics", table, fetched, None))

    def begin_staging(self) -> None:
        """Map and stage pages from now on (the accounts they map to are in the cache)."""
        if self._staging is not None:
            return
        if not self._started:
            self.start()
        # The book's accounts are final by now: read them once.
        index = group_index(self.db, self.a.group_key)
        self._usage.groups = Groups(index, self.a.group_key)
        self._users.groups = Groups(index, self.a.group_key)
        if self._helper is not None:
            self._helper.book(index)
        self._staging = asyncio.ensure_future(self._stage_both())

    async def close(self) -> None:
        """Stop downloading and staging, and let go of the scratch files (idempotent)."""
        staging, self._staging = self._staging, None
        if staging is not None and not staging.done():
            staging.cancel()
        if staging is not None:
            with contextlib.suppress(BaseException):
                await staging
        if self._helper is not None:
            await self._helper.close()
        for pages in self._pages.values():
            await pages.close()
        for obj in ("usage_weekly", "user_activity"):
            self.turns.claim(obj)  # a copy that never had its turn never starts
        for move in self._moves.values():  # a failure after one began: it ends (or fails) quietly
            with contextlib.suppress(BaseException):
                await move
        for staged in (self._usage.staged, self._users.staged):
            if staged is not None:
                await staged.drop()

    async def run(self) -> None:
        """Wait for the staging, then write weekly usage and user activity (contacts' last
        activity is the caller's)."""
        try:
            self.begin_staging()
            assert self._staging is not None
            await self._staging  # a failure names its object in self.current
            self.current = "usage_weekly"
            await self._write_usage()
            self.current = "user_activity"
            await self._write_users()
        finally:
            await self.close()

    # -- staging (no write to the cache) ------------------------------------------------------

    async def _stage_both(self) -> None:
        """Both objects at once (their pages arrive together); the first to fail is the
        object named in ``current``."""
        failed: list[str] = []

        async def stage(into: Staged, obj: str) -> None:
            try:
                await self._stage(into, obj)
            except Exception:
                failed.append(obj)
                self.current = failed[0]
                raise
            if into.staged is not None:
                # Staged whole: its copy may run while the CRM pull goes on (write_turns.py).
                await self.ready_to_write()
                self.turns.want(obj, lambda: self._move(obj))

        await asyncio.gather(
            stage(self._usage, "usage_weekly"), stage(self._users, "user_activity")
        )

    async def _stage(self, into: Staged, obj: str) -> None:
        self.progress(SyncProgress("analytics", obj, 0, None))
        if into.helped:
            assert self._helper is not None
            into.take(await self._helper.staged(obj))
            return
        if into.staged is None and obj == "usage_weekly":
            # The cached rows of the re-pulled weeks, read while the CRM pull mostly waits for
            # the network, not after it (only this pull writes them).
            with gc_paused():  # ~150,000 rows: csm_tui/gc_pause.py
                into.cached = rows_in_scope(self.db, obj, USAGE_COLUMNS, *self._usage_scope())
        await stage_pages(
            into,
            self._pages[obj],
            obj,
            lambda fetched: self.progress(SyncProgress("analytics", obj, fetched, None)),
        )
        if into.staged is not None:
            # Two groups of one account (www. and the bare domain): their usage adds up.
            await into.staged.finish(merge=into.merges(obj))

    # -- writing ------------------------------------------------------------------------------

    def _move(self, obj: str) -> asyncio.Future[int]:
        """Start moving a table staged whole into the cache, with its cursor: on the staging's
        thread and a connection of its own (the rows written, when done)."""
        into, state = (
            (self._usage, self._usage_state)
            if obj == "usage_weekly"
            else (self._users, self._users_state)
        )
        assert into.staged is not None and into.groups is not None
        pulled, groups = into.staged.rows, into.groups  # two groups of one account added up
        self.rewritten.add(obj)
        move = asyncio.ensure_future(into.staged.replace_all(lambda db: state(pulled, groups, db)))
        if obj == "user_activity":
            move.add_done_callback(self._users_moved)
        self._moves[obj] = move
        return move

    def _users_moved(self, move: asyncio.Future[int]) -> None:
        if not move.cancelled() and move.exception() is None:
            self.users_written()

    async def _moved(self, obj: str) -> None:
        """Wait for a table staged whole to be in the cache (moved now if it had no turn)."""
        move = self._moves.get(obj)
        if move is None:
            self.turns.claim(obj)
            await self.turns.settle()
            move = self._move(obj)
        await move

    async def _write_usage(self) -> None:
        """Weekly usage per (account, week, event), with its cursor."""
        groups = self._usage.groups
        assert groups is not None  # known since begin_staging
        await self.ready_to_write()
        if self._usage.staged is not None:
            await self._moved("usage_weekly")
            pulled = self._usage.staged.rows
        else:
            rows = _summed(self._usage.rows) if groups.shared else self._usage.rows
            pulled = len(rows)
            await self.turns.settle()
            with transaction(self.db), gc_paused():
                # The re-pulled weeks are replaced whole (a late correction can remove a row);
                # only rows that differ are written.
                write_differences(
                    self.db, "usage_weekly", USAGE_COLUMNS, len(USAGE_KEY), rows,
                    *self._usage_scope(), existing=self._usage.cached,
                )  # fmt: skip
                self._usage_state(pulled, groups)
        unmatched = groups.unmatched
        self.report.add_pulled("usage_weekly", pulled)
        self.report.unmatched_groups = max(self.report.unmatched_groups, len(unmatched))
        if unmatched:
            self.report.warnings.append(
                f"{len(unmatched)} analytics groups are not accounts of this book (matched "
                f"by {self.a.group_key}; other owners' accounts or unknown), "
                f"e.g. {sorted(unmatched)[0]}"
            )
        fetched = self._usage.fetched
        self.progress(SyncProgress("analytics", "usage_weekly", fetched, fetched, "done"))

    def _usage_scope(self) -> tuple[str, list[str]]:
        """The rows a usage re-pull replaces: the re-pulled weeks."""
        return "week >= ?", [self._since.isoformat()]

    def _usage_state(
        self, rows: int, groups: Groups, db: sqlite_utils.Database | None = None
    ) -> None:
        """The usage cursor (the first week replaced) and stats, with the rows."""
        write_state(
            db or self.db,
            SOURCE,
            "usage_weekly",
            cursor=self._since.isoformat(),
            started=self.started,
            stats={
                "rows": rows,
                "weeks": self._weeks,
                "unmatched_groups": len(groups.unmatched),
                "unmatched_examples": sorted(groups.unmatched)[:5],
            },
        )

    def _stored_whole_day(self) -> str | None:
        """The UTC day of the last pull that read every user (None if never)."""
        row = self.db.execute(
            "SELECT stats FROM sync_state WHERE source = ? AND object = 'user_activity'", [SOURCE]
        ).fetchone()
        try:
            return json.loads(row[0]).get("whole_day") if row and row[0] else None
        except (ValueError, AttributeError):
            return None

    async def _write_users(self) -> None:
        """Per-user activity: every user once a day, then the users active that day."""
        groups = self._users.groups
        assert groups is not None  # known since begin_staging
        await self.ready_to_write()
        if self._users.staged is not None:
            await self._moved("user_activity")
            pulled = self._users.staged.rows
        else:
            rows = self._users.rows
            pulled = len(rows)
            await self.turns.settle()
            with transaction(self.db), gc_paused():
                # Users not active today keep their rows: only these users' rows can differ.
                accounts = json.dumps(sorted({row[0] for row in rows}))
                write_differences(
                    self.db, "user_activity", USER_COLUMNS, len(USER_KEY), rows,
                    "account_id IN (SELECT value FROM json_each(?))", [accounts],
                    delete_missing=False,
                )  # fmt: skip
                self._users_state(pulled, groups)
        self.report.add_pulled("user_activity", pulled)
        fetched = self._users.fetched
        self.progress(SyncProgress("analytics", "user_activity", fetched, fetched, "done"))

    def _users_state(
        self, rows: int, groups: Groups, db: sqlite_utils.Database | None = None
    ) -> None:
        """The users' cursor and stats (which day every user was last read), with the rows."""
        write_state(
            db or self.db,
            SOURCE,
            "user_activity",
            cursor=week_of(self.today).isoformat(),
            started=self.started,
            stats={
                "rows": rows,
                "unmatched_groups": len(groups.unmatched),
                "whole_day": self._day if self._all_users else self._last_whole_day,
                "users": "all" if self._all_users else "active today",
            },
        )


class Staged:
    """What the staging of one object gathered: into a scratch table (a whole pull) or in
    memory (a re-pull), and the groups met."""

    def __init__(self, staged: PageStaging | None = None) -> None:
        self.staged = staged
        self.rows: list[Any] = []
        self.groups: Groups | None = None  # until the book's accounts are known
        self.early: list[tuple[Any, ...]] = []  # rows by group value, until then
        self.weeks: dict[Any, str | None] = {}  # week values met -> ISO day (None: unreadable)
        self.fetched = 0
        self.helped = False  # pulled by the analytics helper process
        self.cached: set[tuple[Any, ...]] | None = None  # a re-pull's rows in the cache, read early

    def merges(self, table: str) -> bool:
        """Whether rows sharing a key add up (usage of two groups of one account)."""
        return table == "usage_weekly" and self.groups is not None and bool(self.groups.shared)

    def keep(self, rows: list[tuple[Any, ...]]) -> None:
        """Stage rows (a whole pull) or keep them in memory (a re-pull)."""
        if self.staged is not None:
            self.staged.add(rows)
        else:
            self.rows.extend(rows)

    def keep_early(self) -> None:
        """The rows that came before the book's accounts, now with their accounts, first."""
        if self.early and self.groups is not None:
            early, self.early = self.early, []
            self.keep(self.groups.on_accounts(early))

    def take(self, outcome: Outcome) -> None:
        """What the helper reported of its staging."""
        if self.staged is not None:
            self.staged.rows = outcome.rows
        self.fetched = outcome.fetched
        assert self.groups is not None  # the book was read before the helper was waited for
        self.groups.unmatched = set(outcome.unmatched)
        self.groups.shared = set(outcome.shared)


def _summed(rows: list[tuple[str, str, str, int, int]]) -> list[tuple[str, str, str, int, int]]:
    """Usage rows with one row per key, counts added up (two groups of one account)."""
    merged: dict[tuple[str, str, str], tuple[str, str, str, int, int]] = {}
    for row in rows:
        key = row[:3]
        if key in merged:
            old = merged[key]
            merged[key] = (*key, old[3] + row[3], old[4] + row[4])
        else:
            merged[key] = row
    return list(merged.values())


async def _nothing_to_wait_for() -> None:
    return None


def _nothing_to_do() -> None:
    return None
