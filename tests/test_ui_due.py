"""Closing the day in the app: the due queue (d), links into HubSpot (o), CSV exports (x), on
the demo book served by the in-process fakes, at a fixed day and clock."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.apps import burst, make_app, names, settle
from support.clocks import Clock

from csm_tui.commands import demo
from csm_tui.config import Settings
from csm_tui.store import crm_links
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking
from csm_tui.ui.app import CsmApp
from csm_tui.ui.crm_link import can_open_browser
from csm_tui.ui.messages import ScreenActionRequested
from csm_tui.ui.screens.account import AccountScreen
from csm_tui.ui.screens.due import DUE_VIEW_HEADERS, DueScreen
from csm_tui.ui.screens.main import MainScreen
from csm_tui.ui.widgets.list_export import LIST_VIEW_HEADERS

TODAY = date(2026, 11, 16)


class Opened(CsmApp):
    """The app, keeping the addresses it asked the system to open (no browser in a test)."""

    opened: list[str]

    def open_url(self, url: str, *, new_tab: bool = True) -> None:
        self.opened = [*getattr(self, "opened", []), url]


@pytest.fixture
def world(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    clock = Clock(datetime(2026, 11, 16, 7, 0, tzinfo=UTC))
    apis, _ = demo.build_demo(40, 5, TODAY, clock=clock)
    settings = demo.demo_settings(
        Settings(data_dir=isolated_env / "data"),
        apis.portfolio.demo_owner_email,
        apis.hubspot.token,
        apis.posthog.token,
    )
    clock.advance(minutes=10)
    sync_blocking(
        settings, transport=apis.transport(), clock=clock, today=TODAY, policy=demo.IN_PROCESS
    )
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(isolated_env / "downloads"))
    return settings, apis, clock


def app_on(world: Any, cls: type[CsmApp] = CsmApp) -> CsmApp:
    settings, apis, clock = world
    app = cls(
        settings,
        today=TODAY,
        clock=clock,
        auto_sync=False,
        transport_factory=apis.transport,
        sync_options={"policy": demo.IN_PROCESS, "clock": clock},
    )
    app.detail_debounce = 0
    return app


def step_row(settings: Settings, step_id: str) -> tuple[int, str, str]:
    db = open_cache(settings.cache_path, create=False)
    try:
        return tuple(
            db.execute(
                "SELECT done, due_date, title FROM next_steps WHERE id = ?", [step_id]
            ).fetchone()
        )
    finally:
        db.conn.close()


def outbox_items(settings: Settings) -> list[tuple[str, str, str]]:
    db = open_cache(settings.cache_path, create=False)
    try:
        return db.execute("SELECT kind, ref_id, state FROM outbox ORDER BY rowid").fetchall()
    finally:
        db.conn.close()


async def open_queue(pilot: Any) -> DueScreen:
    await settle(pilot)
    await pilot.press("d")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DueScreen)
    return screen


async def cursor_to_a_crm_task(pilot: Any, screen: DueScreen, settings: Settings) -> str:
    """Put the cursor on the first step that is a HubSpot task (it has a remote id)."""
    db = open_cache(settings.cache_path, create=False)
    tasks = {r[0] for r in db.execute("SELECT id FROM next_steps WHERE remote_id IS NOT NULL")}
    db.conn.close()
    index = next(i for i, s in enumerate(screen.steps) if s["step_id"] in tasks)
    await pilot.press(*["j"] * index)
    assert screen.current is not None
    return str(screen.current["step_id"])


def patches(apis: Any, task_id: str) -> list[dict[str, Any]]:
    return [
        json.loads(r.content)
        for r in apis.hubspot.requests
        if r.method == "PATCH" and r.url.path == f"/crm/v3/objects/tasks/{task_id}"
    ]


# -- the due queue --------------------------------------------------------------------------


async def test_complete_a_due_task_then_sync_completes_it_in_hubspot_once(world: Any) -> None:
    settings, apis, _ = world
    app = app_on(world)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        listed = len(screen.steps)
        assert listed > 0 and all(int(str(s["days_late"])) >= 0 for s in screen.steps)
        step = await cursor_to_a_crm_task(pilot, screen, settings)
        await pilot.press("c")
        await settle(pilot)
        assert step_row(settings, step)[0] == 1
        assert outbox_items(settings) == [("step_change", step, "pending")]
        assert step not in [s["step_id"] for s in screen.steps]  # it left the queue
        assert len(screen.steps) == listed - 1
        await pilot.press("r")  # sync from the queue
        await settle(pilot)
        await pilot.press("r")  # a second sync pushes nothing more
        await settle(pilot)
        assert isinstance(app.screen, DueScreen)
    db = open_cache(settings.cache_path, create=False)
    task = db.execute("SELECT remote_id FROM next_steps WHERE id = ?", [step]).fetchone()[0]
    db.conn.close()
    assert patches(apis, task) == [{"properties": {"hs_task_status": "COMPLETED"}}]
    assert apis.hubspot.record("tasks", task)["properties"]["hs_task_status"] == "COMPLETED"
    assert [state for _, _, state in outbox_items(settings)] == ["done"]


async def test_undo_before_the_sync_restores_the_step_and_leaves_no_item(world: Any) -> None:
    settings, apis, _ = world
    app = app_on(world)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        before = [s["step_id"] for s in screen.steps]
        step = await cursor_to_a_crm_task(pilot, screen, settings)
        await pilot.press("space")
        await settle(pilot)
        assert outbox_items(settings) == [("step_change", step, "pending")]
        await pilot.press("u")
        await settle(pilot)
        assert [s["step_id"] for s in screen.steps] == before  # back in the queue
        assert screen.current is not None and screen.current["step_id"] == step
    assert step_row(settings, step)[0] == 0
    assert outbox_items(settings) == []
    assert not [r for r in apis.hubspot.requests if r.method == "PATCH"]


async def test_reschedule_and_retitle_from_the_queue(world: Any) -> None:
    settings, _, _ = world
    app = app_on(world)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        step = await cursor_to_a_crm_task(pilot, screen, settings)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("ctrl+u", *"Send quote", "enter")
        await settle(pilot)
        assert step_row(settings, step)[2] == "Send quote"
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("x", "enter")  # refused: the field says why, nothing saved
        await settle(pilot)
        assert "not a date: 'x'" in str(app.screen.query_one("#hint").render())
        await pilot.press("ctrl+u", *"+3d", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DueScreen)
        assert step not in [s["step_id"] for s in screen.steps]  # no longer due
    assert step_row(settings, step)[1] == (TODAY + timedelta(days=3)).isoformat()
    assert [k for k, _, _ in outbox_items(settings)] == ["step_change", "step_change"]


async def test_enter_opens_the_account_and_escape_walks_back(world: Any) -> None:
    app = app_on(world)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot)
        account = screen.steps[0]["account_id"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen) and app.screen.account_id == account
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


async def test_keys_typed_right_behind_d_act_on_the_queue(world: Any) -> None:
    settings, _, _ = world
    app = app_on(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        first_account = app.main.attention.current
        burst(app, "d", "j", "c")  # one burst: before the queue is read
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DueScreen)
        assert app.main.attention.current == first_account  # j never moved the list
        [(kind, step, _)] = outbox_items(settings)
    assert kind == "step_change" and step_row(settings, step)[0] == 1


# -- exports --------------------------------------------------------------------------------


def exported(tmp: Path) -> list[list[str]]:
    [path] = sorted((tmp / "downloads").glob("*.csv"))
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


async def test_x_exports_the_due_queue_as_shown(world: Any, isolated_env: Path) -> None:
    app = app_on(world)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_queue(pilot)
        await pilot.press("x")
        await settle(pilot)
        shown = [(str(s["due_date"]), str(s["days_late"]), s["account"]) for s in screen.steps]
    rows = exported(isolated_env)
    assert tuple(rows[0]) == DUE_VIEW_HEADERS
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == shown


async def test_x_exports_the_list_as_filtered_with_numbers_as_numbers(
    world: Any, isolated_env: Path
) -> None:
    app = app_on(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        word = app.main.attention.rows[2].name.split()[0]
        await pilot.press("slash", *word, "enter")
        await settle(pilot)
        listed = names(app)
        await pilot.press("x")
        await settle(pilot)
        notice = [n.message for n in app._notifications]
    rows = exported(isolated_env)
    assert tuple(rows[0]) == LIST_VIEW_HEADERS
    assert [r[1] for r in rows[1:]] == listed and 0 < len(listed) < 40
    assert [r[0] for r in rows[1:]] == [str(n) for n in range(1, len(listed) + 1)]
    for row in rows[1:]:
        float(row[4])  # ARR, a number a spreadsheet sums
        assert row[2] == "" or row[2].isdigit()  # health
    assert any(str(isolated_env / "downloads") in n for n in notice)


async def test_the_palette_exports_the_queue_when_it_is_open_and_never_opens_two(
    world: Any, isolated_env: Path
) -> None:
    app = app_on(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot)
        app.post_message(ScreenActionRequested("due_queue"))
        app.post_message(ScreenActionRequested("export"))
        await settle(pilot)
        assert sum(isinstance(s, DueScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")  # the keys were not held behind the second request
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert tuple(exported(isolated_env)[0]) == DUE_VIEW_HEADERS


# -- links into HubSpot ---------------------------------------------------------------------


async def test_o_opens_copies_and_shows_the_hubspot_address(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, apis, _ = world
    monkeypatch.setattr("csm_tui.ui.crm_link.can_open_browser", lambda platform, env: True)
    db = open_cache(settings.cache_path, create=False)
    assert crm_links.portal_id(db) == str(apis.hubspot.hub_id)  # the sync learnt it
    db.conn.close()
    app = app_on(world, Opened)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        company = app.main.attention.current.account_id
        await pilot.press("o")
        await settle(pilot)
        url = f"https://app.hubspot.com/contacts/{apis.hubspot.hub_id}/company/{company}"
        assert app.clipboard == url
        assert app.opened == [url]  # type: ignore[attr-defined]
        assert any(url in n.message for n in app._notifications)
        await pilot.press("enter")  # and from the account screen
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert app.opened == [url, url]  # type: ignore[attr-defined]


async def test_o_before_the_portal_is_known_says_to_sync(world: Any) -> None:
    settings, _, _ = world
    db = open_cache(settings.cache_path, create=False)
    db.execute("DELETE FROM sync_state WHERE source = 'sync' AND object = 'crm-portal'")
    db.conn.close()
    app = app_on(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert app.clipboard == ""
        assert any("press r to sync" in n.message for n in app._notifications)


def test_the_browser_opens_only_where_a_window_can_show() -> None:
    assert can_open_browser("darwin", {})
    assert can_open_browser("linux", {"DISPLAY": ":0"})
    assert not can_open_browser("linux", {})  # a text browser would take over the terminal
    assert not can_open_browser("linux", {"DISPLAY": ":0", "SSH_CONNECTION": "1 2 3 4"})


# -- the due queue as it looks --------------------------------------------------------------


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_due_queue_snapshot(snap_compare: Any, settings: Settings, size: tuple[int, int]) -> None:
    from support.apps import fill_cache

    db = open_cache(settings.cache_path)
    fill_cache(db)  # one overdue step (Acme Analytics), hostile names in the book
    step = {"id": "ns2", "account_id": "102", "title": '=HYPERLINK("x") [bold]call[/]'}
    db["next_steps"].insert(
        {**step, "due_date": "2026-11-23", "done": 0, "origin": "local", "created_at": "2026-11-20"}
    )
    db.conn.close()
    app = make_app(settings)

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_a_step_is_rescheduled_to_today_or_later_and_keeps_a_title() -> None:
    from csm_tui.ui.screens.due import read_due, read_title

    read = read_due(TODAY)
    assert read("+3d")[0] == TODAY + timedelta(days=3)
    assert read("today") == (TODAY, "Mon 16 Nov (today)")
    with pytest.raises(ValueError, match="has passed"):
        read("2026-11-01")
    assert read_title("  Send   quote ")[0] == "Send quote"
    with pytest.raises(ValueError, match="needs a title"):
        read_title("   ")
