"""`csm-tui demo`: a generated book served by the in-process fake APIs, synced into the
`demo` workspace (rebuilt from scratch each run), then the app on it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic import SecretStr

from csm_tui.config import AnalyticsSettings, CrmProperties, CrmSettings, Settings
from csm_tui.domain.models import plain
from csm_tui.errors import CsmError
from csm_tui.sources.http import HttpPolicy
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking

DEMO_WORKSPACE = "demo"
# Never contacted: the in-process MockTransport answers every request sent "there".
DEMO_CRM_URL = "http://127.0.0.1:9"
DEMO_ANALYTICS_URL = "http://127.0.0.1:9"
DEMO_PROJECT = "1"
# The in-process fakes enforce the real budgets on a simulated clock (fakes/router.py): the
# client paces as it would for real, and no stamina backoff needs a real pause.
IN_PROCESS = HttpPolicy(max_retry_after=0.0)


def demo_settings(
    settings: Settings,
    owner_email: str,
    crm_token: str,
    analytics_token: str,
    sender_email: str = "",
) -> Settings:
    """The user's settings pointed at the fakes, in the `demo` workspace.

    ``sender_email`` is the inbox the demo owner connected to the fake HubSpot (demo_inbox).
    Every week of usage the fakes hold is pulled: a year of past renewals to check the score on.
    """
    from csm_tui.fakes.portfolio import USAGE_WEEKS

    return settings.model_copy(
        update={
            "workspace": DEMO_WORKSPACE,
            "crm": CrmSettings(
                base_url=DEMO_CRM_URL,
                token=SecretStr(crm_token),
                owner_email=owner_email,
                sender_email=sender_email,
                # The demo portal has the custom ticket properties most portals lack.
                properties=CrmProperties(ticket_escalated="escalated", ticket_csat="csat_score"),
            ),
            "analytics": AnalyticsSettings(
                base_url=DEMO_ANALYTICS_URL,
                project_id=DEMO_PROJECT,
                token=SecretStr(analytics_token),
                weeks=USAGE_WEEKS,
            ),
            "keyring_service": "",
        }
    )


def demo_inbox(hubspot: Any, owner_email: str) -> str:
    """The inbox the demo owner connected to the fake HubSpot, which sequences send from (the
    fake refuses any other senderEmail, as HubSpot does); the login email if it names none."""
    owner = next((o for o in hubspot.owners if o["email"].lower() == owner_email.lower()), None)
    user = getattr(hubspot, "users", {}).get(str(owner["userId"])) if owner else None
    inboxes = list(getattr(user, "inboxes", None) or ())
    return str(inboxes[0]) if inboxes else owner_email


def _local_work(settings: Settings) -> int:
    """What the CSM did in the demo workspace that a rebuild would lose (0 without a cache)."""
    if not settings.cache_path.exists():
        return 0
    try:
        db = open_cache(settings.cache_path, create=False)
    except CsmError:
        return 0  # damaged or foreign: rebuilding it loses nothing worth keeping
    try:
        found = 0
        for sql in (
            "SELECT COUNT(*) FROM touches WHERE origin != 'crm'",
            "SELECT COUNT(*) FROM next_steps WHERE origin != 'crm'",
            "SELECT COUNT(*) FROM snoozes",
            "SELECT COUNT(*) FROM enrollments WHERE origin != 'crm'",
            "SELECT COUNT(*) FROM outbox WHERE kind = 'step_change' AND state != 'done'",
        ):
            found += int(db.execute(sql).fetchone()[0])
        return found
    finally:
        db.conn.close()


def _fresh_cache(settings: Settings) -> None:
    """Delete the demo cache (and its WAL files) so it always matches the fakes."""
    path = settings.cache_path
    for side in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        side.unlink(missing_ok=True)


def build_demo(
    accounts: int, seed: int, today: date, clock: Callable[[], datetime] | None = None
) -> tuple[Any, Callable[[], Any]]:
    """The portfolio and a factory of transports to the one in-process FakeApis serving it.

    ``clock`` is the fakes' clock (the analytics fake reads "now" from it): tests pass theirs,
    so what the fakes answer never depends on the day the suite runs.
    """
    from csm_tui.fakes.portfolio import generate_portfolio
    from csm_tui.fakes.router import FakeApis

    portfolio = generate_portfolio(accounts, seed, today=today)
    apis = FakeApis(portfolio, clock=clock)
    return apis, apis.transport


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Fill the demo workspace; open the app unless --no-open."""
    today = date.today()
    apis, transport_factory = build_demo(args.accounts, args.seed, today)
    hub, ph = apis.hubspot, apis.posthog
    owner_email = apis.portfolio.demo_owner_email
    demo = demo_settings(
        settings, owner_email, hub.token, ph.token, sender_email=demo_inbox(hub, owner_email)
    )
    kept = 0 if getattr(args, "fresh", False) else _local_work(demo)
    if kept:
        print(
            f"Keeping the demo workspace: it holds {kept} thing(s) you logged or planned "
            "(`csm-tui demo --fresh` starts over)."
        )
    else:
        _fresh_cache(demo)
    print(f"Generating {args.accounts} accounts (seed {args.seed}) and syncing the demo workspace…")
    try:
        # The fakes enforce the real budgets on a simulated clock: no real waits.
        report = sync_blocking(
            demo, full=not kept, transport=transport_factory(), today=today, policy=IN_PROCESS
        )
    except CsmError as exc:
        raise CsmError(f"The demo sync failed: {exc}") from None
    db = open_cache(demo.cache_path, create=False)
    try:
        accounts = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
        contacts = db.execute("SELECT COUNT(*) FROM contacts WHERE archived = 0").fetchone()[0]
        weeks = db.execute("SELECT COUNT(DISTINCT week) FROM usage_weekly").fetchone()[0]
        waiting = db.execute("SELECT COUNT(*) FROM outbox WHERE state != 'done'").fetchone()[0]
    finally:
        db.conn.close()
    print(
        f"Demo ready: {accounts} accounts in the book of {demo.crm.owner_email}, "
        f"{contacts} contacts, {weeks} weeks of usage, {waiting} outbox items waiting."
    )
    for warning in report.warnings:
        print(f"note: {plain(warning)}")
    print(
        f"Cache: {demo.cache_path} (read it with --workspace demo; `csm-tui demo` keeps what you "
        "logged there, `csm-tui demo --fresh` rebuilds it)"
    )
    if args.no_open:
        return 0
    try:
        from csm_tui.commands.app import open_app
    except ImportError:
        print("The app is not built yet: try `csm-tui today --workspace demo`.")
        return 0
    return open_app(
        demo,
        transport_factory=transport_factory,
        today=today,
        sync_options={"policy": IN_PROCESS},  # in-app syncs reach the same in-process fakes
    )
