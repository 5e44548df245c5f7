"""Issue #6 (B2): a whole analytics pull downloaded, mapped and staged by a second process over
the network (sync/analytics_helper.py), and staged tables copied into the cache while the CRM
pull goes on (sync/write_turns.py). The cache must be what the in-process sync makes, a failure
must be the sync's one clear line with nothing half-written, and nothing may be left behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_sync_crm import TODAY, Clock, table_rows
from test_sync_engine import ALL_TABLES, SMALL_PAGES, state

from csm_tui.config import Settings, load_settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis, FakeServer
from csm_tui.store.db import open_cache
from csm_tui.sync import analytics_helper, page_staging
from csm_tui.sync.engine import SyncError, sync_blocking
from csm_tui.sync.progress import SyncReport
from csm_tui.sync.write_turns import WriteTurns


@pytest.fixture
def portfolio() -> Portfolio:
    return generate_portfolio(12, 9, today=TODAY)


@pytest.fixture
def served(apis: FakeApis) -> Iterator[FakeServer]:
    server = apis.serve(port=0)
    with server:
        yield server


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> list[analytics_helper.AnalyticsHelper]:
    """Every helper process a sync started."""
    started: list[analytics_helper.AnalyticsHelper] = []
    real = analytics_helper.AnalyticsHelper.start.__func__  # type: ignore[attr-defined]

    def start(cls: Any, job: Any, progress: Any) -> Any:
        helper = real(cls, job, progress)
        if helper is not None:
            started.append(helper)
        return helper

    monkeypatch.setattr(analytics_helper.AnalyticsHelper, "start", classmethod(start))
    return started


def settings_for(portfolio: Portfolio, url: str, workspace: str) -> Settings:
    return load_settings(
        workspace=workspace,
        crm={"base_url": url, "token": "demo-hubspot-token", "owner_email": portfolio.demo_owner_email},
        analytics={"base_url": url, "token": "demo-posthog-token", "project_id": "1"},
    )  # fmt: skip


def sync(settings: Settings, clock: Clock, apis: FakeApis | None = None, **kw: Any) -> SyncReport:
    """Over loopback, or in-process through ``apis``' transport."""
    transport = apis.transport() if apis is not None else None
    return sync_blocking(
        settings, transport=transport, clock=clock, today=TODAY, policy=SMALL_PAGES, **kw
    )


def last_active(settings: Settings) -> dict[str, str | None]:
    db = open_cache(settings.cache_path, create=False)
    try:
        return dict(db.execute("SELECT id, last_active FROM contacts").fetchall())
    finally:
        db.conn.close()


def left_behind(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.cache_path.parent.glob("*staging*"))


def test_a_whole_pull_through_the_helper_makes_the_cache_the_in_process_sync_makes(
    portfolio: Portfolio,
    apis: FakeApis,
    clock: Clock,
    served: FakeServer,
    helpers: list[Any],
) -> None:
    alone = settings_for(portfolio, "http://127.0.0.1:9", "alone")
    sync(alone, clock, apis)
    assert not helpers, "an in-process transport never starts a helper"
    helped = settings_for(portfolio, served.url, "helped")
    report = sync(helped, clock)
    assert len(helpers) == 1, "the whole pull went to a helper process"
    assert helpers[0].process.poll() is not None, "and it has ended"
    assert report.requests > 0 and helpers[0].requests > 0, "its requests are counted"
    assert table_rows(helped, ALL_TABLES) == table_rows(alone, ALL_TABLES)
    assert last_active(helped) == last_active(alone)
    assert any(last_active(helped).values()), "contacts got their last activity"
    assert left_behind(helped) == []
    # A later sync re-pulls the last weeks in-process (small): no helper.
    clock.advance(hours=1)
    sync(helped, clock)
    assert len(helpers) == 1


def test_a_failure_in_the_helper_is_one_line_and_the_cache_keeps_its_rows(
    portfolio: Portfolio, apis: FakeApis, clock: Clock, served: FakeServer, helpers: list[Any]
) -> None:
    settings = settings_for(portfolio, served.url, "default")
    sync(settings, clock)
    before, rows = state(settings), table_rows(settings, ALL_TABLES)
    clock.advance(hours=1)
    apis.faults.add(path=r"/api/projects/1/query", status=502, times=1000)
    with pytest.raises(SyncError) as info:
        sync(settings, clock, full=True)
    message = str(info.value)
    assert "\n" not in message and message.startswith("Analytics")
    assert "demo-posthog-token" not in message
    assert len(helpers) == 2, "the full sync's pull was the helper's"
    assert state(settings) == before, "no cursor moved"
    usage = ("usage_weekly", "user_activity")
    assert table_rows(settings, usage) == {t: rows[t] for t in usage}
    assert left_behind(settings) == []
    db = open_cache(settings.cache_path, create=False)
    try:
        errors = [r["last_error"] for r in db["sync_state"].rows if r["last_error"]]
    finally:
        db.conn.close()
    assert errors == [message], "recorded where doctor shows it"
    apis.faults.clear()
    sync(settings, clock, full=True)
    assert table_rows(settings, ALL_TABLES) == rows


