"""The app, driven as a user would (App.run_test): the ranked list, the detail, snooze, filter,
undo, theme persistence, and hostile names shown literally, on the small hand-made cache of
support.apps (`fill_cache`).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlite_utils
from support.apps import HOSTILE, NOW, TODAY, burst, fill_cache, make_app, names, settle
from textual.widgets import Input

from csm_tui.config import Settings
from csm_tui.store import actions
from csm_tui.store.db import open_cache
from csm_tui.ui.app import CsmApp
from csm_tui.ui.messages import ActionFailed

# -- helpers --------------------------------------------------------------------------------


@pytest.fixture
def filled(settings: Settings, db: sqlite_utils.Database) -> Settings:
    """The default workspace's cache, filled with the six accounts."""
    fill_cache(db)
    return settings


def list_text(app: CsmApp) -> str:
    """The attention list as shown: every visible line's text."""
    widget = app.main.attention
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


# -- the stories ----------------------------------------------------------------------------


async def test_list_is_ranked_and_the_detail_follows_the_cursor(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert names(app) == [
            "Acme Analytics",
            HOSTILE,
            "Globex",
            "Initech",
            "Umbrella",
            "Stark Industries",
        ]
        assert app.main.detail.account_id == "101"
        shown = list_text(app)
        assert "−17 in 4 wk" in shown and "★ Opportunity" in shown
        status = str(app.main.query_one("#status-text").render())
        assert "synced 7 min ago" in status and "outbox empty" in status
        await pilot.press("j", "j")
        await settle(pilot)
        assert app.main.attention.current.name == "Globex"
        assert app.main.detail.account_id == "103"
        await pilot.press("end")
        await settle(pilot)
        assert app.main.detail.account_id == "106"


async def test_snooze_takes_the_account_off_the_list(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("z")  # the snooze form: 7 = a week, then a reason, ctrl+s saves
        await pilot.press("7", *"waiting for legal", "ctrl+s")
        await settle(pilot)
        assert "Acme Analytics" not in names(app)
        assert app.main.attention.current.name == HOSTILE
    db = open_cache(filled.cache_path)
    snoozed = db["snoozes"].get("101")
    assert (snoozed["until"], snoozed["reason"]) == ("2026-11-30", "waiting for legal")
    db.conn.close()


async def test_filter_finds_an_account_by_a_word_from_its_notes(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"kubernetes", "enter")
        await settle(pilot)
        assert names(app) == ["Initech"]
        assert app.main.detail.account_id == "104"
        await pilot.press("escape")
        await settle(pilot)
        assert len(names(app)) == 6


async def test_quitting_while_the_list_still_loads_is_clean(filled: Settings) -> None:
    # The whole book is read in a worker after the first frame; quitting at once, its answer
    # (or the detail's) came back after the main screen was gone, and crashed the exit.
    for _ in range(15):
        app = make_app(filled)
        async with app.run_test(size=(120, 40)):
            pass
        assert app.return_code in (None, 0)


async def test_letters_typed_in_one_burst_behind_the_slash_go_to_the_filter(
    filled: Settings,
) -> None:
    app = make_app(filled)
    app.filter_debounce = 60  # the list does not follow the box within this test
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        first = app.main.attention.current
        # One read from the terminal: every key is queued before the / is handled.
        burst(app, "slash", "k", "u", "b", "slash")
        await settle(pilot)
        assert app.main.query_one("#filter-input", Input).value == "kub/"
        assert app.main.attention.current == first  # k never reached the list (cursor up)


async def test_undo_takes_back_the_unpushed_touch(filled: Settings) -> None:
    db = open_cache(filled.cache_path)
    touch_id = actions.log_touch(
        db, account_id="103", kind="call", summary="Talked expansion", occurred_at=NOW.isoformat()
    )
    db.conn.close()
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
    db = open_cache(filled.cache_path)
    assert db["touches"].count_where("id = ?", [touch_id]) == 0
    assert db["outbox"].count == 0
    db.conn.close()


async def test_theme_choice_survives_a_restart(filled: Settings) -> None:
    first = make_app(filled)
    async with first.run_test(size=(120, 40)) as pilot:
        assert first.theme == "csm-dark"
        await pilot.press("t")
        await pilot.pause()
        assert first.theme == "csm-light"
    second = make_app(filled)
    async with second.run_test(size=(120, 40)) as pilot:
        assert second.theme == "csm-light"
        await pilot.press("t")
        await pilot.pause()
        assert second.theme == "csm-high-contrast"
    assert json.loads((filled.data_dir / "ui-state.json").read_text())["theme"] == (
        "csm-high-contrast"
    )
    filled.theme = "csm-light"  # a new theme in the config is a newer wish than the old key press
    third = make_app(filled)
    async with third.run_test(size=(120, 40)):
        assert third.theme == "csm-light"


async def test_hostile_names_and_notes_show_literally(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert HOSTILE in list_text(app)
        await pilot.press("j")
        await settle(pilot)
        header = app.main.query_one("#detail-header")
        assert HOSTILE in str(header.render())
        await pilot.press("/", *"kubernetes", "enter")
        await settle(pilot)
        timeline = str(app.main.query_one("#detail-timeline").render())
        assert "Discussed the kubernetes migration plan" in timeline
        assert "\x1b" not in timeline


async def test_keys_are_rebindable_through_settings(filled: Settings) -> None:
    filled.keymap = {"cursor-down": "x", "next-theme": "ctrl+t"}
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert app.main.attention.current.name == HOSTILE
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "csm-light"


async def test_a_segment_shows_only_its_accounts(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Expansion-ready" in app.segment_names()
        await pilot.press("f")  # all accounts, renewals at risk, going dark, expansion-ready
        await pilot.press("j", "j", "j", "enter")
        await settle(pilot)
        assert names(app) == ["Globex"]
        view_bar = str(app.main.query_one("#view-bar").render())
        assert "Expansion-ready" in view_bar and "1 of 6 accounts" in view_bar


def test_every_key_action_is_in_the_command_palette(filled: Settings) -> None:
    from csm_tui.ui.palette import palette_commands

    app = make_app(filled)
    offered = " ".join(name.lower() for name, _, _ in palette_commands(app))
    for word in (
        "log a touch",
        "next step",
        "snooze",
        "enroll",
        "filter",
        "segment",
        "portfolio",
        "sync",
        "undo",
        "theme",
        "help",
        "mark all",
        "quit",
    ):
        assert word in offered


async def test_log_a_touch_then_undo_it(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        await pilot.click("#summary")
        await pilot.press(*"Agreed on a renewal call", "ctrl+s")
        await settle(pilot)
        db = open_cache(filled.cache_path)
        logged = db.execute(
            "SELECT t.summary, o.state FROM touches t JOIN outbox o ON o.ref_id = t.id "
            "WHERE t.account_id = '101'"
        ).fetchall()
        db.conn.close()
        assert logged == [("Agreed on a renewal call", "pending")]
        assert app.main.status.info.waiting == 1
        await pilot.press("u")
        await settle(pilot)
        assert app.main.status.info.waiting == 0
    db = open_cache(filled.cache_path)
    assert db["touches"].count_where("origin = 'local'") == 0
    assert db["outbox"].count == 0
    db.conn.close()


async def test_first_run_without_cache_or_config_welcomes(settings: Settings) -> None:
    from csm_tui.ui.screens.welcome import WelcomeScreen

    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert "No accounts in the cache yet" in list_text(app)


async def test_a_big_book_draws_lines_not_widgets(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    db["accounts"].insert_all(
        {"id": str(n), "name": f"Account {n:05d}", "archived": 0} for n in range(3000)
    )
    db["scores"].insert_all(
        {"account_id": str(n), "computed_at": "x", "priority": 3000 - n} for n in range(3000)
    )
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert len(app.main.attention.rows) == 3000
        assert len(app.main.query("*")) < 100  # the list is one widget, however long
        await pilot.press("end")
        await settle(pilot)
        assert "Account 02999" in list_text(app)


async def test_opens_from_the_cache_and_says_offline_when_the_network_is_down(
    filled: Settings,
) -> None:
    import httpx

    from csm_tui.sources.http import HttpPolicy

    filled.crm.token = "crm-token"
    filled.analytics.token = "analytics-token"
    filled.analytics.project_id = "1"

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host", request=request)

    app = make_app(
        filled,
        transport_factory=lambda: httpx.MockTransport(unreachable),
        sync_options={"policy": HttpPolicy(attempts=1, wait_initial=0, wait_jitter=0)},
    )
    app.auto_sync = True
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert len(names(app)) == 6  # the cache is shown all the same
        status = str(app.main.query_one("#status-text").render())
        assert status.startswith("○ offline")
        assert "network error" in status
        assert app.syncing.running is False


def test_untrusted_text_loses_escapes_and_controls_and_is_cropped() -> None:
    from csm_tui.ui.safe_text import clean, safe

    assert clean("\x1b[31mRed\x1b[0m Corp\x07\x1b]0;title\x07") == "Red Corp"
    assert clean("two\nlines\tand\u202eevil") == "two lines andevil"
    assert clean("x" * 50, max_len=10) == "x" * 9 + "…"
    shown = safe(HOSTILE)
    assert shown.plain == HOSTILE and not shown.spans  # no markup was parsed


def test_a_users_theme_file_joins_the_cycle_and_a_broken_one_is_reported(
    settings: Settings,
) -> None:
    themes = settings.config_file.parent / "themes"
    themes.mkdir(parents=True)
    (themes / "solar.toml").write_text(
        'name = "solar"\ndark = false\n[colors]\nprimary = "#268bd2"\n'
        '[variables]\nband-green = "#859900"\n'
    )
    (themes / "broken.toml").write_text('name = "broken"\n[colors]\nprimary = "not a colour"\n')
    app = make_app(settings)
    assert app.csm_theme_names == ["csm-dark", "csm-light", "csm-high-contrast", "solar"]
    assert any("broken.toml" in w and "not a colour" in w for w in app.theming.warnings)
    assert app.available_themes["solar"].variables["band-green"] == "#859900"


def test_help_lists_every_key_with_the_users_remapping() -> None:
    from csm_tui.ui.keymap import check_keymap, help_rows

    rows = dict((desc, keys) for keys, desc in help_rows({"snooze": "x"}))
    assert rows["Snooze the account until a date"] == "x"
    assert rows["Log a touch (call, email, meeting, QBR, note)"] == "l"
    assert len(rows) >= 20
    assert check_keymap({"snoze": "x"})[0].startswith("keymap: no binding with id 'snoze'")


def test_the_list_drops_chips_that_repeat_its_columns() -> None:
    from csm_tui.ui.widgets.attention_list import list_chip

    assert list_chip("Renews in 23 d") is None
    assert list_chip("Health 46") is None
    assert list_chip("Health 27 (−14 in 4 wk)") == "−14 in 4 wk"
    assert list_chip("No touch 31 d") == "No touch 31 d"


def test_a_renewal_long_past_still_leaves_a_space_before_the_stage_column() -> None:
    from csm_tui.ui.widgets.attention_list import columns_for
    from csm_tui.ui.widgets.formats import renews_in

    said = {
        days: renews_in((TODAY + timedelta(days=days)).isoformat(), TODAY)
        for days in (23, 150, -5, -99, -145, -280, -330, -800, -4000)
    }
    assert said == {
        23: "23 d",
        150: "5 mo",
        -5: "5 d ago",
        -99: "99 d ago",
        -145: "5 mo ago",
        -280: "9 mo ago",
        -330: "1 y ago",
        -800: "2 y ago",
        -4000: "11 y ago",
    }
    room = columns_for(120, rows=10_000).renews - 1  # the column starts with a space
    assert all(len(text) < room for text in said.values())


async def test_sync_inside_the_app_fills_an_empty_cache_and_pushes_the_outbox(
    settings: Settings,
) -> None:
    from csm_tui.fakes.portfolio import generate_portfolio
    from csm_tui.fakes.router import FakeApis
    from csm_tui.sources.http import HttpPolicy

    apis = FakeApis(generate_portfolio(12, seed=3, today=TODAY))
    settings.crm.base_url = "http://127.0.0.1:9"
    settings.crm.token = apis.hubspot.token
    settings.crm.owner_email = apis.portfolio.demo_owner_email
    settings.analytics.base_url = "http://127.0.0.1:9"
    settings.analytics.token = apis.posthog.token
    settings.analytics.project_id = "1"
    fast = HttpPolicy(max_retry_after=0.0)
    app = make_app(settings, transport_factory=apis.transport, sync_options={"policy": fast})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert names(app) == []  # first run: the welcome screen over an empty list
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is app.main  # the welcome screen made way for the list
        assert len(names(app)) > 0
        status = str(app.main.query_one("#status-text").render())
        assert status.startswith("● online") and "outbox empty" in status
        first = app.main.attention.current.account_id
        db = open_cache(settings.cache_path)
        actions.log_touch(
            db, account_id=first, kind="note", summary="Sent the deck", occurred_at=NOW.isoformat()
        )
        db.conn.close()
        notes_before = apis.hubspot.created["notes"]
        await pilot.press("r")
        await settle(pilot)
        assert apis.hubspot.created["notes"] == notes_before + 1
        assert app.main.status.info.waiting == 0


async def test_a_failed_action_quotes_the_error_literally(filled: Settings) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.post_message(ActionFailed("Not saved: [bold red]boom[/] \x1b[31m"))
        await settle(pilot)
        shown = [(n.message, n.markup) for n in app._notifications]
        assert ("Not saved: [bold red]boom[/] ", False) in shown


def test_zero_width_characters_cannot_break_the_columns() -> None:
    from rich.cells import cell_len

    from csm_tui.ui.safe_text import clean, fit

    shown = clean("Zero\u200bWidth\u200d\ufeffJoiner Co")
    assert shown == "ZeroWidthJoiner Co"
    assert cell_len(fit("Ｆｕｌｌｗｉｄｔｈ Ｃｏｒｐ", 11)) == 11


def test_a_keymap_that_takes_a_key_from_another_action_says_so() -> None:
    from csm_tui.ui.keymap import check_keymap

    warnings = check_keymap({"snooze": "l", "next-theme": "ctrl+t"})
    assert warnings == [
        "keymap: l now does 'Snooze the account until a date'; "
        "'Log a touch (call, email, meeting, QBR, note)' lost it"
    ]
    assert check_keymap({"snooze": "l", "log-touch": "L"}) == []  # a swap, not a loss


def test_a_damaged_cache_is_a_one_line_error_before_the_screen_opens(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from csm_tui.cli import main

    settings.cache_path.parent.mkdir(parents=True)
    settings.cache_path.write_bytes(b"this is not a database" * 100)
    assert main(["app"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("csm-tui: The cache ") and "damaged" in err and "\n" not in err
