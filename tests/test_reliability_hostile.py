"""Bad input: every hostile string (markup, ANSI and OSC escapes, controls, zero-width and
right-to-left characters, 10,000-character and empty names, emoji) in every text field from
the CRM and from the user; damaged and newer caches.

Nothing crashes; the sync stores the text as it came and pushes the user's text as typed;
`today`, `outbox` and the app show it literally (never parsed as markup), without a single
escape or control character reaching the terminal. Regenerate the snapshots after an intended
change with: pytest tests/test_reliability_hostile.py --snapshot-update
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.apps import settle
from support.clocks import Clock
from support.sync import FAST, FAST_ENV, both_settings
from textual.pilot import Pilot

from csm_tui.cli import main
from csm_tui.config import Settings
from csm_tui.domain.models import plain
from csm_tui.fakes.hostile import HOSTILE_STRINGS
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.store import actions
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking
from csm_tui.ui.app import CsmApp
from csm_tui.ui.safe_text import clean

TODAY = date(2026, 11, 16)
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
SYNCED = "2026-11-16T08:53:00.000000+00:00"  # "synced 7 min ago" in every snapshot
ACME = "[bold red]Acme[/]"
SNOOZED = "%s %d {0} {name}"  # the hostile name of the account the user snoozes
# What must never reach a terminal: escapes, C0/C1 controls (but the newline), bidi overrides,
# zero-width characters.
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# `today` and `outbox` clean with domain.models.plain, which still lets U+FEFF and U+2060-2065
# through (see test_plain_strips_every_zero_width_character).
UNSAFE_CLI = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    return generate_portfolio(30, 4, today=TODAY)


def make_hostile(apis: FakeApis, p: Portfolio) -> dict[str, str]:
    """Each hostile string becomes a book company's name and its contacts', tickets', deals'
    and notes' text; returns company id -> its hostile name."""
    hub = apis.hubspot
    owner = next(o for o in p.owners if o["email"] == p.demo_owner_email)
    book = [
        r["id"] for r in hub.records("companies")
        if r["properties"].get("hubspot_owner_id") == owner["id"] and not r["archived"]
        and not r["properties"].get("churn_date")
    ]  # fmt: skip
    assert len(book) >= len(HOSTILE_STRINGS)
    named: dict[str, str] = {}
    for company, text in zip(book, HOSTILE_STRINGS, strict=False):
        named[company] = text
        hub.update("companies", company, {"name": text})
        for cid in hub.associations_of("companies", company, "contacts"):
            hub.update(
                "contacts",
                cid,
                {"firstname": text, "lastname": text, "jobtitle": text, "phone": text,
                 "mobilephone": text},
            )  # fmt: skip
        for tid in hub.associations_of("companies", company, "tickets"):
            hub.update("tickets", tid, {"subject": text, "content": text})
        for did in hub.associations_of("companies", company, "deals"):
            hub.update("deals", did, {"dealname": text})
        for nid in hub.associations_of("companies", company, "notes"):
            hub.update("notes", nid, {"hs_note_body": text})
    return named


@pytest.fixture
def hostile(portfolio: Portfolio) -> Iterator[tuple[FakeApis, Settings, dict[str, str]]]:
    """A synced cache where every text field holds hostile text, from the CRM and the user."""
    apis = FakeApis(portfolio, clock=Clock(portfolio.now + timedelta(hours=8)))
    named = make_hostile(apis, portfolio)
    settings = both_settings(portfolio.demo_owner_email)
    sync = {"transport": apis.transport(), "clock": apis.hubspot.clock, "today": TODAY,
            "policy": FAST}  # fmt: skip
    sync_blocking(settings, **sync)
    acme = next(c for c, n in named.items() if n == ACME)
    db = open_cache(settings.cache_path)
    for n, text in enumerate(HOSTILE_STRINGS[:8]):  # typed by the user into every field
        actions.log_touch(
            db, account_id=acme, kind="note", summary=f"{text} (typed)", sentiment="negative",
            occurred_at=(NOW - timedelta(days=n + 1)).isoformat(),
            next_step_title=text or "(blank)", next_step_due=TODAY + timedelta(days=n),
        )  # fmt: skip
    snoozed = next(c for c, n in named.items() if n == SNOOZED)
    actions.snooze(db, account_id=snoozed, until=TODAY + timedelta(days=3),
                   reason=HOSTILE_STRINGS[5])  # fmt: skip
    db.conn.close()
    yield apis, settings, named


def test_hostile_text_is_stored_as_it_came_and_the_users_is_pushed_as_typed(
    hostile: tuple[FakeApis, Settings, dict[str, str]],
) -> None:
    apis, settings, named = hostile
    conn = sqlite3.connect(settings.cache_path)
    stored = dict(conn.execute("SELECT id, name FROM accounts"))
    conn.close()
    assert {c: stored[c] for c in named} == named  # byte for byte, NUL and all
    sync_blocking(settings, transport=apis.transport(), clock=apis.hubspot.clock, today=TODAY,
                  policy=FAST, analytics=False)  # fmt: skip
    notes = [r["properties"]["hs_note_body"] for r in apis.hubspot.records("notes")[-8:]]
    for text, body in zip(HOSTILE_STRINGS[:8], notes, strict=True):
        assert body.startswith(f"{text} (typed)".strip()) and "[csm-tui " in body
    assert apis.hubspot.created["notes"] == 8 and apis.hubspot.created["tasks"] == 8


