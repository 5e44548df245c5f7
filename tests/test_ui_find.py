"""Finding and ordering accounts in the app, as a user would: the list follows the filter box as
words are typed, each word matching on its own; S sorts and keeps the cursor's account; Z shows
the snoozed accounts, z brings one back (u undoes); the filter finds snoozed accounts too; the
palette opens an account by name; a snooze past the renewal is questioned (support.apps book)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlite_utils
from support.apps import HOSTILE, fill_cache, make_app, names, settle
from textual.widgets import Input, Static

from csm_tui.config import Settings
from csm_tui.store import actions
from csm_tui.store.db import open_cache
from csm_tui.ui.app import CsmApp
from csm_tui.ui.screens.account import AccountScreen


@pytest.fixture
def filled(settings: Settings, db: sqlite_utils.Database) -> Settings:
    """The default workspace's cache, filled with the six accounts."""
    fill_cache(db)
    return settings


def snooze_initech(settings: Settings) -> None:
    db = open_cache(settings.cache_path)
    actions.snooze(db, account_id="104", until=date(2026, 12, 15), reason="on holiday")
    db.conn.close()


def text_of(app: CsmApp, selector: str) -> str:
    return str(app.main.query_one(selector, Static).render())


def list_text(app: CsmApp) -> str:
    widget = app.main.attention
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


async def test_the_list_narrows_as_words_are_typed(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"ex")  # no enter: the list follows the box
        await settle(pilot)
        # Exports (ticket, NPS comment), hostile.example, Globex.
        assert names(app) == ["Acme Analytics", HOSTILE, "Globex"]
        await pilot.press(*"port")
        await settle(pilot)
        assert names(app) == ["Acme Analytics"]
        assert app.focused is app.main.query_one("#filter-input", Input)  # still typing
        # Where it matched, under the view bar: the NPS comment or the ticket, words picked out.
        assert "xports" in text_of(app, "#match-line")
        await pilot.press(*" quote")  # a second word, found in a note of the same account
        await settle(pilot)
        assert names(app) == ["Acme Analytics"]
        assert 'Filter "export quote"' in text_of(app, "#view-bar")
        await pilot.press(*" kubernetes")  # in another account's note: none has all three
        await settle(pilot)
        assert names(app) == []
        assert "No account matches" in list_text(app)


async def test_escape_in_the_box_goes_back_to_the_filter_before(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"kubernetes", "enter")
        await settle(pilot)
        assert names(app) == ["Initech"]
        await pilot.press("slash", "ctrl+u", *"globex")
        await settle(pilot)
        assert names(app) == ["Globex"]
        await pilot.press("escape")  # the typing is taken back, not the filter kept before
        await settle(pilot)
        assert names(app) == ["Initech"]
        assert not app.main.query_one("#filter-input", Input).display
        await pilot.press("escape")  # on the list: every account
        await settle(pilot)
        assert len(names(app)) == 6
        assert not app.main.query_one("#match-line", Static).display


async def test_query_syntax_typed_in_the_filter_is_text(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *'"acme AND -x* NEAR(', "enter")
        await settle(pilot)
        assert names(app) == []
        assert "No account matches" in list_text(app)


async def test_sort_cycles_and_keeps_the_cursor_account(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "j")
        await settle(pilot)
        assert app.main.attention.current.name == "Initech"
        orders = {
            "ARR ↓": ["Globex", "Acme Analytics", HOSTILE, "Umbrella", "Initech"],
            "renewal ↑": ["Acme Analytics", HOSTILE, "Globex", "Initech", "Umbrella"],
            "health ↑": ["Stark Industries", "Acme Analytics", "Initech", HOSTILE, "Globex"],
            # Never touched first (by priority), then the oldest touch.
            "last touch ↑": [HOSTILE, "Globex", "Umbrella", "Stark Industries", "Acme Analytics"],
        }
        for title, order in orders.items():
            await pilot.press("S")
            await settle(pilot)
            assert names(app)[: len(order)] == order
            assert app.main.attention.current.name == "Initech"
            assert f"Sort {title}" in text_of(app, "#view-bar")
            assert app.main.detail.account_id == "104"
        header = app.main.attention.render_line(0).text
        assert "Account · touch↑" in header
        await pilot.press("S")  # back to priority
        await settle(pilot)
        assert names(app)[:2] == ["Acme Analytics", HOSTILE]
        assert "Sort" not in text_of(app, "#view-bar")
        assert app.main.attention.current.name == "Initech"


