"""A small hand-made cache builder: accounts and their activity inserted as the sync would, dated
from ``TODAY`` (or the builder's own ``today``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from csm_tui.domain.models import week_start

TODAY = date(2026, 11, 23)  # a Monday
DEFAULT_EVENTS = {"login": 40, "report_created": 4, "export_run": 3, "project_created": 1}


@dataclass
class CacheBuilder:
    """Insert accounts and their activity as the sync would, in a few lines per story."""

    db: sqlite_utils.Database
    today: date = TODAY
    n: int = field(default=0)

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def owner(self, owner_id: str = "o1", email: str = "csm@example.com") -> str:
        self.db["owners"].upsert({"id": owner_id, "email": email, "archived": 0}, pk="id")
        return owner_id

    def account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        arr: float = 20_000,
        seats: int | None = 20,
        started_days_ago: int = 400,
        renews_in_days: int | None = 200,
        owner_id: str = "o1",
        **extra: Any,
    ) -> str:
        self.owner(owner_id)
        row = {
            "id": account_id,
            "name": name or f"Account {account_id}",
            "domain": f"{account_id}.example.com",
            "owner_id": owner_id,
            "arr": arr,
            "seats": seats,
            "contract_start": (self.today - timedelta(days=started_days_ago)).isoformat(),
            "renewal_date": None
            if renews_in_days is None
            else (self.today + timedelta(days=renews_in_days)).isoformat(),
            "archived": 0,
        }
        row.update(extra)
        self.db["accounts"].insert(row)
        return account_id

    def usage(
        self,
        account_id: str,
        *,
        weeks: range = range(1, 21),
        events: dict[str, int] | None = None,
        users: int = 10,
        scale: dict[int, float] | None = None,
    ) -> None:
        """Weekly usage ``weeks`` weeks ago (1 = last complete week); ``scale`` per week."""
        rows = []
        for ago in weeks:
            week = week_start(self.today) - timedelta(weeks=ago)
            factor = (scale or {}).get(ago, 1.0)
            for event, count in (events or DEFAULT_EVENTS).items():
                n = round(count * factor)
                if n > 0:
                    rows.append(
                        {
                            "account_id": account_id,
                            "week": week.isoformat(),
                            "event": event,
                            "count": n,
                            "users": max(1, min(users, n)),
                        }
                    )
        self.db["usage_weekly"].upsert_all(rows, pk=("account_id", "week", "event"))

    def contact(
        self, account_id: str, email: str, role: str = "admin", active_days_ago: int | None = 1
    ) -> str:
        contact_id = self._id("c")
        last = (
            None
            if active_days_ago is None
            else (self.today - timedelta(days=active_days_ago)).isoformat() + "T10:00:00+00:00"
        )
        self.db["contacts"].insert(
            {
                "id": contact_id,
                "account_id": account_id,
                "email": email,
                "role": role,
                "last_active": last,
                "archived": 0,
            }
        )
        return contact_id

    def product_user(
        self, account_id: str, email: str, events_30d: int, seen_days_ago: int
    ) -> None:
        self.db["user_activity"].insert(
            {
                "account_id": account_id,
                "user_key": email,
                "email": email,
                "last_seen": (self.today - timedelta(days=seen_days_ago)).isoformat()
                + "T09:00:00+00:00",
                "events_30d": events_30d,
            }
        )

    def touch(
        self, account_id: str, days_ago: int, sentiment: str | None = None, kind: str = "call"
    ) -> str:
        touch_id = self._id("t")
        when = (self.today - timedelta(days=days_ago)).isoformat() + "T15:00:00+00:00"
        self.db["touches"].insert(
            {
                "id": touch_id,
                "account_id": account_id,
                "kind": kind,
                "occurred_at": when,
                "summary": "",
                "sentiment": sentiment,
                "origin": "crm",
                "created_at": when,
            }
        )
        return touch_id

    def step(self, account_id: str, title: str, due_days_ago: int) -> None:
        self.db["next_steps"].insert(
            {
                "id": self._id("s"),
                "account_id": account_id,
                "title": title,
                "due_date": (self.today - timedelta(days=due_days_ago)).isoformat(),
                "done": 0,
                "origin": "local",
                "created_at": (self.today - timedelta(days=due_days_ago + 7)).isoformat(),
            }
        )

    def ticket(
        self,
        account_id: str,
        *,
        opened_days_ago: int,
        closed_days_ago: int | None = None,
        escalated: bool = False,
        priority: str = "MEDIUM",
        csat: int | None = None,
    ) -> None:
        closed = (
            None
            if closed_days_ago is None
            else (self.today - timedelta(days=closed_days_ago)).isoformat() + "T12:00:00+00:00"
        )
        self.db["tickets"].insert(
            {
                "id": self._id("k"),
                "account_id": account_id,
                "subject": "Export fails",
                "status": "open" if closed is None else "closed",
                "priority": priority,
                "escalated": int(escalated),
                "created_at": (self.today - timedelta(days=opened_days_ago)).isoformat()
                + "T08:00:00+00:00",
                "closed_at": closed,
                "csat": csat,
                "archived": 0,
            }
        )

    def survey(self, account_id: str, score: int, days_ago: int, kind: str = "nps") -> None:
        self.db["survey_responses"].insert(
            {
                "id": self._id("v"),
                "account_id": account_id,
                "kind": kind,
                "score": score,
                "submitted_at": (self.today - timedelta(days=days_ago)).isoformat()
                + "T08:00:00+00:00",
                "archived": 0,
            }
        )

    def healthy(self, account_id: str, **account: Any) -> str:
        """A steady, well-used, recently touched account with a promoter NPS."""
        self.account(account_id, **account)
        self.usage(
            account_id,
            events={
                "login": 60,
                "report_created": 6,
                "dashboard_shared": 3,
                "export_run": 4,
                "integration_connected": 1,
                "automation_created": 2,
                "project_created": 2,
            },
        )
        self.contact(account_id, f"admin@{account_id}.example.com", "admin", 2)
        self.touch(account_id, 5, "positive")
        self.survey(account_id, 9, 20)
        return account_id
