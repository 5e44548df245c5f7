"""The app on a small hand-made cache (six accounts, their detail and a recent sync) at a fixed
day and clock, and waiting for its workers (`settle`, for any Textual app under a Pilot)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlite_utils
from textual import events
from textual.app import App
from textual.pilot import Pilot

from csm_tui.config import Settings
from csm_tui.ui.app import CsmApp

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOSTILE = "[bold red]Acme[/]"


# Each component's maximum, in the order the detail shows them (the default weights).
_MAXIMA = (("usage", 30), ("adoption", 15), ("people", 15), ("relationship", 15), ("support", 10),
           ("sentiment", 15))  # fmt: skip
_REASONS = {
    "adoption": "4 of 5 key features",
    "people": "Admin inactive 14 days",
    "relationship": "No touch 31 days",
    "support": "No open tickets",
    "sentiment": "NPS 7 (passive)",
}


def _drivers(health: int, usage_reason: str) -> str:
    """Drivers whose points add up to ``health`` (as the real score's always do): each
    component at the same share of its maximum, the rounding left to the largest remainders."""
    exact = [(name, top, health * top / 100) for name, top in _MAXIMA]
    points = {name: int(value) for name, _, value in exact}
    short = health - sum(points.values())
    for name, _, _ in sorted(exact, key=lambda e: -(e[2] - int(e[2])))[:short]:
        points[name] += 1
    return json.dumps(
        [
            {
                "component": name,
                "points": points[name],
                "max": top,
                "reason": usage_reason if name == "usage" else _REASONS[name],
            }
            for name, top in _MAXIMA
        ]
    )


ACCOUNTS = [
    # id, name, domain, arr, renewal, health, band, trend, stage, priority, reasons, opportunity
    (
        "101",
        "Acme Analytics",
        "acme.io",
        120_000,
        "2026-12-16",
        38,
        "red",
        -17,
        "renewal",
        95.0,
        ["Renews in 23 d", "Health 38 (−17 in 4 wk)", "No touch 31 d"],
        0,
    ),
    (
        "102",
        HOSTILE,
        "hostile.example",
        64_000,
        "2027-03-01",
        55,
        "yellow",
        -6,
        "adoption",
        80.0,
        ["Usage −35%", "Champion quiet 21 d"],
        0,
    ),
    (
        "103",
        "Globex",
        "globex.com",
        250_000,
        "2027-06-30",
        82,
        "green",
        9,
        "expansion",
        60.0,
        ["Seats 96% used", "Usage +40%"],
        1,
    ),
    (
        "104",
        "Initech",
        "initech.com",
        18_000,
        "2027-09-01",
        48,
        "yellow",
        0,
        "onboarding",
        50.0,
        ["Not activated after 30 d"],
        0,
    ),
    (
        "105",
        "Umbrella",
        "umbrella.co",
        40_000,
        "2027-10-01",
        90,
        "green",
        2,
        "retention",
        10.0,
        [],
        0,
    ),
    (
        "106",
        "Stark Industries",
        "stark.com",
        0,
        None,
        12,
        "red",
        -30,
        "win-back",
        5.0,
        ["Churned 2026-10-01"],
        0,
    ),
]


def fill_cache(db: sqlite_utils.Database, *, synced_minutes_ago: int = 7) -> None:
    """Write the accounts and everything the detail pane shows."""
    db["owners"].insert(
        {
            "id": "o1",
            "email": "dana@vendor.example",
            "first_name": "Dana",
            "last_name": "Reyes",
            "user_id": "u1",
            "teams": "[]",
            "archived": 0,
        }
    )
    for (
        aid,
        name,
        domain,
        arr,
        renewal,
        health,
        band,
        trend,
        stage,
        priority,
        reasons,
        opportunity,
    ) in ACCOUNTS:
        db["accounts"].insert(
            {
                "id": aid,
                "name": name,
                "domain": domain,
                "owner_id": "o1",
                "arr": arr,
                "seats": 50,
                "contract_start": "2025-12-16",
                "renewal_date": renewal,
                "archived": 0,
                "industry": "Software",
                "churned_on": "2026-10-01" if stage == "win-back" else None,
            }
        )
        db["scores"].insert(
            {
                "account_id": aid,
                "computed_at": NOW.isoformat(),
                "health": health,
                "band": band,
                "drivers": _drivers(health, "Weekly usage down 35% vs baseline"),
                "stage": stage,
                "stage_reason": f"Stage {stage}: contract and usage say so",
                "tier": "high-touch" if arr >= 60_000 else "pooled",
                "priority": priority,
                "reasons": json.dumps(reasons),
                "trend": trend,
                "opportunity": opportunity,
            }
        )
        for w in range(8):
            week = (TODAY - timedelta(days=TODAY.weekday(), weeks=8 - w)).isoformat()
            db["usage_weekly"].insert(
                {
                    "account_id": aid,
                    "week": week,
                    "event": "login",
                    "count": 100 + w * (5 if trend >= 0 else -10),
                    "users": 5,
                }
            )
            db["score_history"].insert(
                {"account_id": aid, "week": week, "health": max(0, health - trend + w * trend // 8)}
            )
        db["contacts"].insert(
            {
                "id": f"c{aid}",
                "account_id": aid,
                "first_name": "Jane",
                "last_name": f"Doe{aid}",
                "email": f"jane@{domain}",
                "title": "VP Ops",
                "role": "champion",
                "unsubscribed": 0,
                "bounced": 0,
                "last_active": "2026-11-09T10:00:00+00:00",
                "archived": 0,
            }
        )
    db["touches"].insert(
        {
            "id": "crm:note:1",
            "account_id": "104",
            "contact_id": "c104",
            "kind": "call",
            "occurred_at": "2026-11-20T15:00:00+00:00",
            "summary": "Discussed the kubernetes migration plan\x1b[2J",
            "sentiment": "positive",
            "remote_id": "1",
            "origin": "crm",
            "created_at": "2026-11-20T15:05:00+00:00",
        }
    )
    db["touches"].insert(
        {
            "id": "crm:note:2",
            "account_id": "101",
            "contact_id": "c101",
            "kind": "email",
            "occurred_at": "2026-10-23T09:00:00+00:00",
            "summary": "Sent the renewal quote",
            "sentiment": None,
            "remote_id": "2",
            "origin": "crm",
            "created_at": "2026-10-23T09:00:00+00:00",
        }
    )
    db["next_steps"].insert(
        {
            "id": "ns1",
            "account_id": "101",
            "title": "Call about renewal terms",
            "due_date": "2026-11-20",
            "done": 0,
            "origin": "crm",
            "created_at": "2026-11-01T00:00:00+00:00",
        }
    )
    db["tickets"].insert(
        {
            "id": "t1",
            "account_id": "101",
            "subject": "Exports time out [urgent]",
            "status": "open",
            "priority": "HIGH",
            "escalated": 1,
            "created_at": "2026-11-10T00:00:00+00:00",
            "archived": 0,
        }
    )
    db["survey_responses"].insert(
        {
            "id": "s1",
            "account_id": "101",
            "contact_id": "c101",
            "kind": "nps",
            "score": 6,
            "comment": "Slow exports",
            "submitted_at": "2026-10-01T00:00:00+00:00",
            "archived": 0,
        }
    )
    synced = (NOW - timedelta(minutes=synced_minutes_ago)).isoformat(timespec="microseconds")
    for source, obj in (("crm", "companies"), ("crm", "contacts"), ("sync", "run")):
        db["sync_state"].insert(
            {
                "source": source,
                "object": obj,
                "cursor": None,
                "sync_started_at": synced,
                "last_success": synced,
                "last_error": None,
                "stats": "{}",
            }
        )


def make_app(settings: Settings, **kwargs: object) -> CsmApp:
    """The app on the test cache, at a fixed day and clock, never syncing by itself."""
    app = CsmApp(settings, today=TODAY, clock=lambda: NOW, auto_sync=False, **kwargs)
    app.detail_debounce = 0  # tests wait for workers, not for timers
    app.filter_debounce = 0
    return app


_CHARACTERS = {"enter": "\r", "slash": "/", "space": " "}


def burst(app: App[Any], *keys: str) -> None:
    """Queue ``keys`` all at once, as one read from the terminal brings them (a paste, a text
    expander, a fast typist): none is handled before the next arrives."""
    for key in keys:
        app.post_message(events.Key(key, _CHARACTERS.get(key, key if len(key) == 1 else None)))


async def settle(pilot: Pilot) -> None:
    """Let workers finish and their messages be handled (any app under a Pilot)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def names(app: CsmApp) -> list[str]:
    """The attention list's account names, in their order."""
    return [row.name for row in app.main.attention.rows]