def test_a_helper_that_dies_fails_the_sync_cleanly(
    portfolio: Portfolio,
    apis: FakeApis,
    clock: Clock,
    served: FakeServer,
    helpers: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(portfolio, served.url, "default")
    real_book = analytics_helper.AnalyticsHelper.book

    def killed_first(self: Any, index: dict[str, str]) -> None:
        self.process.kill()
        self.process.wait()
        real_book(self, index)

    monkeypatch.setattr(analytics_helper.AnalyticsHelper, "book", killed_first)
    with pytest.raises(SyncError) as info:
        sync(settings, clock)
    assert str(info.value) == (
        "Analytics: the download helper failed (it stopped before it was done; run the sync again)"
    )
    db = open_cache(settings.cache_path, create=False)
    try:
        assert db.execute("SELECT COUNT(*) FROM usage_weekly").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] > 0, "the CRM landed"
    finally:
        db.conn.close()
    assert left_behind(settings) == []
    monkeypatch.setattr(analytics_helper.AnalyticsHelper, "book", real_book)
    sync(settings, clock)  # the next sync pulls it whole again
    assert table_rows(settings, ("usage_weekly",))["usage_weekly"]


def test_with_no_helper_the_whole_pull_runs_in_process(
    portfolio: Portfolio,
    apis: FakeApis,
    clock: Clock,
    served: FakeServer,
    helpers: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alone = settings_for(portfolio, "http://127.0.0.1:9", "alone")
    sync(alone, clock, apis)
    monkeypatch.setattr(analytics_helper, "start_helper", lambda module: None)  # one core
    settings = settings_for(portfolio, served.url, "default")
    sync(settings, clock)
    assert not helpers
    assert table_rows(settings, ALL_TABLES) == table_rows(alone, ALL_TABLES)


def test_a_slow_copy_lets_the_crm_pull_go_on_and_everything_lands_in_order(
    portfolio: Portfolio, apis: FakeApis, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = settings_for(portfolio, "http://127.0.0.1:9", "clean")
    sync(clean, clock, apis)
    copies: list[str] = []
    real = page_staging.PageStaging._replace

    def slow(self: page_staging.PageStaging, then: Any) -> int:
        copies.append(self.table)
        time.sleep(0.3)  # the CRM pull maps on meanwhile; its rows wait
        return real(self, then)

    monkeypatch.setattr(page_staging.PageStaging, "_replace", slow)
    settings = settings_for(portfolio, "http://127.0.0.1:9", "default")
    sync(settings, clock, apis)
    assert sorted(copies) == ["usage_weekly", "user_activity"]
    assert table_rows(settings, ALL_TABLES) == table_rows(clean, ALL_TABLES)
    assert state(settings).keys() == state(clean).keys()
    assert last_active(settings) == last_active(clean)


def test_write_turns_start_one_copy_at_a_time_at_quiet_points() -> None:
    async def go() -> list[str]:
        turns = WriteTurns()
        log: list[str] = []
        gate = asyncio.Event()

        def copy(name: str) -> asyncio.Future[Any]:
            async def run() -> None:
                log.append(f"{name} starts")
                await gate.wait()
                log.append(f"{name} ends")

            return asyncio.ensure_future(run())

        turns.want("usage", lambda: copy("usage"))
        turns.want("users", lambda: copy("users"))
        assert turns.wanted() and not turns.busy()
        turns.quiet()
        await asyncio.sleep(0)
        assert turns.busy()
        turns.quiet()  # one at a time
        await asyncio.sleep(0)
        assert log == ["usage starts"]
        assert turns.claim("users") and not turns.claim("users"), "taken back once"
        gate.set()
        await turns.settle()
        assert not turns.busy() and not turns.wanted()
        return log

    assert asyncio.run(go()) == ["usage starts", "usage ends"]
