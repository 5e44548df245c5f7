"""Pull product analytics (PostHog) into the cache: weekly usage per account and event, and
per-user activity; then each contact's last activity by email.

The first pull (or --full) takes analytics.weeks; later ones re-pull the last
analytics.repull_weeks weeks (late events land there) and upsert by (account, week, event).
All pages of a query are read before anything is written, then written in one transaction with
the cursor, so a failed page leaves the cache as it was. Groups that match no account are
counted and reported, never dropped silently.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlite_utils

from csm_tui.sources.posthog import PostHog
from csm_tui.store.transaction import transaction
from csm_tui.sync import mapping
from csm_tui.sync.progress import ProgressCallback, SyncProgress, SyncReport
from csm_tui.sync.pull_crm import read_cursor, write_state

SOURCE = "analytics"


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


def refresh_last_active(db: sqlite_utils.Database) -> None:
    """contacts.last_active = the latest analytics activity of the contact's email."""
    latest = dict(
        db.execute(
            "SELECT lower(email), MAX(last_seen) FROM user_activity WHERE email IS NOT NULL "
            "GROUP BY lower(email)"
        ).fetchall()
    )
    changes = [
        (latest.get((email or "").lower()), contact_id)
        for contact_id, email, current in db.execute(
            "SELECT id, email, last_active FROM contacts"
        ).fetchall()
        if latest.get((email or "").lower()) != current
    ]
    with transaction(db):
        db.conn.executemany("UPDATE contacts SET last_active = ? WHERE id = ?", changes)


class AnalyticsPull:
    """One pull of the analytics source into one cache."""

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

    async def run(self) -> None:
        """Weekly usage, then user activity, then contacts' last activity."""
        self.current = "usage_weekly"
        await self.pull_usage()
        self.current = "user_activity"
        await self.pull_users()
        refresh_last_active(self.db)

    async def pull_usage(self) -> None:
        """Weekly usage per (account, week, event)."""
        self.progress(SyncProgress("analytics", "usage_weekly", 0, None))
        cursor = None if self.full else read_cursor(self.db, SOURCE, "usage_weekly")
        full = cursor is None
        weeks = self.a.weeks if full else self.a.repull_weeks
        since = week_of(self.today) - timedelta(weeks=weeks)
        rows: list[dict[str, Any]] = []
        unmatched: set[str] = set()
        index = group_index(self.db, self.a.group_key)
        fetched = 0
        async for page in self.ph.weekly_usage(self.a.group_index, weeks):
            fetched += len(page)
            for r in page:
                group = _group(r["account"], self.a.group_key)
                account = index.get(group or "")
                if account is None:
                    unmatched.add(str(r["account"]))
                    continue
                week = mapping.day(r["week"])
                if week is None:
                    continue
                rows.append(
                    {
                        "account_id": account,
                        "week": week,
                        "event": str(r["event"]),
                        "count": mapping.whole(r["events"]) or 0,
                        "users": mapping.whole(r["users"]) or 0,
                    }
                )
            self.progress(SyncProgress("analytics", "usage_weekly", fetched, None))
        merged: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in rows:  # two groups can map to one account (www. and bare domain)
            key = (row["account_id"], row["week"], row["event"])
            if key in merged:
                merged[key]["count"] += row["count"]
                merged[key]["users"] += row["users"]
            else:
                merged[key] = row
        with transaction(self.db):
            if full:
                self.db.execute("DELETE FROM usage_weekly")
            else:
                # The re-pulled weeks are replaced whole: a late correction can remove a row.
                self.db.execute("DELETE FROM usage_weekly WHERE week >= ?", [since.isoformat()])
            if merged:
                # Plain executemany (sqlite-utils' upsert_all costs several times more per row):
                # the rows are unique by key and their weeks were just deleted.
                self.db.conn.executemany(
                    "INSERT OR REPLACE INTO usage_weekly (account_id, week, event, count, users) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (r["account_id"], r["week"], r["event"], r["count"], r["users"])
                        for r in merged.values()
                    ],
                )
            write_state(
                self.db,
                SOURCE,
                "usage_weekly",
                cursor=since.isoformat(),
                started=self.started,
                stats={
                    "rows": len(merged),
                    "weeks": weeks,
                    "unmatched_groups": len(unmatched),
                    "unmatched_examples": sorted(unmatched)[:5],
                },
            )
        self.report.add_pulled("usage_weekly", len(merged))
        self.report.unmatched_groups = max(self.report.unmatched_groups, len(unmatched))
        if unmatched:
            self.report.warnings.append(
                f"{len(unmatched)} analytics groups are not accounts of this book (matched "
                f"by {self.a.group_key}; other owners' accounts or unknown), "
                f"e.g. {sorted(unmatched)[0]}"
            )
        self.progress(SyncProgress("analytics", "usage_weekly", fetched, fetched, "done"))

    async def pull_users(self) -> None:
        """Per-user activity (replaced whole: one small row per user)."""
        self.progress(SyncProgress("analytics", "user_activity", 0, None))
        index = group_index(self.db, self.a.group_key)
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        unmatched: set[str] = set()
        fetched = 0
        async for page in self.ph.user_activity(self.a.group_index, self.a.weeks):
            fetched += len(page)
            for r in page:
                account = index.get(_group(r["account"], self.a.group_key) or "")
                if account is None:
                    unmatched.add(str(r["account"]))
                    continue
                email = str(r.get("email") or "").strip().lower() or None
                key = (account, str(r["user"]))
                rows[key] = {
                    "account_id": account,
                    "user_key": str(r["user"]),
                    "email": email,
                    "last_seen": mapping.instant(r.get("last_seen")),
                    "events_30d": mapping.whole(r.get("events_30d")) or 0,
                }
            self.progress(SyncProgress("analytics", "user_activity", fetched, None))
        with transaction(self.db):
            self.db.execute("DELETE FROM user_activity")
            if rows:
                self.db.conn.executemany(
                    "INSERT OR REPLACE INTO user_activity (account_id, user_key, email, "
                    "last_seen, events_30d) VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            r["account_id"],
                            r["user_key"],
                            r["email"],
                            r["last_seen"],
                            r["events_30d"],
                        )
                        for r in rows.values()
                    ],
                )
            write_state(
                self.db,
                SOURCE,
                "user_activity",
                cursor=week_of(self.today).isoformat(),
                started=self.started,
                stats={"rows": len(rows), "unmatched_groups": len(unmatched)},
            )
        self.report.add_pulled("user_activity", len(rows))
        self.progress(SyncProgress("analytics", "user_activity", fetched, fetched, "done"))
