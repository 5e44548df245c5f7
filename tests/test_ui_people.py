"""The people of an account on its detail: name, role, title, phones, last active, each line
fitting 80 columns, CRM text shown literally."""

from __future__ import annotations

import io
from typing import Any

import sqlite_utils
from rich.cells import cell_len
from rich.console import Console
from support.apps import TODAY, fill_cache, make_app, settle
from textual.app import App

from csm_tui.config import Settings
from csm_tui.store.detail import account_detail
from csm_tui.ui.screens.account import AccountScreen
from csm_tui.ui.widgets.detail_pane import contacts_content

HOSTILE = "[bold red]Mal[/]\x1b[2J\u202eroy"


def screen_text_of(app: App[Any]) -> str:
    """What the terminal shows right now, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def add_people(db: sqlite_utils.Database, account_id: str) -> None:
    db["contacts"].insert_all(
        [
            {"id": "p1", "account_id": account_id, "first_name": "Ana", "last_name": "Lima",
             "email": "ana@acme.test", "title": "Director of Analytics and Chief of Many Things",
             "role": "champion", "phone": "+1 415 555 0142", "mobile_phone": "+44 20 7946 0123",
             "last_active": "2026-11-20T10:00:00+00:00"},
            {"id": "p2", "account_id": account_id, "first_name": "Bo", "last_name": "Ek",
             "email": "bo@acme.test", "role": "admin", "mobile_phone": "+1 212 555 0101",
             "last_active": "2026-11-22T10:00:00+00:00"},
            {"id": "p3", "account_id": account_id, "first_name": HOSTILE, "last_name": "X" * 90,
             "email": "mal@acme.test", "title": HOSTILE, "role": "user", "phone": HOSTILE},
        ]
    )  # fmt: skip


def first_account(db: sqlite_utils.Database) -> str:
    return str(next(db.query("SELECT id FROM accounts ORDER BY id"))["id"])


def test_people_lines_show_title_role_and_phones_and_fit_80_columns(db) -> None:
    fill_cache(db)
    account = first_account(db)
    add_people(db, account)
    detail = account_detail(db, account, TODAY)
    assert detail is not None
    ana = next(c for c in detail.contacts if c.contact_id == "p1")
    assert (ana.phone, ana.mobile_phone) == ("+1 415 555 0142", "+44 20 7946 0123")
    lines = contacts_content(detail, TODAY, 30, width=78).plain.splitlines()
    assert all(cell_len(line) <= 78 for line in lines), lines
    at = lines.index(next(ln for ln in lines if "Ana Lima" in ln))
    assert "champion" in lines[at] and "Director of Analytics" in lines[at]
    assert lines[at].endswith("…")  # the long title is cropped, not wrapped
    assert "tel +1 415 555 0142 · mob +44 20 7946 0123 · active 3 d ago" in lines[at + 1]
    bo = lines.index(next(ln for ln in lines if "Bo Ek" in ln))
    assert "no title" in lines[bo] and "mob +1 212 555 0101" in lines[bo + 1]


def test_hostile_people_text_is_shown_literally_and_cropped(db) -> None:
    fill_cache(db)
    account = first_account(db)
    add_people(db, account)
    detail = account_detail(db, account, TODAY)
    assert detail is not None
    shown = contacts_content(detail, TODAY, 30, width=60)
    text = shown.plain
    assert "[bold red]Mal[/]" in text and "tel [bold red]Mal[/]" in text
    assert "\x1b" not in text and "\u202e" not in text
    assert all(cell_len(line) <= 60 for line in text.splitlines())
    assert not any("red" in str(span.style) for span in shown.spans)  # no markup was parsed


async def test_the_account_screen_shows_the_people_at_80_columns(settings: Settings, db) -> None:
    fill_cache(db)
    account = first_account(db)
    add_people(db, account)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(AccountScreen(account))
        await settle(pilot)
        view = app.screen.query_one("#detail-contacts")
        app.screen.query_one("#account-view").scroll_to_widget(view, animate=False)
        await settle(pilot)
        shown = screen_text_of(app)
        on_account = isinstance(app.screen, AccountScreen)
    assert on_account
    assert "tel +1 415 555 0142" in shown and "Ana Lima" in shown
    assert all(cell_len(line.rstrip()) <= 80 for line in shown.splitlines())


def test_a_narrow_pane_shows_one_phone_so_last_active_fits(db) -> None:
    fill_cache(db)
    account = first_account(db)
    add_people(db, account)
    detail = account_detail(db, account, TODAY)
    assert detail is not None
    lines = contacts_content(detail, TODAY, 4, width=40).plain.splitlines()
    ana = lines.index(next(ln for ln in lines if "Ana Lima" in ln))
    assert lines[ana + 1].startswith("    tel +1 415 555 0142 · active 3 d ago")
