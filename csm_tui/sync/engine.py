"""A whole sync: lock the workspace, push the outbox, pull the CRM, pull the analytics, rescore.

``run_sync`` is what the CLI, the demo and the app call; ``sync_blocking`` wraps it for
synchronous callers (a Textual thread worker, the command line).

One step after the other: a real sync is bounded by the services' rate budgets, not by this
machine, so nothing is overlapped but the cache's integrity check, which runs in a thread while
the first answers arrive (nothing is written before it passes). An incremental sync notes which
accounts it changed (sync/changes.py) and asks the rescore for those only when nothing else
moved (see ``_rescore_scope``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlite_utils

from csm_tui.config import Settings
from csm_tui.errors import CsmError
from csm_tui.sources.http import ApiClient, Endpoint, HttpPolicy, SourceError, pacing_clock_of
from csm_tui.sources.hubspot import HubSpot
from csm_tui.sources.pacing import Window, WindowLimiter
from csm_tui.sources.posthog import PostHog, posthog_client
from csm_tui.store import crm_links, outbox
from csm_tui.store.db import (
    BUSY_TIMEOUT_MS,
    CacheError,
    is_corruption,
    open_cache,
    set_aside,
    utc_now,
)
from csm_tui.store.transaction import transaction
from csm_tui.sync import changes
from csm_tui.sync.lock import sync_lock
from csm_tui.sync.mapping import PropertyNames
from csm_tui.sync.progress import ProgressCallback, SyncProgress, SyncReport
from csm_tui.sync.pull_analytics import AnalyticsPull, refresh_last_active
from csm_tui.sync.pull_crm import CrmPull, OwnerNotFound, record_error
from csm_tui.sync.push import Pusher

__all__ = ["SyncError", "SyncProgress", "SyncReport", "run_sync", "sync_blocking"]


class SyncError(CsmError):
    """The sync stopped; the message is one line saying why and what to do."""


def _ignore(_: SyncProgress) -> None:
    return None


def token_hint(settings: Settings, section: str) -> str:
    """Where a token is set: the environment variable or the config file."""
    return f"CSM_TUI_{section.upper()}__TOKEN or {section}.token in {settings.config_file}"


async def _learn_portal(db: sqlite_utils.Database, hubspot: HubSpot, token: str) -> None:
    """Ask the token which portal it belongs to, once: the app's links into HubSpot need it."""
    if not token or crm_links.portal_id(db) is not None:
        return
    try:
        info = await hubspot.token_info(token)
    except SourceError:
        return  # e.g. not a private app token: the links say the portal is not known
    hub_id = info.get("hubId")
    if isinstance(hub_id, int) or (isinstance(hub_id, str) and hub_id.isdigit()):
        crm_links.remember_portal(db, hub_id)


def crm_client(
    settings: Settings,
    policy: HttpPolicy,
    transport: httpx.AsyncBaseTransport | None,
) -> ApiClient:
    """The HTTP client of the CRM (rate limits per HubSpot's documented budgets)."""
    token = settings.crm.token.get_secret_value() if settings.crm.token else None
    clock = pacing_clock_of(transport)
    # Search counts against its own 4/s and (the safer reading) the app's 10-second budget too.
    general = WindowLimiter([Window(policy.crm_per_ten_seconds, 10.0)], clock, name="crm")
    search = WindowLimiter([Window(policy.crm_search_per_second, 1.0)], clock, name="crm-search")
    return ApiClient(
        service="CRM",
        base_url=settings.crm.base_url,
        token=token,
        token_hint=token_hint(settings, "crm"),
        timeout=settings.crm.timeout,
        concurrency=settings.crm.concurrency,
        limiters={"default": (general,), "search": (search, general)},
        policy=policy,
        transport=transport,
        clock=clock,
    )


def analytics_client(
    settings: Settings,
    policy: HttpPolicy,
    transport: httpx.AsyncBaseTransport | None,
) -> ApiClient:
    """The HTTP client of the analytics API (240 requests/min, 3 queries at once)."""
    return posthog_client(analytics_endpoint(settings), policy, transport)


