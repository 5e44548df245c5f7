"""The modal flows' host app (pushes one screen, keeps what it dismisses), their fixed day and
clock, and the hand-made books of the enroll preview and the portfolio screen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import sqlite_utils
from textual.app import App
from textual.screen import Screen

from csm_tui.ui.themes import VARIABLE_DEFAULTS, load_theme_file, shipped_themes_dir

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
CONTACTS = [("c1", "Jane Doe · admin"), ("c2", "Bob Stone · champion")]


class Host(App[None]):
    """Pushes one screen and keeps what it dismisses."""

    def __init__(self, make: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make = make
        self.results: list[Any] = []
        themes = shipped_themes_dir()
        if themes is not None:
            self.register_theme(load_theme_file(themes / "csm-dark.toml"))
            self.theme = "csm-dark"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self.push_screen(self.make(), self.results.append)


def build_book(db: sqlite_utils.Database) -> None:
    """Three accounts whose contacts meet every exclusion rule once."""
    db["owners"].insert_all(
        [
            {"id": "o1", "email": "csm@us.test", "user_id": "u1"},
            {"id": "o2", "email": "lead@us.test", "user_id": "u2"},
        ]
    )
    db["accounts"].insert_all(
        [
            {"id": "a1", "name": "Acme", "owner_id": "o1"},
            {"id": "a2", "name": "Globex", "owner_id": "o2"},
            {"id": "a3", "name": "Initech", "owner_id": "o1", "churned_on": "2026-10-01"},
        ]
    )
    people = [
        ("c1", "a1", "Jane", "Doe", "jane@acme.test", "admin", 0, 0),
        ("c2", "a1", "Bob", "Stone", "bob@acme.test", "admin", 1, 0),
        ("c3", "a1", "Carl", "Reed", "carl@acme.test", "champion", 0, 1),
        ("c4", "a1", "Dan", "Fox", None, "admin", 0, 0),
        ("c5", "a1", "Eve", "Hart", "eve@acme.test", "admin", 0, 0),
        ("c6", "a1", "Fay", "Lund", "fay@acme.test", "admin", 0, 0),
        ("c7", "a2", "Gil", "Moss", "gil@globex.test", "admin", 0, 0),
        ("c8", "a2", "Hal", "Nye", "hal@globex.test", "champion", 0, 0),
        ("c9", "a3", "Ian", "Orr", "ian@initech.test", "admin", 0, 0),
    ]
    db["contacts"].insert_all(
        {
            "id": i,
            "account_id": a,
            "first_name": f,
            "last_name": last,
            "email": e,
            "role": r,
            "unsubscribed": u,
            "bounced": b,
        }
        for i, a, f, last, e, r, u, b in people
    )
    db["sequences"].insert_all(
        [
            {"id": "s1", "name": "Renewal nurture", "steps": 4},
            {"id": "s2", "name": "Webinar invite", "steps": 2},
        ]
    )
    db["enrollments"].insert_all(
        [
            {"id": "e1", "contact_id": "c5", "sequence_id": "s2", "state": "active",
             "enrolled_at": "2026-11-01T09:00:00+00:00", "origin": "crm"},
            {"id": "e2", "contact_id": "c6", "sequence_id": "s2", "state": "finished",
             "enrolled_at": "2026-11-13T09:00:00+00:00", "origin": "crm"},
            {"id": "e3", "contact_id": "c7", "sequence_id": "s2", "state": "finished",
             "enrolled_at": "2026-09-01T09:00:00+00:00", "origin": "crm"},
        ]
    )  # fmt: skip


def build_portfolio(db: sqlite_utils.Database) -> None:
    """Eight customers started over two years; two churned, one contracted, one expanded."""
    accounts = [
        # id, name, contract start, churned on, ARR history [(day, arr)], health
        ("p1", "Acme", "2025-01-15", None, [("2025-01-15", 50000)], 82),
        ("p2", "Globex", "2025-01-20", "2026-01-20", [("2025-01-20", 30000)], None),
        ("p3", "Initech", "2025-04-01", None,
         [("2025-04-01", 20000), ("2026-10-01", 28000)], 64),
        ("p4", "Umbrella", "2025-07-10", None,
         [("2025-07-10", 40000), ("2026-09-15", 32000)], 35),
        ("p5", "Hooli", "2025-10-05", "2026-10-10", [("2025-10-05", 12000)], None),
        ("p6", "Vandelay", "2026-02-01", None, [("2026-02-01", 9000)], 71),
        ("p7", "Stark", "2026-05-12", None, [("2026-05-12", 60000)], 90),
        ("p8", "Wayne", "2026-08-03", None, [("2026-08-03", 25000)], 22),
    ]  # fmt: skip
    for account_id, name, start, churned, history, health in accounts:
        db["accounts"].insert(
            {
                "id": account_id,
                "name": name,
                "contract_start": start,
                "churned_on": churned,
                "arr": history[-1][1],
                "renewal_date": "2027-01-10" if account_id != "p8" else "2026-12-20",
            }
        )
        db["arr_history"].insert_all(
            {"account_id": account_id, "date": day, "arr": arr} for day, arr in history
        )
        if health is not None:
            db["scores"].insert(
                {"account_id": account_id, "computed_at": "2026-11-23T07:00:00+00:00",
                 "health": health}
            )  # fmt: skip
    answers = [("nps", 10), ("nps", 9), ("nps", 6), ("nps", 8), ("csat", 5), ("csat", 3)]
    db["survey_responses"].insert_all(
        {"id": f"r{n}", "account_id": "p1", "kind": kind, "score": score,
         "submitted_at": "2026-11-01T10:00:00+00:00"}
        for n, (kind, score) in enumerate(answers)
    )  # fmt: skip
