"""Pull product analytics (PostHog) into the cache: weekly usage per account and event, and
per-user activity; then each contact's last activity by email.

PostHog's times are the project's (csm_tui/fakes/CONTRACT.md, "PostHog"): a pull reads the
project's time zone and the service's clock first, and its weeks and days are the project's.
Weekly usage: the first pull (or --full, or after the project's time zone changed) takes
analytics.weeks; later ones re-pull the last analytics.repull_weeks weeks (late events land
there). Per-user activity: the first pull of the project's day takes every user; later pulls
that day take only users active that day, the only ones whose numbers can have moved (30-day
counts start at a midnight, see sources/posthog.py). ``last_seen`` is stored in UTC, as every
instant in the cache. An account whose whole history the cache lacks (``usage_coverage``: it
joined the book, or its domain changed, since the last pull) gets its earlier weeks and all its
users in the same sync, by queries of only its groups.

Pages are mapped as they arrive and kept in a TEMP table of the sync's connection (written
without locking the cache), then each object is written in one transaction with its cursor:
only the rows that differ (so change tracking sees real changes), and a failed page leaves the
cache as it was. The real sync is bounded by PostHog's 240 queries a minute, not by this side.
Groups that match no account are counted and reported, never dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils

from csm_tui.sources.http import Forbidden, SourceError
from csm_tui.sources.posthog import Page, PostHog, TimezoneChanged
from csm_tui.store.transaction import transaction
from csm_tui.sync import mapping
from csm_tui.sync.progress import ProgressCallback, SyncProgress, SyncReport
from csm_tui.sync.pull_crm import read_cursor, write_state

SOURCE = "analytics"
USAGE_COLUMNS = ("account_id", "week", "event", "count", "users")
USAGE_KEY = ("account_id", "week", "event")
BACKFILL_GROUPS = 50  # group values a backfill query names (written out as ORs)
USER_COLUMNS = ("account_id", "user_key", "email", "last_seen", "events_30d")
USER_KEY = ("account_id", "user_key")
# Pages wait here until the whole object is in: TEMP tables live in the connection's own
# temporary database, so writing them takes no lock on the cache.
STAGED = {"usage_weekly": "temp.pulled_usage_weekly", "user_activity": "temp.pulled_user_activity"}
# Two groups of one account (www. and the bare domain) add up: events and users of a week;
# a user's last seen is the latest, events the sum, email the one of the latest row.
MERGED = {
    "usage_weekly": "SELECT account_id, week, event, SUM(count), SUM(users) FROM {staged} "
    "GROUP BY account_id, week, event",
    "user_activity": "SELECT account_id, user_key, email, MAX(last_seen), SUM(events_30d) "
    "FROM {staged} GROUP BY account_id, user_key",
}


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
    hundreds of times); also which values matched nothing."""

    def __init__(self, index: dict[str, str], group_key: str) -> None:
        self.index = index
        self.group_key = group_key
        self.known: dict[Any, str | None] = {}
        self.unmatched: set[str] = set()

    def look_up(self, value: Any) -> str | None:
        """The account of one group value (remembered)."""
        account = self.index.get(_group(value, self.group_key) or "")
        if account is None:
            self.unmatched.add(str(value))
        # An unhashable value (a malformed answer) is simply looked up again next time.
        with contextlib.suppress(TypeError):
            self.known[value] = account
        return account

    def account(self, value: Any) -> str | None:
        """The account of a group value (None: not in the book)."""
        try:
            return self.known[value]
        except (KeyError, TypeError):
            return self.look_up(value)


def usage_rows(
    page: Sequence[Sequence[Any]], groups: Groups, weeks: dict[Any, str | None]
) -> list[tuple[Any, ...]]:
    """Cache rows of one weekly-usage page (rows of unknown groups or weeks are left out).
    ``weeks``: week values met so far -> ISO day (the project's weeks, as PostHog sent them)."""
    out: list[tuple[Any, ...]] = []
    add = out.append
    for group, week, event, events, users in page:
        account = groups.account(group)
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