def analytics_endpoint(settings: Settings) -> Endpoint:
    """Where the analytics API is and how to sign in (picklable: a helper process uses it)."""
    token = settings.analytics.token.get_secret_value() if settings.analytics.token else None
    return Endpoint(
        base_url=settings.analytics.base_url,
        token=token,
        token_hint=token_hint(settings, "analytics"),
        timeout=settings.analytics.timeout,
    )


def _rescore(
    db: sqlite_utils.Database,
    settings: Settings,
    today: date,
    account_ids: Collection[str] | None = None,
) -> int | None:
    """Recompute scores after a pull (of ``account_ids`` only, when given); how many accounts
    (None without the scoring module)."""
    try:
        module = importlib.import_module("csm_tui.store.rescore")
    except ModuleNotFoundError:  # guard kept so a partial install still syncs
        return None
    if account_ids is None:
        result = module.rescore(db, settings, today)
    else:
        result = module.rescore(db, settings, today, account_ids=sorted(account_ids))
    return int(getattr(result, "accounts", 0))


# sync_state's row about whole syncs (not an object of a source): whether the last sync ended
# cleanly, and the day its scores were computed for. Only its stats change; its cursor stays
# NULL, so a failed sync never changes a cursor.
RUN_STATE = ("sync", "run")
# Where the CSM's own work lives (unpushed notes, next steps, snoozes, enrollments): checked
# before every sync writes, even when the whole file is not.
LOCAL_WORK = ("outbox", "touches", "next_steps", "snoozes", "enrollments")


@dataclass(frozen=True)
class RunState:
    """What the last sync left: did it end cleanly, and for which day did it score the book."""

    clean: bool = False
    scored_day: str | None = None

    @classmethod
    def read(cls, db: sqlite_utils.Database) -> RunState:
        """The stored state (not clean when absent or unreadable)."""
        row = db.execute(
            "SELECT stats FROM sync_state WHERE source = ? AND object = ?", list(RUN_STATE)
        ).fetchone()
        try:
            found = json.loads(row[0]) if row and row[0] else {}
            return cls(bool(found.get("clean")), found.get("scored_day"))
        except (ValueError, AttributeError):
            return cls()

    def write(self, db: sqlite_utils.Database, *, succeeded: bool = False) -> None:
        """Store it (``succeeded``: also as the time of the last successful sync)."""
        stats = json.dumps({"clean": self.clean, "scored_day": self.scored_day}, sort_keys=True)
        with transaction(db):
            db.execute(
                "INSERT INTO sync_state (source, object, stats, last_success) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(source, object) DO UPDATE SET stats = excluded.stats, "
                "last_success = COALESCE(excluded.last_success, sync_state.last_success)",
                [*RUN_STATE, stats, utc_now() if succeeded else None],
            )


