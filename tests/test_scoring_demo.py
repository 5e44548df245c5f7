"""On the demo book: the accounts the generator put at risk lead the list, each saying why.

The demo portfolio gives every account a story; the scores never see it. Churned accounts are
Win-back: not daily attention (priority 0, listed last), so they are not expected on top.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlite_utils
from support.demo_book import demo_env, sync_demo

from csm_tui.config import Settings
from csm_tui.store.actions import log_touch
from csm_tui.store.attention import AttentionRow, attention_list
from csm_tui.store.db import open_cache
from csm_tui.store.rescore import rescore

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
AT_RISK = {"sudden_drop", "renewal_at_risk", "slow_decline", "champion_quiet"}
# Chips that name a cause (the others say how urgent: health, renewal, neglect, overdue step).
CAUSES = (
    "Escalation open",  # an open escalation is always said (and is the support driver's cause)
    "escalations",
    "Usage ",
    "Low use per seat",
    "No product use",
    "NPS ",
    "CSAT ",
    "Admin ",
    "Champion ",
    "power users quiet",
    "features",
    "escalated",
    "ticket",
    "Negative last touch",
)


class DemoBook:
    """The synced demo workspace and the stories behind it."""

    def __init__(self, settings: Settings, stories: dict[str, str]) -> None:
        self.settings = settings
        self.stories = stories


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoBook]:
    with demo_env(tmp_path_factory.mktemp("demo")) as data_dir:
        settings, apis = sync_demo(data_dir, now=NOW)
        yield DemoBook(settings, dict(apis.portfolio.stories))


def ranked(book: DemoBook) -> list[AttentionRow]:
    db = open_cache(book.settings.cache_path, create=False)
    try:
        return attention_list(db, book.settings, TODAY)
    finally:
        db.conn.close()


def test_the_top_10_are_accounts_at_risk_and_say_why(demo_book: DemoBook) -> None:
    rows = ranked(demo_book)
    top = rows[:10]
    assert [demo_book.stories[r.account_id] for r in top if r.account_id] and all(
        demo_book.stories[r.account_id] in AT_RISK for r in top
    ), [(r.name, demo_book.stories[r.account_id], r.reasons) for r in top]
    for r in top:
        assert r.band in ("red", "yellow")
        assert any(chip.startswith(CAUSES) or chip.endswith(CAUSES) for chip in r.reasons), (
            r.name,
            r.reasons,
        )
        worst = min(r.drivers, key=lambda d: d["points"] - d["max"])
        assert worst["reason"] and worst["points"] < worst["max"]


def test_healthy_accounts_stay_out_of_the_top_30(demo_book: DemoBook) -> None:
    rows = ranked(demo_book)
    assert not [r.name for r in rows[:30] if demo_book.stories[r.account_id] == "healthy"]


def test_expansion_ready_accounts_are_flagged_as_opportunities(demo_book: DemoBook) -> None:
    rows = ranked(demo_book)
    ready = [r for r in rows if demo_book.stories[r.account_id] == "expansion_ready"]
    assert ready and all(r.opportunity for r in ready), [
        (r.name, r.health, r.stage, r.stage_reason) for r in ready if not r.opportunity
    ]
    assert all("Expansion-ready" in r.reasons for r in ready)
    flagged = [r for r in rows if r.opportunity]
    # Nearly every flag is an account the generator made ready to grow (a healthy one with
    # its seats full may join them); none is at risk, onboarding or churned.
    assert all(demo_book.stories[r.account_id] in ("expansion_ready", "healthy") for r in flagged)


def test_churned_accounts_are_win_back_at_the_bottom(demo_book: DemoBook) -> None:
    rows = ranked(demo_book)
    churned = [r for r in rows if demo_book.stories[r.account_id] == "churned"]
    assert churned
    assert all(r.stage == "Win-back" and r.priority == 0 for r in churned)
    assert min(rows.index(r) for r in churned) > len(rows) - len(churned) - 5


def test_a_new_touch_changes_only_that_accounts_relationship_points(
    demo_book: DemoBook, tmp_path: Path
) -> None:
    settings = demo_book.settings.model_copy(update={"data_dir": tmp_path / "copy"})
    settings.cache_path.parent.mkdir(parents=True)
    shutil.copy(demo_book.settings.cache_path, settings.cache_path)
    db: sqlite_utils.Database = open_cache(settings.cache_path)
    try:
        before = {r["account_id"]: r for r in db.query("SELECT * FROM scores")}
        # An account nobody has touched for two cadences, no step overdue, every component
        # with data: its shares are whole numbers, so its other drivers cannot move by rounding.
        candidates = [
            acc
            for acc, row in sorted(before.items())
            if all(d["max"] > 0 for d in json.loads(row["drivers"]))
            and {d["component"]: d for d in json.loads(row["drivers"])}["relationship"]["points"]
            == 0
            and "overdue" not in row["reasons"]
            and row["stage"] != "Win-back"
        ]
        assert candidates
        chosen = candidates[0]
        log_touch(
            db,
            account_id=chosen,
            kind="call",
            summary="Caught up on the roadmap",
            occurred_at=f"{TODAY.isoformat()}T09:30:00.000000+00:00",
        )
        rescore(db, settings, TODAY, account_ids=[chosen])
        after = {r["account_id"]: r for r in db.query("SELECT * FROM scores")}
    finally:
        db.conn.close()

    assert {k: v for k, v in after.items() if k != chosen} == {
        k: v for k, v in before.items() if k != chosen
    }
    old = {d["component"]: d for d in json.loads(before[chosen]["drivers"])}
    new = {d["component"]: d for d in json.loads(after[chosen]["drivers"])}
    assert new["relationship"]["points"] == new["relationship"]["max"] > 0
    assert {k: v for k, v in new.items() if k != "relationship"} == {
        k: v for k, v in old.items() if k != "relationship"
    }
    assert after[chosen]["health"] == before[chosen]["health"] + new["relationship"]["max"]
