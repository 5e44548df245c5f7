"""A whole sync: lock the workspace, push the outbox, pull the CRM and analytics, rescore.

``run_sync`` is what the CLI, the demo and the app call; ``sync_blocking`` wraps it for
synchronous callers (a Textual thread worker, the command line).
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import sqlite_utils
from aiolimiter import AsyncLimiter

from csm_tui.config import Settings
from csm_tui.errors import CsmError
from csm_tui.sources.http import ApiClient, HttpPolicy, SourceError
from csm_tui.sources.hubspot import HubSpot
from csm_tui.sources.posthog import PostHog
from csm_tui.store.db import open_cache, utc_now
from csm_tui.store.transaction import transaction
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


def crm_client(
    settings: Settings,
    policy: HttpPolicy,
    transport: httpx.AsyncBaseTransport | None,
) -> ApiClient:
    """The HTTP client of the CRM (rate limits per HubSpot's documented budgets)."""
    token = settings.crm.token.get_secret_value() if settings.crm.token else None
    return ApiClient(
        service="CRM",
        base_url=settings.crm.base_url,
        token=token,
        token_hint=token_hint(settings, "crm"),
        timeout=settings.crm.timeout,
        concurrency=settings.crm.concurrency,
        limiters={
            "default": AsyncLimiter(policy.crm_rate_per_second, 1.0),
            "search": AsyncLimiter(policy.crm_search_per_second, 1.0),
        },
        policy=policy,
        transport=transport,
    )


def analytics_client(
    settings: Settings,
    policy: HttpPolicy,
    transport: httpx.AsyncBaseTransport | None,
) -> ApiClient:
    """The HTTP client of the analytics API (240 requests/min, 3 queries at once)."""
    token = settings.analytics.token.get_secret_value() if settings.analytics.token else None
    return ApiClient(
        service="Analytics",
        base_url=settings.analytics.base_url,
        token=token,
        token_hint=token_hint(settings, "analytics"),
        timeout=settings.analytics.timeout,
        concurrency=policy.analytics_concurrency,
        limiters={
            "default": AsyncLimiter(policy.analytics_per_minute, 60.0),
            "query": AsyncLimiter(policy.analytics_per_minute, 60.0),
        },
        policy=policy,
        transport=transport,
    )


def _rescore(db: sqlite_utils.Database, settings: Settings, today: date) -> int | None:
    """Recompute scores after a pull; how many accounts (None without the scoring module)."""
    try:
        module = importlib.import_module("csm_tui.store.rescore")
    except ModuleNotFoundError:  # guard kept so a partial install still syncs
        return None
    result = module.rescore(db, settings, today)
    return int(getattr(result, "accounts", 0))


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

    with sync_lock(settings.cache_path, settings.workspace, wait_seconds=lock_wait):
        db = open_cache(settings.cache_path, check=True)
        try:
            await _sync(
                db, settings, full, crm, analytics, transport, emit, today, now, policy, report
            )
        finally:
            db.conn.close()
    return report


async def _sync(
    db: sqlite_utils.Database,
    settings: Settings,
    full: bool,
    crm: bool,
    analytics: bool,
    transport: httpx.AsyncBaseTransport | None,
    emit: ProgressCallback,
    today: date,
    now: datetime,
    policy: HttpPolicy,
    report: SyncReport,
) -> None:
    started = utc_now()
    stage = "crm"
    current: Any = None  # the pull in progress, which knows the object it was on
    clients: list[ApiClient] = []
    try:
        if crm:
            client = crm_client(settings, policy, transport)
            clients.append(client)
            hubspot = HubSpot(client)
            stage = "push"
            await Pusher(db, hubspot, policy=policy, report=report, progress=emit, now=now).run()
            stage = "crm"
            pull = CrmPull(
                db,
                hubspot,
                names=PropertyNames.from_settings(settings.crm.properties),
                owner_email=settings.crm.owner_email,
                full=full,
                sync_start_ms=int(now.timestamp() * 1000),
                report=report,
                progress=emit,
                # One request per contact: a setting can turn it off for very large books.
                pull_enrollments=bool(getattr(settings.crm, "pull_enrollments", True)),
            )
            current = pull
            await pull.run()
            refresh_last_active(db)
        if analytics:
            stage = "analytics"
            client = analytics_client(settings, policy, transport)
            clients.append(client)
            posthog = PostHog(
                client, settings.analytics.project_id, page_size=policy.analytics_page_size
            )
            current = AnalyticsPull(
                db,
                posthog,
                settings=settings,
                full=full,
                # PostHog counts weeks in UTC: the re-pulled window must be the one it returns.
                today=now.astimezone(UTC).date(),
                report=report,
                progress=emit,
                started=started,
            )
            await current.run()
    except (SourceError, OwnerNotFound) as exc:
        message = str(exc)
        obj = "push" if stage == "push" else getattr(current, "current", "sync")
        record_error(db, "crm" if stage in ("push", "crm") else stage, obj, message)
        raise SyncError(message) from None
    finally:
        report.requests = sum(c.requests for c in clients)
        for c in clients:
            await c.aclose()
    # Every object of the synced sources succeeded: earlier errors are history now.
    sources = [name for name, on in (("crm", crm), ("analytics", analytics)) if on]
    with transaction(db):
        db.execute(
            "UPDATE sync_state SET last_error = NULL WHERE source IN "
            "(SELECT value FROM json_each(?))",
            [json.dumps(sources)],
        )
    emit(SyncProgress("rescore", "scores", 0, None))
    scored = _rescore(db, settings, today)
    report.rescored = scored is not None
    if scored is None:
        report.warnings.append("scores not computed: csm_tui.store.rescore is not available")
    emit(SyncProgress("rescore", "scores", scored or 0, scored or 0, "done"))


def sync_blocking(
    settings: Settings,
    **kwargs: Any,
) -> SyncReport:
    """``run_sync`` for synchronous callers (same arguments), in a fresh event loop."""
    return asyncio.run(run_sync(settings, **kwargs))