async def test_a_sorted_list_stays_sorted_after_an_action(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S", "S", "S", "S", "home")  # by last touch: never touched first
        await settle(pilot)
        assert app.main.attention.current.name == HOSTILE
        await pilot.press("l")
        await settle(pilot)
        await pilot.click("#summary")
        await pilot.press(*"Expansion call", "ctrl+s")
        await settle(pilot)
        # Touched today: the most recent touch, last in this order; the cursor went with it.
        assert names(app)[-1] == HOSTILE
        assert names(app)[:3] == ["Globex", "Umbrella", "Stark Industries"]
        assert app.main.attention.current.name == HOSTILE


async def test_the_snoozed_view_unsnooze_and_undo(filled: Settings) -> None:
    snooze_initech(filled)
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Initech" not in names(app)
        await pilot.press("Z")
        await settle(pilot)
        assert names(app) == ["Initech"]
        assert "Snoozed accounts" in text_of(app, "#view-bar")
        assert "snoozed to 12/15" in list_text(app)
        assert "Unsnooze" in str(app.screen.active_bindings["z"].binding.description)
        await pilot.press("z")
        await settle(pilot)
        assert names(app) == []
        assert "No account is snoozed" in list_text(app)
        await pilot.press("Z")
        await settle(pilot)
        assert "Initech" in names(app)
        db = open_cache(filled.cache_path)
        assert db["outbox"].count == 0  # local only, as the snooze was
        db.conn.close()
        await pilot.press("u")  # undo: snoozed again, to the same day
        await settle(pilot)
        assert "Initech" not in names(app)
    db = open_cache(filled.cache_path)
    assert db["snoozes"].get("104")["until"] == "2026-12-15"
    db.conn.close()


async def test_the_filter_finds_a_snoozed_account_and_says_so(filled: Settings) -> None:
    snooze_initech(filled)
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"kubernetes", "enter")
        await settle(pilot)
        assert names(app) == ["Initech"]
        assert "snoozed to 12/15" in list_text(app)
        assert "snoozed to 12/15" in text_of(app, "#match-line")
        assert "kubernetes" in text_of(app, "#match-line")
        await pilot.press("z")  # on a snoozed account z brings it back
        await settle(pilot)
        assert names(app) == ["Initech"]
        assert "snoozed to" not in list_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert "Initech" in names(app)


async def test_the_palette_opens_an_account_by_name(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"glob")
        await settle(pilot)
        await pilot.pause(0)
        from textual.command import CommandList

        options = app.screen.query_one(CommandList)
        shown = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("Open Globex" in prompt for prompt in shown)
        index = next(i for i, prompt in enumerate(shown) if "Open Globex" in prompt)
        options.highlighted = index
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen) and app.screen.account_id == "103"


async def test_a_snooze_past_the_renewal_asks_first(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.main.attention.current.name == "Acme Analytics"  # renews 2026-12-16
        await pilot.press("z")
        await settle(pilot)
        await pilot.press("d", *"2027-01-10", "enter", "enter")
        await settle(pilot)
        error = str(app.screen.query_one("#error", Static).render())
        assert "Renews 12/16, before this snooze ends" in error
        assert "Acme Analytics" in names(app)  # not snoozed yet
        await pilot.press("enter")  # yes, anyway
        await settle(pilot)
        assert "Acme Analytics" not in names(app)
    db = open_cache(filled.cache_path)
    assert db["snoozes"].get("101")["until"] == "2027-01-10"
    db.conn.close()


async def test_where_it_matched_shows_hostile_text_literally(filled: Settings) -> None:
    db = open_cache(filled.cache_path)
    actions.log_touch(
        db,
        account_id="105",
        kind="note",
        summary="[bold red]Escalate[/] the \x1b[31mwidget\x1b[0m audit\x07",
        occurred_at="2026-11-20T10:00:00+00:00",
    )
    db.conn.close()
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"widget audit", "enter")
        await settle(pilot)
        assert names(app) == ["Umbrella"]
        line = text_of(app, "#match-line")
        assert "[bold red]Escalate[/] the widget audit" in line
        assert "\x1b" not in line and "\x07" not in line
        shown = list_text(app)
        assert "note: [bold" in shown and "\x1b" not in shown


def test_the_view_bar_says_the_snoozed_view_its_segment_and_the_sort() -> None:
    from csm_tui.ui.screens.main import view_bar_content

    bar = view_bar_content("Going dark", "acme", 2, 10, False, snoozed=True, sort="arr")
    assert bar.plain == 'Snoozed accounts in Going dark  Filter "acme"  Sort ARR ↓  2 of 10 snoozed'
    plain = view_bar_content(None, None, 6, 6, False)
    assert plain.plain == "Segment All accounts  Filter none  6 of 6 accounts"


async def test_a_segment_of_opportunities_ranks_them_by_strength(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    fill_cache(db)
    # Acme Analytics ranks first by risk, Umbrella far below: as opportunities, Umbrella is the
    # stronger one (scores.opportunity holds the strength) and comes first in Expansion-ready.
    strength = {"101": 20, "105": 90}
    for account_id, value in strength.items():
        db.execute("UPDATE scores SET opportunity = ? WHERE account_id = ?", [value, account_id])
    db.conn.commit()
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert names(app).index("Acme Analytics") < names(app).index("Umbrella")
        app.listing.set_view("Expansion-ready", None)
        await settle(pilot)
        assert names(app) == ["Umbrella", "Acme Analytics", "Globex"]  # Globex: 1, the old flag
        assert "Sort expansion strength ↓" in text_of(app, "#view-bar")
        app.listing.set_view(None, None)  # every account again: by priority
        await settle(pilot)
        assert names(app).index("Acme Analytics") < names(app).index("Umbrella")
        assert "Sort" not in text_of(app, "#view-bar")
