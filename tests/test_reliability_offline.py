"""Offline durability: what the CSM records survives a crash, waits in the outbox, reaches the
CRM once, and a refused push stays in sight (with its error) until the user decides.

Every case runs against both fakes on loopback (the world of support.loopback), whose
``created`` counters count every create the CRM performed.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.clocks import Clock
from support.loopback import (
    SUBPROCESS_TIMEOUT,
    TODAY,
    World,
    book_company_ids,
    finish,
    free_contact,
    integrity_ok,
)
from support.sync import FAST, crm_settings

from csm_tui.cli import main
from csm_tui.fakes.portfolio import Portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.store import actions, outbox, views
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking


def change_time(p: Portfolio) -> datetime:
    """Seven hours after the portfolio's "now": when these cases' touches took place (the
    crash suite's former change time, no longer shared)."""
    return p.now + timedelta(hours=7)


# Saves one action through csm_tui.store.actions (what the app calls), prints the ids, then
# dies by SIGKILL before the connection is closed (the write may be in the WAL file only).
ACTION_SCRIPT = """
import json, os, signal, sys
from datetime import date
from csm_tui.config import load_settings
from csm_tui.store import actions
from csm_tui.store.db import open_cache

kind, args = sys.argv[1], json.loads(sys.argv[2])
db = open_cache(load_settings().cache_path)
if kind == "touch":
    ids = [actions.log_touch(db, **args)]
elif kind == "next_step":
    ids = [actions.add_next_step(db, account_id=args["account_id"], title=args["title"],
                                 due_date=date.fromisoformat(args["due"]))]
elif kind == "snooze":
    actions.snooze(db, account_id=args["account_id"], until=date.fromisoformat(args["until"]))
    ids = [args["account_id"]]
else:
    ids = actions.enroll(db, [actions.EnrollmentRequest(**args)])
print(json.dumps(ids), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def save_then_die(w: World, tmp_path: Path, kind: str, args: dict[str, Any]) -> list[str]:
    script = tmp_path / "save_then_die.py"
    script.write_text(ACTION_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), kind, json.dumps(args)],
        env=w.env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return json.loads(proc.stdout)


def action_args(w: World, kind: str) -> dict[str, Any]:
    p = w.portfolio
    book = book_company_ids(w.apis, p)
    if kind == "touch":
        return {
            "account_id": book[0], "kind": "meeting", "summary": "QBR: expansion to the EU team",
            "occurred_at": change_time(p).isoformat(), "sentiment": "positive",
        }  # fmt: skip
    if kind == "next_step":
        return {"account_id": book[1], "title": "Book the exec sponsor call",
                "due": (TODAY + timedelta(days=2)).isoformat()}  # fmt: skip
    if kind == "snooze":
        return {"account_id": book[2], "until": (TODAY + timedelta(days=5)).isoformat()}
    contact, company, seq = free_contact(w.apis, p)
    owner = next(o for o in p.owners if o["email"] == p.demo_owner_email)
    return {"contact_id": contact, "account_id": company, "sequence_id": seq,
            "sender_email": owner["email"], "user_id": str(owner["userId"])}  # fmt: skip


@pytest.fixture
def make_world(world: Callable[..., World]) -> Callable[..., World]:
    """A case's world: both fakes on loopback and a synced cache (see support.loopback)."""
    return world


CREATES = {"touch": {"meetings": 1}, "next_step": {"tasks": 1}, "enrollment": {"enrollments": 1}}
TABLES = {"touch": "touches", "next_step": "next_steps", "enrollment": "enrollments"}


@pytest.mark.parametrize("kind", ["touch", "next_step", "snooze", "enrollment"])
def test_an_action_survives_a_kill_right_after_it_is_saved_and_is_pushed_once(
    kind: str, make_world: Callable[..., World], tmp_path: Path
) -> None:
    w = make_world(False, with_actions=False)
    args = action_args(w, kind)
    [saved] = save_then_die(w, tmp_path, kind, args)
    path = w.settings.cache_path
    integrity_ok(path)
    db = open_cache(path)
    if kind == "snooze":
        assert db["snoozes"].get(saved)["until"] == args["until"]
        assert outbox.items(db) == []  # local only: the CRM has no snoozes
    else:
        assert db[TABLES[kind]].get(saved)["origin"] == "local"
        [item] = outbox.items(db)
        assert (item.kind, item.ref_id, item.state) == (kind, saved, outbox.PENDING)
    db.conn.close()

    assert main(["sync", "--crm-only"]) == 0
    assert main(["sync", "--crm-only"]) == 0  # a second sync pushes nothing again
    assert dict(w.apis.hubspot.created) == CREATES.get(kind, {})
    db = open_cache(path)
    if kind != "snooze":
        assert db[TABLES[kind]].get(saved)["remote_id"]
        assert outbox.counts(db) == {outbox.PENDING: 0, outbox.FAILED: 0, outbox.DONE: 1}
    else:
        assert db["snoozes"].get(saved)["until"] == args["until"], "a sync keeps the snooze"
    db.conn.close()


def test_a_touch_logged_from_the_command_line_survives_a_kill_before_the_cache_is_closed(
    make_world: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    w = make_world(False, with_actions=False)
    domain = w.apis.hubspot.record("companies", book_company_ids(w.apis, w.portfolio)[0])
    proc = w.run(
        "log", str(domain["properties"]["domain"]), "--kind", "call", "--summary",
        "Champion moves to a new role", "--next-step", "Meet the new admin", "--due", "+3d",
        extra_env={"CSM_TEST_KILL_ON_CLOSE": "1"},
    )  # fmt: skip
    code, _, err = finish(proc)
    assert code == -signal.SIGKILL, err
    integrity_ok(w.settings.cache_path)
    assert main(["outbox"]) == 0
    assert "2 waiting, 0 failed" in capsys.readouterr().out
    assert main(["sync", "--crm-only"]) == 0
    assert dict(w.apis.hubspot.created) == {"calls": 1, "tasks": 1}


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_offline_actions_wait_with_their_error_then_reach_the_crm_once(
    make_world: Callable[..., World],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = make_world(False)  # four actions wait: a note with its next step, a call, an enrollment
    online = w.env["CSM_TUI_CRM__BASE_URL"]
    monkeypatch.setenv("CSM_TUI_CRM__BASE_URL", f"http://127.0.0.1:{unused_port()}")
    for _ in range(2):
        assert main(["sync", "--crm-only"]) != 0
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "Check your connection" in err
    db = open_cache(w.settings.cache_path)
    items = outbox.items(db)
    assert [i.state for i in items] == [outbox.PENDING] * 4
    assert all(i.attempts == 2 and "network error" in (i.last_error or "") for i in items)
    assert views.status_info(db).waiting == 4
    db.conn.close()
    assert main(["outbox"]) == 0
    listing = capsys.readouterr().out
    assert "4 waiting, 0 failed" in listing and "error (try 2): " in listing

    monkeypatch.setenv("CSM_TUI_CRM__BASE_URL", online)
    assert main(["sync", "--crm-only"]) == 0
    assert dict(w.apis.hubspot.created) == {"notes": 1, "calls": 1, "tasks": 1, "enrollments": 1}
    db = open_cache(w.settings.cache_path)
    assert outbox.counts(db) == {outbox.PENDING: 0, outbox.FAILED: 0, outbox.DONE: 4}
    db.conn.close()


def test_a_create_the_sync_could_not_confirm_is_found_by_the_next_sync_not_made_again(
    make_world: Callable[..., World],
) -> None:
    w = make_world(False)
    faults = w.apis.faults
    handle = w.apis.handler

    def create_then_search_outage(request: httpx.Request) -> httpx.Response:
        # The note is created but its answer is lost, and from then on the CRM's search is down
        # for this sync: the push cannot tell whether the note exists, so the item must wait.
        if request.method == "POST" and request.url.path == "/crm/v3/objects/notes":
            handle(request)
            faults.add(path=r"/crm/v3/objects/notes/search$", status=503, times=1000)
            raise httpx.ReadError("the answer was lost", request=request)
        return handle(request)

    w.apis.handler = create_then_search_outage  # type: ignore[method-assign]
    assert main(["sync", "--crm-only"]) != 0  # the pull meets the search outage too
    assert w.apis.hubspot.created["notes"] == 1
    db = open_cache(w.settings.cache_path)
    waiting = [i for i in outbox.items(db) if i.payload.get("kind") == "note"]
    assert [i.state for i in waiting] == [outbox.PENDING]
    db.conn.close()
    faults.clear()
    w.apis.handler = handle  # type: ignore[method-assign]
    assert main(["sync", "--crm-only"]) == 0
    assert dict(w.apis.hubspot.created) == {"notes": 1, "calls": 1, "tasks": 1, "enrollments": 1}


def test_a_refused_push_stays_failed_with_its_error_until_retried_or_discarded(
    make_world: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    w = make_world(False)
    refusal = {"status": "error", "message": "Property hs_call_body is too long",
               "category": "VALIDATION_ERROR"}  # fmt: skip
    w.apis.faults.add(path=r"/crm/v3/objects/calls$", method="POST", status=400, body=refusal)
    w.apis.faults.add(path=r"/automation/v4/sequences/enrollments$", method="POST", status=400,
                      body={**refusal, "message": "Sender inbox disconnected"})  # fmt: skip
    assert main(["sync", "--crm-only"]) == 0
    out = capsys.readouterr().out
    assert out.count("push failed:") == 2 and "csm-tui outbox" in out

    def calls_posted() -> int:
        return sum(
            1
            for r in w.apis.hubspot.requests
            if (r.method, r.url.path) == ("POST", "/crm/v3/objects/calls")
        )

    before = calls_posted()
    for _ in range(2):  # later syncs neither drop nor silently retry them
        assert main(["sync", "--crm-only"]) == 0
    assert calls_posted() == before
    db = open_cache(w.settings.cache_path)
    failed = {i.kind: i for i in outbox.items(db, (outbox.FAILED,))}
    assert set(failed) == {"touch", "enrollment"}
    assert "hs_call_body is too long" in (failed["touch"].last_error or "")
    assert "Sender inbox disconnected" in (failed["enrollment"].last_error or "")
    assert views.status_info(db).failed == 2  # the app's status line shows them
    db.conn.close()
    capsys.readouterr()
    assert main(["outbox"]) == 0
    listing = capsys.readouterr().out
    assert "hs_call_body is too long" in listing and "0 waiting, 2 failed" in listing
    assert main(["doctor"]) == 0
    assert "2 failed" in capsys.readouterr().out

    assert main(["outbox", "--retry", failed["touch"].id[:10]]) == 0
    assert main(["outbox", "--discard", failed["enrollment"].id[:10], "--yes"]) == 0
    assert main(["sync", "--crm-only"]) == 0
    assert dict(w.apis.hubspot.created) == {"notes": 1, "calls": 1, "tasks": 1}
    db = open_cache(w.settings.cache_path)
    assert outbox.items(db) == []
    assert db["touches"].get(failed["touch"].ref_id)["remote_id"]
    # Discarded: never sent, but what the CSM wrote stays in the cache.
    assert db["enrollments"].get(failed["enrollment"].ref_id)["remote_id"] is None
    db.conn.close()


@pytest.fixture
def book(portfolio: Portfolio) -> Portfolio:
    """The generated portfolio of support.loopback."""
    return portfolio


def test_a_lost_create_is_never_made_twice_while_the_crms_search_lags(book: Portfolio) -> None:
    """HubSpot's search shows a new record only seconds after its create: a lookup right after
    a create whose answer was lost finds nothing, and must not lead to a second create, even
    when the next sync comes at once (the CSM presses r again)."""
    clock = Clock(change_time(book))
    apis = FakeApis(book, clock=clock)
    apis.hubspot.search_lag = 30.0
    settings = crm_settings(book.demo_owner_email)
    push = {"analytics": False, "transport": apis.transport(), "clock": clock, "today": TODAY,
            "policy": FAST}  # fmt: skip
    sync_blocking(settings, **push)
    db = open_cache(settings.cache_path)
    account = book_company_ids(apis, book)[0]
    for n in range(3):
        actions.log_touch(db, account_id=account, kind="note", summary=f"Note {n}",
                          occurred_at=clock.now.isoformat())  # fmt: skip
    actions.add_next_step(db, account_id=account, title="Follow up", due_date=TODAY)
    actions.log_touch(db, account_id=account, kind="call", summary="Refused by a gateway",
                      occurred_at=clock.now.isoformat())  # fmt: skip
    db.conn.close()
    apis.faults.add(path=r"/crm/v3/objects/notes$", method="POST", after_handling=True, times=3)
    apis.faults.add(path=r"/crm/v3/objects/tasks$", method="POST", after_handling=True)
    # A 502 from a gateway: the CRM may or may not have made it (here it did not).
    apis.faults.add(path=r"/crm/v3/objects/calls$", method="POST", status=502)

    def sync_after(**delta: float) -> dict[str, int]:
        clock.advance(**delta)
        sync_blocking(settings, **push)
        return dict(apis.hubspot.created)

    assert sync_after(minutes=1) == {"notes": 3, "tasks": 1}  # made, but unconfirmed
    assert sync_after(seconds=10) == {"notes": 3, "tasks": 1}  # search not caught up: wait
    assert sync_after(minutes=2) == {"notes": 3, "tasks": 1}  # found: done, the call waits
    assert sync_after(minutes=4) == {"notes": 3, "tasks": 1, "calls": 1}  # truly not there
    db = open_cache(settings.cache_path)
    assert outbox.counts(db) == {outbox.PENDING: 0, outbox.FAILED: 0, outbox.DONE: 5}
    db.conn.close()


def test_an_action_undone_while_a_sync_pushes_is_not_sent(
    make_world: Callable[..., World],
) -> None:
    w = make_world(False, with_actions=False)
    account = book_company_ids(w.apis, w.portfolio)[0]
    db = open_cache(w.settings.cache_path)
    kept = actions.log_touch(db, account_id=account, kind="note", summary="Keep this one",
                             occurred_at=change_time(w.portfolio).isoformat())  # fmt: skip
    undone = actions.log_touch(db, account_id=account, kind="note", summary="Oops, wrong account",
                               occurred_at=change_time(w.portfolio).isoformat())  # fmt: skip
    db.conn.close()
    handle = w.apis.handler
    taken_back: list[str] = []

    def undo_during_the_first_create(request: httpx.Request) -> httpx.Response:
        response = handle(request)
        first = (request.method, request.url.path) == ("POST", "/crm/v3/objects/notes")
        if first and not taken_back:  # the CSM presses u in the app while cron pushes
            app_db = open_cache(w.settings.cache_path)
            done = actions.undo_last(app_db)
            app_db.conn.close()
            taken_back.append(done.description if done else "")
        return response

    w.apis.handler = undo_during_the_first_create  # type: ignore[method-assign]
    assert main(["sync", "--crm-only"]) == 0
    assert taken_back == ["logged touch"]
    assert w.apis.hubspot.created["notes"] == 1
    bodies = [r["properties"]["hs_note_body"] for r in w.apis.hubspot.records("notes")]
    assert not [b for b in bodies if "Oops" in b]
    db = open_cache(w.settings.cache_path)
    assert db["touches"].get(kept)["remote_id"]
    assert not db.execute("SELECT 1 FROM touches WHERE id = ?", [undone]).fetchone()
    assert not db.execute("SELECT 1 FROM touches WHERE summary LIKE 'Oops%'").fetchone()
    db.conn.close()