def utc_instant(value: Any, zone: ZoneInfo) -> str | None:
    """An instant PostHog sent, in UTC as the cache keeps instants ('…T…+00:00' with
    microseconds); one without an offset is the project's wall-clock time."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def users_rows(
    page: Sequence[Sequence[Any]], groups: Groups, zone: ZoneInfo
) -> list[tuple[Any, ...]]:
    """Cache rows of one per-user activity page (rows of unknown groups are left out)."""
    out: list[tuple[Any, ...]] = []
    add = out.append
    for group, user, email, last_seen, events_30d in page:
        account = groups.account(group)
        if account is None:
            continue
        add(
            (
                account,
                user if type(user) is str else str(user),
                str(email or "").strip().lower() or None,
                utc_instant(last_seen, zone),
                events_30d if type(events_30d) is int else (mapping.whole(events_30d) or 0),
            )
        )
    return out


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
    """One pull of the analytics source into one cache (after the CRM pull: the accounts the
    groups map to are in the cache).

    ``await run()``; then ``requests`` (requests this pull sent), ``rewritten`` (True when a
    table was pulled whole: which accounts changed is then not worth tracking) and, when it
    failed, ``current`` (the object it was on).
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        posthog: PostHog,
        *,
        settings: Any,
        full: bool,
        report: SyncReport,
        progress: ProgressCallback,
        started: str,
    ) -> None:
        self.db = db
        self.ph = posthog
        self.a = settings.analytics
        self.full = full
        self.report = report
        self.progress = progress
        self.started = started
        self.current = "usage_weekly"  # the object being pulled (where an error is recorded)
        self.rewritten = False
        # Awaited before the first write to the cache (a caller's integrity check, if any).
        self.ready_to_write: Callable[[], Awaitable[None]] = _nothing_to_wait_for
        self._requests_before = posthog.client.requests
        self.zone = ZoneInfo("UTC")
        self.timezone = "UTC"

    @property
    def requests(self) -> int:
        """Requests this pull sent (retries included)."""
        return self.ph.client.requests - self._requests_before

    async def run(self) -> None:
        """Pull weekly usage and user activity (both at once: 2 queries in flight, PostHog
        allows 3), then write each with its cursor."""
        now = await self._project_now()
        today = now.date()
        usage_whole = self.full or self._stored("usage_weekly", "timezone") != self.timezone
        usage_whole = usage_whole or read_cursor(self.db, SOURCE, "usage_weekly") is None
        index = group_index(self.db, self.a.group_key)
        covered = self._covered()
        usage_whole = usage_whole or (bool(index) and not covered)  # a cache just migrated
        weeks = self.a.weeks if usage_whole else self.a.repull_weeks
        since = week_of(today) - timedelta(weeks=weeks)
        # Accounts whose history the cache lacks (they joined the book, or their domain
        # changed, since the last sync): their weeks before ``since`` come too.
        joining = {} if usage_whole else {
            acc: key for key, acc in index.items() if covered.get(acc) != key
        }  # fmt: skip
        last_whole_day = self._stored("user_activity", "whole_day")
        all_users = (
            self.full
            or last_whole_day != today.isoformat()
            or self._stored("user_activity", "timezone") != self.timezone
        )
        usage_groups, users_groups = (
            Groups(index, self.a.group_key),
            Groups(index, self.a.group_key),
        )
        weeks_seen: dict[Any, str | None] = {}
        for table in STAGED:
            self._restage(table)
        try:
            await self._fetch_both(
                self._fetch(
                    "usage_weekly",
                    self._usage_pages(since, week_of(today), joining, usage_groups),
                    lambda page: usage_rows(page, usage_groups, weeks_seen),
                ),
                self._fetch(
                    "user_activity",
                    self._user_pages(today, all_users, joining),
                    lambda page: users_rows(page, users_groups, self.zone),
                ),
            )
            await self.ready_to_write()
            self.current = "usage_weekly"

            def usage_state(rows: int) -> None:
                write_state(
                    self.db, SOURCE, "usage_weekly", cursor=since.isoformat(),
                    started=self.started,
                    stats={
                        "rows": rows, "weeks": weeks, "timezone": self.timezone,
                        "unmatched_groups": len(usage_groups.unmatched),
                        "unmatched_examples": sorted(usage_groups.unmatched)[:5],
                        "joining": len(joining),
                    },
                )  # fmt: skip
                pulled_whole = index if usage_whole else {k: a for a, k in joining.items()}
                self._cover(pulled_whole, whole=usage_whole)

            pulled = self._write(
                "usage_weekly",
                USAGE_COLUMNS,
                USAGE_KEY,
                whole=usage_whole,
                scope=_usage_scope(usage_whole, since, joining),
                state=usage_state,
            )
            self._report_usage(pulled, usage_groups)
            self.current = "user_activity"
            pulled = self._write(
                "user_activity",
                USER_COLUMNS,
                USER_KEY,
                whole=all_users,
                # Users not active today keep their rows: only these users' rows can differ.
                scope=("1", []) if all_users else _pulled_accounts("user_activity"),
                state=lambda rows: write_state(
                    self.db, SOURCE, "user_activity", cursor=week_of(today).isoformat(),
                    started=self.started,
                    stats={
                        "rows": rows, "unmatched_groups": len(users_groups.unmatched),
                        "whole_day": today.isoformat() if all_users else last_whole_day,
                        "users": "all" if all_users else "active today",
                        "timezone": self.timezone,
                    },
                ),
            )  # fmt: skip
            self.report.add_pulled("user_activity", pulled)
        finally:
            for table in STAGED:
                self._unstage(table)

    def _covered(self) -> dict[str, str]:
        """Account id -> the group key its whole usage history was pulled under."""
        return dict(self.db.execute("SELECT account_id, group_key FROM usage_coverage"))

    def _cover(self, index: dict[str, str], *, whole: bool) -> None:
        """Record (in the usage write's transaction) that these accounts' history is whole;
        after a whole pull, exactly the accounts of the book."""
        if whole:
            self.db.conn.execute("DELETE FROM usage_coverage")
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO usage_coverage (account_id, group_key) VALUES (?, ?)",
            [(acc, key) for key, acc in index.items()],
        )

    async def _user_pages(
        self, today: date, all_users: bool, joining: dict[str, str]
    ) -> AsyncIterator[Page]:
        """Every user, or those active today; then every user of the accounts ``joining`` the
        book (the users active today are only those of the accounts already in it)."""
        since = today - timedelta(weeks=self.a.weeks)
        pages = self.ph.user_activity(self.a.group_index, since, today, active_today=not all_users)
        async for page in pages:
            yield page
        if all_users or not joining:
            return
        for chunk in _chunks(_group_spellings(joining.values())):
            async for page in self.ph.user_activity(self.a.group_index, since, today, groups=chunk):
                yield page

    async def _usage_pages(
        self, since: date, this_week: date, joining: dict[str, str], groups: Groups
    ) -> AsyncIterator[Page]:
        """The weeks from ``since``; then, for the accounts ``joining`` the book, their weeks
        before it, from ``analytics.weeks`` back (BACKFILL_GROUPS group values a query)."""
        async for page in self.ph.weekly_usage(self.a.group_index, since):
            yield page
        if not joining:
            return
        # And however the weeks just pulled spelled their group (https://Acme.com/, ...).
        seen = [str(raw) for raw, acc in groups.known.items() if acc in joining]
        start = this_week - timedelta(weeks=self.a.weeks)
        for chunk in _chunks(_group_spellings(joining.values(), seen)):
            async for page in self.ph.weekly_usage(
                self.a.group_index, start, until=since, groups=chunk
            ):
                yield page

    async def _project_now(self) -> datetime:
        """Now in the project's time zone: the zone PostHog names for the project, the clock
        its answer carries (this machine's when it gives none). A key without project:read
        asks PostHog's now() instead (every query answer names the zone)."""
        try:
            project = await self.ph.project()
        except Forbidden:
            project = await self.ph.clock()
        try:
            self.zone = ZoneInfo(project.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SourceError(
                f"PostHog project time zone {project.timezone!r} is unknown to this machine "
                "(install tzdata)"
            ) from None
        self.timezone = project.timezone
        return (project.now or datetime.now(UTC)).astimezone(self.zone)

    def _stored(self, obj: str, name: str) -> Any:
        """One value of the stats stored with an object's last pull (None if never)."""
        row = self.db.execute(
            "SELECT stats FROM sync_state WHERE source = ? AND object = ?", [SOURCE, obj]
        ).fetchone()
        try:
            return json.loads(row[0]).get(name) if row and row[0] else None
        except (ValueError, AttributeError):
            return None

    async def _fetch_both(self, usage: Awaitable[None], users: Awaitable[None]) -> None:
        """Both objects' pages at once; the first failure names its object in ``current``,
        stops the other and is raised."""
        tasks = {
            asyncio.ensure_future(usage): "usage_weekly",
            asyncio.ensure_future(users): "user_activity",
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task, obj in tasks.items():
                error = task.exception() if task in done else None
                if error is not None:
                    self.current = obj
                    raise error
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def _fetch(
        self,
        table: str,
        pages: AsyncIterator[Page],
        to_rows: Callable[[Sequence[Sequence[Any]]], list[tuple[Any, ...]]],
    ) -> None:
        """Map every page and keep its rows in the table's TEMP table (nothing of the cache is
        written)."""
        self.progress(SyncProgress("analytics", table, 0, None))
        fetched = 0
        staged = STAGED[table]
        columns = USAGE_COLUMNS if table == "usage_weekly" else USER_COLUMNS
        marks = ", ".join("?" for _ in columns)
        async for page in pages:
            if page.timezone is not None and page.timezone != self.timezone:
                raise TimezoneChanged(
                    f"PostHog answered in time zone {page.timezone}, the project's is "
                    f"{self.timezone}: run the sync again"
                )
            fetched += len(page.rows)
            rows = to_rows(page.rows)
            # One transaction per page, of the TEMP database only: the cache stays free.
            with _deferred(self.db):
                self.db.conn.executemany(f"INSERT INTO {staged} VALUES ({marks})", rows)
            self.progress(SyncProgress("analytics", table, fetched, None))
        self.progress(SyncProgress("analytics", table, fetched, fetched, "done"))

    def _restage(self, table: str) -> None:
        columns = USAGE_COLUMNS if table == "usage_weekly" else USER_COLUMNS
        self.db.conn.execute(f"DROP TABLE IF EXISTS {STAGED[table]}")
        self.db.conn.execute(f"CREATE TABLE {STAGED[table]} ({', '.join(columns)})")

    def _unstage(self, table: str) -> None:
        with contextlib.suppress(Exception):
            self.db.conn.execute(f"DROP TABLE IF EXISTS {STAGED[table]}")

    def _write(
        self,
        table: str,
        columns: tuple[str, ...],
        key: tuple[str, ...],
        *,
        whole: bool,
        scope: tuple[str, list[Any]],
        state: Callable[[int], None],
    ) -> int:
        """Make ``table``'s rows in ``scope`` equal the staged rows, writing only the rows that
        differ (deleting the missing ones after a whole pull or a re-pull of usage), and store
        the object's state with them; returns the rows pulled."""
        staged = STAGED[table]
        names = ", ".join(columns)
        keys = ", ".join(key)
        where, params = scope
        merged = MERGED[table].format(staged=staged)
        pulled = self.db.execute(f"SELECT COUNT(*) FROM ({merged})").fetchone()[0]
        with transaction(self.db):
            if whole or table == "usage_weekly":
                # A late correction can remove a row: the re-pulled weeks are replaced whole.
                self.db.conn.execute(
                    f"DELETE FROM {table} WHERE ({where}) AND ({keys}) NOT IN "
                    f"(SELECT {keys} FROM {staged})",
                    params,
                )
            self.db.conn.execute(
                f"INSERT OR REPLACE INTO {table} ({names}) {merged} "
                f"EXCEPT SELECT {names} FROM {table} WHERE {where}",
                params,
            )
            state(pulled)
        self.rewritten = self.rewritten or whole
        return pulled

    def _report_usage(self, pulled: int, groups: Groups) -> None:
        self.report.add_pulled("usage_weekly", pulled)
        unmatched = groups.unmatched
        self.report.unmatched_groups = max(self.report.unmatched_groups, len(unmatched))
        if unmatched:
            self.report.warnings.append(
                f"{len(unmatched)} analytics groups are not accounts of this book (matched "
                f"by {self.a.group_key}; other owners' accounts or unknown), "
                f"e.g. {sorted(unmatched)[0]}"
            )


def _group_spellings(keys: Collection[str], seen: Collection[str] = ()) -> list[str]:
    """The group values to ask for, for these group keys: each as it is and with www. (how a
    product's code usually names a company), and the spellings ``seen`` in this pull. Another
    spelling of a joining account's group is caught by the next `csm-tui sync --full`."""
    values = set(seen)
    for key in keys:
        values.update((key, f"www.{key}"))
    return sorted(values)


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    """BACKFILL_GROUPS values at a time."""
    for n in range(0, len(values), BACKFILL_GROUPS):
        yield list(values[n : n + BACKFILL_GROUPS])


def _usage_scope(whole: bool, since: date, joining: Collection[str]) -> tuple[str, list[Any]]:
    """The cached usage rows a pull replaces: all; the re-pulled weeks; and those weeks plus
    every week of the accounts joining the book."""
    if whole:
        return "1", []
    if not joining:
        return "week >= ?", [since.isoformat()]
    return (
        "(week >= ? OR account_id IN (SELECT value FROM json_each(?)))",
        [since.isoformat(), json.dumps(sorted(joining))],
    )


def _pulled_accounts(table: str) -> tuple[str, list[Any]]:
    """The scope of the accounts a partial pull brought (the staged rows' accounts)."""
    return f"account_id IN (SELECT account_id FROM {STAGED[table]})", []


@contextlib.contextmanager
def _deferred(db: sqlite_utils.Database) -> Iterator[None]:
    """A deferred transaction: it locks only what it writes (here the TEMP database), unlike
    store/transaction.py's, which takes the cache's write lock up front."""
    conn = db.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


async def _nothing_to_wait_for() -> None:
    return None
