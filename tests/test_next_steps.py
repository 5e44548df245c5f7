"""Next steps close the day: completed, rescheduled or retitled here, the CRM task follows once."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from support.clocks import Clock

from csm_tui.cli import main
from csm_tui.commands import demo
from csm_tui.config import Settings
from csm_tui.store import actions, outbox
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking

TODAY = date(2026, 11, 16)


@pytest.fixture
def world(isolated_env):
    from datetime import UTC, datetime

    clock = Clock(datetime(2026, 11, 16, 7, 0, tzinfo=UTC))
    apis, _ = demo.build_demo(40, 5, TODAY, clock=clock)
    settings = demo.demo_settings(
        Settings(data_dir=isolated_env / "data"),
        apis.portfolio.demo_owner_email,
        apis.hubspot.token,
        apis.posthog.token,
    )

    def sync() -> None:
        clock.advance(minutes=10)
        sync_blocking(
            settings, transport=apis.transport(), clock=clock, today=TODAY, policy=demo.IN_PROCESS
        )

    sync()
    return settings, apis, sync


def open_task(settings) -> tuple[str, str]:
    db = open_cache(settings.cache_path, create=False)
    try:
        row = db.execute(
            "SELECT id, remote_id FROM next_steps WHERE origin = 'crm' AND done = 0 "
            "AND due_date < ? ORDER BY id LIMIT 1",
            [TODAY.isoformat()],
        ).fetchone()
        return str(row[0]), str(row[1])
    finally:
        db.conn.close()


def patches(apis, task_id: str) -> list[dict]:
    return [
        json.loads(r.content)
        for r in apis.hubspot.requests
        if r.method == "PATCH" and r.url.path == f"/crm/v3/objects/tasks/{task_id}"
    ]


def test_completing_an_overdue_step_updates_its_task_once_and_stays_done(world) -> None:
    settings, apis, sync = world
    step, task = open_task(settings)
    db = open_cache(settings.cache_path, create=False)
    actions.change_next_step(db, step_id=step, done=True)
    assert db.execute("SELECT done FROM next_steps WHERE id = ?", [step]).fetchone()[0] == 1
    db.conn.close()
    sync()
    sync()  # a second sync pushes nothing more and the pulled task says completed
    assert patches(apis, task) == [{"properties": {"hs_task_status": "COMPLETED"}}]
    assert apis.hubspot.record("tasks", task)["properties"]["hs_task_status"] == "COMPLETED"
    db = open_cache(settings.cache_path, create=False)
    try:
        assert db.execute("SELECT done FROM next_steps WHERE id = ?", [step]).fetchone()[0] == 1
        assert outbox.counts(db)[outbox.PENDING] == 0
    finally:
        db.conn.close()


def test_rescheduling_moves_the_task_and_undo_puts_the_step_back(world) -> None:
    settings, apis, sync = world
    step, task = open_task(settings)
    db = open_cache(settings.cache_path, create=False)
    before = db.execute("SELECT due_date FROM next_steps WHERE id = ?", [step]).fetchone()[0]
    actions.change_next_step(db, step_id=step, due_date=TODAY + timedelta(days=3))
    undone = actions.undo_last(db)
    assert undone is not None and undone.description == "step change"
    assert (
        db.execute("SELECT due_date FROM next_steps WHERE id = ?", [step]).fetchone()[0] == before
    )
    actions.change_next_step(db, step_id=step, due_date=TODAY + timedelta(days=3))
    db.conn.close()
    sync()
    assert patches(apis, task) == [{"properties": {"hs_timestamp": "2026-11-19T09:00:00.000Z"}}]


def test_the_due_queue_and_the_step_command_from_the_command_line(world, capsys) -> None:
    settings, _, _ = world
    step, _ = open_task(settings)
    assert main(["today", "--workspace", "demo", "--due", "--csv"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("step_id,due_date,days_late") and any(step in r for r in listed)
    assert main(["step", "--workspace", "demo", step[:4], "--done"]) == 2  # too short
    assert "at least 6 characters" in capsys.readouterr().err
    assert main(["step", "--workspace", "demo", step, "--due", "someday"]) == 2
    assert main(["step", "--workspace", "demo", step, "--done"]) == 0
    assert "done" in capsys.readouterr().out
    # The outbox says what the change is, not only its kind.
    assert main(["outbox", "--workspace", "demo"]) == 0
    assert f"next step {step} on " in capsys.readouterr().out
    assert main(["step", "--workspace", "demo", step, "--due", "2026-12-01"]) == 0
    capsys.readouterr()
    assert main(["outbox", "--workspace", "demo"]) == 0
    listed = capsys.readouterr().out
    assert ": mark done" in listed and ": due 2026-12-01" in listed