def test_today_and_the_outbox_show_every_hostile_name_literally(
    hostile: tuple[FakeApis, Settings, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    named = hostile[2]
    assert main(["outbox"]) == 0
    listing = capsys.readouterr().out
    assert not UNSAFE_CLI.search(listing)
    assert (
        "[bold red]Acme[/]" in listing and "[link=https://evil.example]Click me[/link]" in listing
    )
    assert main(["today"]) == 0
    shown = capsys.readouterr().out
    assert not UNSAFE_CLI.search(shown), repr(UNSAFE_CLI.search(shown))
    assert max(len(line) for line in shown.splitlines()) < 400  # the 10,000 Ns are cropped
    for name in named.values():
        if name != SNOOZED and plain(name):
            assert plain(name)[:27] in shown, name[:40]
    assert main(["today", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= set(named.values()) - {SNOOZED}


def test_plain_strips_every_zero_width_character() -> None:
    assert plain("Zero\u200bWidth\u200d\ufeffJoiner\u2060 Co") == "ZeroWidthJoiner Co"


# -- the app ------------------------------------------------------------------------------------


def app_on(settings: Settings) -> CsmApp:
    conn = sqlite3.connect(settings.cache_path)
    conn.execute("UPDATE sync_state SET last_success = ?", [SYNCED])
    conn.commit()
    conn.close()
    app = CsmApp(settings, today=TODAY, clock=lambda: NOW, auto_sync=False)
    app.detail_debounce = 0
    return app


def screen_text(app: CsmApp) -> str:
    """Every line of the whole screen as shown."""
    strips = app.screen._compositor.render_strips()  # private, but the only full-screen text
    return "\n".join(strip.text for strip in strips)


def then(*keys: str) -> Callable[[Pilot], Any]:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


async def test_the_app_shows_hostile_text_literally_everywhere(
    hostile: tuple[FakeApis, Settings, dict[str, str]],
) -> None:
    _, settings, named = hostile
    app = app_on(settings)
    async with app.run_test(size=(160, 90)) as pilot:
        await settle(pilot)
        listed = {row.name for row in app.main.attention.rows}
        assert listed >= set(named.values()) - {SNOOZED}
        for _ in range(len(app.main.attention.rows)):  # every row through the detail pane
            shown = screen_text(app)
            assert not UNSAFE.search(shown), repr(UNSAFE.search(shown))
            await pilot.press("j")
            await app.workers.wait_for_complete()
            await pilot.pause()
        await pilot.press("slash", *"Acme", "enter")
        await settle(pilot)
        assert [r.name for r in app.main.attention.rows] == [ACME], screen_text(app)[:2500]
        await pilot.press("enter")
        await settle(pilot)
        shown = screen_text(app)
        assert not UNSAFE.search(shown)
        assert shown.count(ACME) >= 3  # the name, its contacts, tickets, deals, notes
        for text in HOSTILE_STRINGS[:8]:  # the user's notes and next steps, literally
            assert clean(f"{text} (typed)") in shown, text
            assert clean(text or "(blank)") in shown, text


def test_snapshot_main_screen_with_hostile_names(
    snap_compare: Callable[..., bool], hostile: tuple[FakeApis, Settings, dict[str, str]]
) -> None:
    assert snap_compare(app_on(hostile[1]), terminal_size=(120, 40), run_before=then("j"))


def test_snapshot_account_screen_with_hostile_text(
    snap_compare: Callable[..., bool], hostile: tuple[FakeApis, Settings, dict[str, str]]
) -> None:
    keys = ("slash", *"Acme", "enter", "enter")
    assert snap_compare(app_on(hostile[1]), terminal_size=(120, 64), run_before=then(*keys))


# -- damaged and newer caches --------------------------------------------------------------------


def test_a_corrupted_cache_is_one_line_kept_aside_and_the_next_sync_rebuilds_it(
    hostile: tuple[FakeApis, Settings, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apis, settings, _ = hostile
    path = settings.cache_path
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    for offset in range(8192, len(data), 16384):  # garbage over pages of the b-trees
        data[offset : offset + 512] = b"\xde\xad\xbe\xef" * 128
    path.write_bytes(bytes(data))
    with apis.serve(port=0) as server:
        for key, value in {
            "CSM_TUI_CRM__BASE_URL": server.url, "CSM_TUI_CRM__TOKEN": "demo-hubspot-token",
            "CSM_TUI_CRM__OWNER_EMAIL": settings.crm.owner_email,
            "CSM_TUI_ANALYTICS__BASE_URL": server.url,
            "CSM_TUI_ANALYTICS__TOKEN": "demo-posthog-token", "CSM_TUI_ANALYTICS__PROJECT_ID": "1",
            **FAST_ENV,
        }.items():  # fmt: skip
            monkeypatch.setenv(key, value)
        assert main(["sync"]) != 0
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "damaged" in err and "kept aside" in err
        [kept] = [
            f
            for f in path.parent.glob("cache.db.damaged-*")
            if not f.name.endswith(("-wal", "-shm"))
        ]
        assert kept.name in err and kept.read_bytes() == bytes(data)
        assert main(["sync"]) == 0  # a fresh cache, rebuilt from the CRM
    capsys.readouterr()
    assert main(["today"]) == 0
    assert ACME in capsys.readouterr().out


def test_a_cache_from_a_newer_csm_tui_is_refused_in_one_line_by_every_command(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSM_TUI_CRM__TOKEN", "demo-hubspot-token")
    db = open_cache(settings.cache_path)
    db.execute("INSERT INTO schema_version (version, applied_at) VALUES (999, 'x')")
    db.conn.close()
    for command in (["sync", "--crm-only"], ["today"], ["outbox"], ["doctor"]):
        assert main(command) != 0
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "written by a newer csm-tui" in err, command
    assert not list(Path(settings.cache_path).parent.glob("*.damaged-*")), "nothing moved"
