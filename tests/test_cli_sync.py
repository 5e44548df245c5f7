"""The sync, log, outbox and demo commands, end to end through `csm_tui.cli.main`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from support.sync import FAST

from csm_tui.cli import main
from csm_tui.config import load_settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis, FakeServer
from csm_tui.sources.http import HttpPolicy
from csm_tui.store.db import open_cache


@pytest.fixture(autouse=True)
def fast_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry waits and client-side rates shrunk, so the tests stay fast."""
    monkeypatch.setattr(HttpPolicy, "from_settings", classmethod(lambda cls, settings: FAST))


@pytest.fixture
def portfolio() -> Portfolio:
    return generate_portfolio(8, 21, today=date.today())


@pytest.fixture
def served(portfolio: Portfolio, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApis]:
    """Both fakes on a loopback port, and the environment pointing csm-tui at them."""
    apis = FakeApis(portfolio)
    server: FakeServer = apis.serve(port=0)
    env = {
        "CSM_TUI_CRM__BASE_URL": server.url,
        "CSM_TUI_CRM__TOKEN": "demo-hubspot-token",
        "CSM_TUI_CRM__OWNER_EMAIL": portfolio.demo_owner_email,
        "CSM_TUI_ANALYTICS__BASE_URL": server.url,
        "CSM_TUI_ANALYTICS__TOKEN": "demo-posthog-token",
        "CSM_TUI_ANALYTICS__PROJECT_ID": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with server:
        yield apis


def test_sync_prints_a_line_per_object_and_exits_0(
    served: FakeApis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync"]) == 0
    out = capsys.readouterr().out
    for obj in ("companies", "contacts", "tasks", "usage_weekly", "user_activity"):
        assert any(line.split()[1:2] == [obj] for line in out.splitlines()), obj
    assert "Sync done: pushed 0" in out


def test_a_failing_sync_exits_non_zero_with_one_line(
    served: FakeApis, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSM_TUI_CRM__TOKEN", "not-the-token")
    assert main(["sync", "--crm-only"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("csm-tui: CRM token rejected (401). Set CSM_TUI_CRM__TOKEN")
    assert "not-the-token" not in err


def test_log_offline_then_sync_creates_exactly_one_note_with_its_associations(
    served: FakeApis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync"]) == 0
    settings = load_settings()
    db = open_cache(settings.cache_path)
    account, domain = db.execute(
        "SELECT id, domain FROM accounts WHERE archived = 0 ORDER BY id LIMIT 1"
    ).fetchone()
    contact, email = db.execute(
        "SELECT id, email FROM contacts WHERE account_id = ? ORDER BY id LIMIT 1", [account]
    ).fetchone()
    db.conn.close()
    capsys.readouterr()

    code = main(
        ["log", domain, "--kind", "note", "--summary", "Champion confirmed renewal",
         "--contact", email, "--when", "2h ago", "--sentiment", "positive",
         "--next-step", "Send order form", "--due", "+3d"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "waits in the outbox" in capsys.readouterr().out
    assert main(["outbox"]) == 0
    assert "2 waiting, 0 failed" in capsys.readouterr().out

    assert main(["sync", "--crm-only"]) == 0
    hub = served.hubspot
    assert hub.created == {"notes": 1, "tasks": 1}
    note = hub.records("notes")[-1]
    assert "Champion confirmed renewal" in note["properties"]["hs_note_body"]
    assert hub.associations_of("notes", note["id"], "companies") == [account]
    assert hub.associations_of("notes", note["id"], "contacts") == [contact]
    assert main(["sync", "--crm-only"]) == 0
    assert hub.created == {"notes": 1, "tasks": 1}
    assert main(["outbox"]) == 0
    assert "The outbox is empty" in capsys.readouterr().out


def test_log_names_the_candidates_when_the_account_is_ambiguous(
    served: FakeApis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--crm-only"]) == 0
    settings = load_settings()
    db = open_cache(settings.cache_path)
    db["accounts"].update(
        db.execute("SELECT id FROM accounts LIMIT 1").fetchone()[0], {"name": "Acme East"}
    )
    db["accounts"].update(
        db.execute("SELECT id FROM accounts LIMIT 1 OFFSET 1").fetchone()[0], {"name": "Acme West"}
    )
    db.conn.close()
    capsys.readouterr()
    assert main(["log", "acme", "--kind", "call", "--summary", "hi"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "matches 2 accounts" in err
    assert "Acme East" in err and "Acme West" in err
    assert main(["log", "acme", "--kind", "call", "--summary", "hi", "--when", "next year"]) == 2
    assert "--when" in capsys.readouterr().err


def test_outbox_retry_and_discard_by_id(
    served: FakeApis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--crm-only"]) == 0
    settings = load_settings()
    db = open_cache(settings.cache_path)
    account = db.execute("SELECT id FROM accounts LIMIT 1").fetchone()[0]
    db.conn.close()
    assert main(["log", account, "--kind", "note", "--summary", "will fail"]) == 0
    served.faults.add(path=r"/crm/v3/objects/notes$", method="POST", status=400,
                      body={"status": "error", "message": "Property hs_note_body is bad", "category": "VALIDATION_ERROR"})  # fmt: skip
    assert main(["sync", "--crm-only"]) == 0
    out = capsys.readouterr().out
    assert "push failed" in out and "csm-tui outbox" in out
    db = open_cache(settings.cache_path)
    item = db.execute("SELECT id FROM outbox WHERE state = 'failed'").fetchone()[0]
    db.conn.close()
    assert main(["outbox"]) == 0
    assert "Property hs_note_body is bad" in capsys.readouterr().out
    assert main(["outbox", "--retry", item[:8]]) == 0
    assert main(["sync", "--crm-only"]) == 0
    assert served.hubspot.created["notes"] == 1
    assert main(["outbox", "--discard", item[:8], "--yes"]) == 2  # pushed: nothing to discard
    assert "No waiting or failed outbox item" in capsys.readouterr().err


def test_demo_fills_its_workspace_and_doctor_shows_the_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--accounts", "9", "--seed", "3", "--no-open"]) == 0
    out = capsys.readouterr().out
    assert "Demo ready:" in out and "weeks of usage" in out
    settings = load_settings(workspace="demo")
    db = open_cache(settings.cache_path)
    accounts = db["accounts"].count
    assert accounts > 0 and db["usage_weekly"].count > 0 and db["scores"].count > 0
    db["outbox"].insert(
        {"id": "f" * 32, "kind": "touch", "ref_id": "x", "payload": "{}", "state": "pending",
         "attempts": 0, "created_at": "2026-01-01", "updated_at": "2026-01-01"}
    )  # fmt: skip
    db.conn.close()
    assert main(["doctor", "--workspace", "demo"]) == 0
    doctor = capsys.readouterr().out
    assert f"  accounts          {accounts:>10,}" in doctor
    assert "usage_weekly" in doctor
    # Every run starts the demo from scratch, consistent with the fakes.
    assert main(["demo", "--accounts", "9", "--seed", "3", "--no-open"]) == 0
    db = open_cache(settings.cache_path)
    assert db["outbox"].count == 0 and db["accounts"].count == accounts
    db.conn.close()