def _quick_check(path: Path, tables: tuple[str, ...] = ()) -> str:
    """SQLite's quick_check of the cache (of ``tables`` only, when given), on a connection of
    its own: it runs in a thread."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        for table in tables or (None,):
            pragma = "PRAGMA quick_check" if table is None else f"PRAGMA quick_check({table})"
            found = str(conn.execute(pragma).fetchone()[0])
            if found != "ok":
                return found
        return "ok"
    finally:
        conn.close()


class WriteGate:
    """What every write of a sync waits for: the cache passed its integrity check.

    The whole file is checked (a read of all of it, ~0.5 s at 10,000 accounts) on a full
    sync and after a sync that did not end well; otherwise the tables holding the CSM's own
    work, and SQLite itself reports damage it meets on the way (the sync then sets the cache
    aside). The check runs in a thread while the first pages download; nothing is written
    before it passes, so a damaged cache is set aside as it was. Opening the gate also marks
    the sync as running (not clean) until it ends well.
    """

    def __init__(
        self, db: sqlite_utils.Database, path: Path, before: RunState, *, whole: bool
    ) -> None:
        self.db = db
        self.before = before
        self.opened = False
        tables = () if whole else LOCAL_WORK
        self._check = asyncio.ensure_future(asyncio.to_thread(_quick_check, path, tables))

    async def __call__(self) -> None:
        """Wait for the check (raises sqlite3.DatabaseError when it failed), once."""
        if self.opened:
            return
        found = await self._check
        if found != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {found}")
        RunState(clean=False, scored_day=self.before.scored_day).write(self.db)
        self.opened = True

    async def settle(self) -> None:
        """Let the check finish (its connection closes) whatever happens to the sync."""
        with contextlib.suppress(BaseException):
            await self._check


def _damaged(path: Path, exc: sqlite3.DatabaseError) -> CacheError:
    """Set a damaged cache aside (never deleted: it may hold unpushed notes); the error."""
    kept = set_aside(path)
    return CacheError(
        f"The cache {path} is damaged or not a csm-tui cache ({exc}); it was kept aside as "
        f"{kept.name}. Run `csm-tui sync` to rebuild it."
    )


async def run_sync(
    settings: Settings,
    *,
    full: bool = False,
    crm: bool = True,
    analytics: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: ProgressCallback | None = None,
    today: date | None = None,
    clock: Callable[[], datetime] | None = None,
    policy: HttpPolicy | None = None,
    lock_wait: float = 2.0,
) -> SyncReport:
    """Push the outbox, pull the CRM and analytics into the cache, rescore; return the report.

    ``clock`` gives "now" (UTC) for the sync window (tests pass the fake's clock); ``policy``
    bounds retries and rates (tests shrink it). Raises SyncError with one clear line.
    """
    clock = clock or (lambda: datetime.now(UTC))
    now = clock()
    today = today or date.today()
    policy = policy or HttpPolicy.from_settings(settings)
    emit = progress or _ignore
    report = SyncReport()
    analytics_ready = bool(settings.analytics.token and settings.analytics.project_id)
    if analytics and not analytics_ready:
        if not crm or settings.analytics.token or settings.analytics.project_id:
            missing = "project_id" if settings.analytics.token else "token"
            raise SyncError(
                f"Analytics {missing} is not set. Set CSM_TUI_ANALYTICS__{missing.upper()} or "
                f"analytics.{missing} in {settings.config_file}."
            )
        report.warnings.append("analytics not configured (no token): usage not pulled")
        analytics = False
    if crm and not settings.crm.token:
        raise SyncError(f"CRM token is not set. Set {token_hint(settings, 'crm')}.")

    path = settings.cache_path
    with sync_lock(path, settings.workspace, wait_seconds=lock_wait):
        db = open_cache(path)
        gate: WriteGate | None = None
        try:
            before = RunState.read(db)
            gate = WriteGate(db, path, before, whole=full or not before.clean)
            await _sync(
                db,
                settings,
                _Plan(full, crm, analytics, today, now, before),
                transport,
                emit,
                policy,
                report,
                gate,
            )
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            if gate is not None:
                await gate.settle()
            # Moved aside while this connection is still open: SQLite then leaves the file as
            # it is when the connection closes (what this sync wrote stays in the WAL beside it).
            raise _damaged(path, exc) from None
        finally:
            if gate is not None:
                await gate.settle()
            db.conn.close()
    return report


@dataclass(frozen=True)
class _Plan:
    """What this sync does, and what the last one left."""

    full: bool
    crm: bool
    analytics: bool
    today: date
    now: datetime
    before: RunState

    @property
    def partial(self) -> bool:
        """Whether only what this sync changes needs rescoring: the last sync ended well and
        scored the book for today (a new day moves every account's numbers)."""
        return (
            not self.full and self.before.clean and self.before.scored_day == self.today.isoformat()
        )


async def _sync(
    db: sqlite_utils.Database,
    settings: Settings,
    plan: _Plan,
    transport: httpx.AsyncBaseTransport | None,
    emit: ProgressCallback,
    policy: HttpPolicy,
    report: SyncReport,
    gate: WriteGate,
) -> None:
    started = utc_now()
    stage = "crm"
    current: Any = None  # the pull in progress, which knows the object it was on
    clients: list[ApiClient] = []
    crm_pulled = False
    analytics_pull: AnalyticsPull | None = None
    if plan.partial:
        changes.track_changes(db)
    spend = Spend.read(db)
    try:
        if plan.crm:
            client = crm_client(settings, policy, transport)
            client.seed_sends(spend.sends)
            clients.append(client)
            hubspot = HubSpot(client)
            stage = "push"
            if outbox.items(db, (outbox.PENDING,)):
                await gate()
                await Pusher(
                    db,
                    hubspot,
                    policy=policy,
                    report=report,
                    progress=emit,
                    now=plan.now,
                    sender_email=settings.crm.sender_email,
                    owner_email=settings.crm.owner_email,
                ).run()
            stage = "crm"
            pull = CrmPull(
                db,
                hubspot,
                names=PropertyNames.from_settings(settings.crm.properties),
                owner_email=settings.crm.owner_email,
                full=plan.full,
                sync_start_ms=int(plan.now.timestamp() * 1000),
                report=report,
                progress=emit,
                search_margin_ms=int(settings.crm.search_margin_minutes * 60_000),
                ready_to_write=gate,
                per_second=policy.crm_per_ten_seconds / 10,
            )
            current = pull
            await pull.run()
            crm_pulled = True
            token = settings.crm.token.get_secret_value() if settings.crm.token else ""
            await _learn_portal(db, hubspot, token)
        if plan.analytics:
            await gate()
            client = analytics_client(settings, policy, transport)
            client.seed_sends(spend.sends)
            clients.append(client)
            stage = "analytics"
            analytics_pull = AnalyticsPull(
                db,
                PostHog(
                    client, settings.analytics.project_id, page_size=policy.analytics_page_size
                ),
                settings=settings,
                full=plan.full,
                report=report,
                progress=emit,
                started=started,
            )
            current = analytics_pull
            await analytics_pull.run()
    except (SourceError, OwnerNotFound) as exc:
        message = str(exc)
        obj = "push" if stage == "push" else getattr(current, "current", "sync")
        await gate()  # a damaged cache is set aside, not written to
        record_error(db, "crm" if stage in ("push", "crm") else stage, obj, message)
        if crm_pulled:  # the CRM's contacts still get their last activity
            _refresh_last_active(db, untracked=bool(analytics_pull and analytics_pull.rewritten))
        raise SyncError(message) from None
    finally:
        report.requests = sum(c.requests for c in clients)
        for c in clients:
            await c.aclose()
        with contextlib.suppress(sqlite3.Error):  # the spend is a courtesy, never a failure
            spend.after(clients, plan.today).write(db)
    await gate()
    # Tables the analytics pull wrote whole: which accounts they changed is not known.
    untracked = bool(analytics_pull and analytics_pull.rewritten)
    # Contacts' last activity follows both sources (new contacts, new activity): once, now.
    _refresh_last_active(db, untracked)
    # Every object of the synced sources succeeded: earlier errors are history now (a feature
    # turned off by a missing scope keeps its line until the scope is granted).
    sources = [name for name, on in (("crm", plan.crm), ("analytics", plan.analytics)) if on]
    with transaction(db):
        db.execute(
            "UPDATE sync_state SET last_error = NULL WHERE source IN "
            "(SELECT value FROM json_each(?)) AND last_success >= ?",
            [json.dumps(sources), started],
        )
    emit(SyncProgress("rescore", "scores", 0, None))
    scope = _rescore_scope(db, plan, untracked)
    if scope is not None and not scope:
        scored: int | None = 0  # nothing changed: today's scores stand
        from csm_tui.store.search import refresh_index

        refresh_index(db.conn)  # rows an earlier, failed sync wrote (the rescore does it else)
    else:
        scored = _rescore(db, settings, plan.today, scope)
    report.rescored = scored is not None
    if scored is None:
        report.warnings.append("scores not computed: csm_tui.store.rescore is not available")
    RunState(clean=True, scored_day=plan.today.isoformat() if scored is not None else None).write(
        db, succeeded=True
    )
    emit(SyncProgress("rescore", "scores", scored or 0, scored or 0, "done"))


@dataclass(frozen=True)
class Spend:
    """The request budget spent with these tokens: the send times still inside a rate window
    (so the next sync, or the app's after a cron sync, starts where this one left off) and the
    CRM requests of the day, against HubSpot's daily budget."""

    sends: dict[str, list[float]]
    day: str = ""
    crm_today: int = 0

    @classmethod
    def read(cls, db: sqlite_utils.Database) -> Spend:
        """The stored spend (empty when absent or unreadable)."""
        row = db.execute(
            "SELECT stats FROM sync_state WHERE source = ? AND object = ?", list(SPEND)
        ).fetchone()
        try:
            found = json.loads(row[0]) if row and row[0] else {}
            return cls(dict(found.get("sends") or {}), found.get("day", ""), found.get("crm", 0))
        except (ValueError, AttributeError, TypeError):
            return cls({})

    def after(self, clients: list[ApiClient], today: date) -> Spend:
        """This spend plus what ``clients`` sent."""
        sends = dict(self.sends)
        crm = self.crm_today if self.day == today.isoformat() else 0
        for client in clients:
            sends.update(client.recent_sends())
            if client.service == "CRM":
                crm += client.requests
        return Spend(sends, today.isoformat(), crm)

    def write(self, db: sqlite_utils.Database) -> None:
        """Store it."""
        stats = json.dumps({"sends": self.sends, "day": self.day, "crm": self.crm_today})
        with transaction(db):
            db.execute(
                "INSERT INTO sync_state (source, object, stats) VALUES (?, ?, ?) "
                "ON CONFLICT(source, object) DO UPDATE SET stats = excluded.stats",
                [*SPEND, stats],
            )


SPEND = ("sync", "spend")


def _refresh_last_active(db: sqlite_utils.Database, untracked: bool) -> None:
    """Contacts' last activity: of every contact, or (tracking changes) only where it can have
    moved: contacts new or with another email, and emails whose activity changed."""
    if untracked or not changes.is_tracking(db):
        refresh_last_active(db)
        return
    refresh_last_active(
        db, contacts=changes.contacts_with_new_email(db), emails=changes.changed_emails(db)
    )


def _rescore_scope(db: sqlite_utils.Database, plan: _Plan, untracked: bool) -> set[str] | None:
    """The accounts to rescore: None for the whole book, else those this sync changed.

    The whole book after a full sync, on a new day, after a sync that did not end well (its
    changes were not tracked), after analytics written whole, when weekly usage changed (each account's use per seat ranks it
    among its tier: one account's usage moves its peers' scores), or when the book itself
    changed (accounts added, removed, archived, or ARR: the rescore's stored tiers are gone).
    """
    if untracked or not plan.partial or not changes.is_tracking(db):
        return None
    if "usage_weekly" in changes.changed_tables(db):
        return None
    week = (plan.today - timedelta(days=plan.today.weekday())).isoformat()
    reference = db.execute(
        "SELECT EXISTS (SELECT 1 FROM score_reference WHERE week = ?)", [week]
    ).fetchone()
    if not reference or not reference[0]:
        return None
    return changes.changed_accounts(db)


def sync_blocking(
    settings: Settings,
    **kwargs: Any,
) -> SyncReport:
    """``run_sync`` for synchronous callers (same arguments), in a fresh event loop."""
    return asyncio.run(run_sync(settings, **kwargs))
