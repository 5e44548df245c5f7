"""The modals as a CSM drives them with the keyboard: what they dismiss, and what they refuse.

Each screen is pushed by a tiny host app (support.flows.Host) whose callback keeps the dismissed
value.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
from rich.console import Console
from support.apps import burst, fill_cache, make_app, settle
from support.flows import CONTACTS, NOW, TODAY, Host, build_book, build_portfolio
from textual import events
from textual.app import App
from textual.color import Color
from textual.content import Content
from textual.widgets import Input, OptionList, RadioSet, Static, TextArea

from csm_tui.config import Settings
from csm_tui.domain.enrollment import EnrollAccount, EnrollContact, plan_enrollment
from csm_tui.store import actions
from csm_tui.store.actions import EnrollmentRequest
from csm_tui.ui.drafts import NextStepDraft, SnoozeDraft, TouchDraft
from csm_tui.ui.keymap import help_rows
from csm_tui.ui.screens.confirm import ConfirmScreen
from csm_tui.ui.screens.enroll import (
    MAX_EXCLUDED_ROWS,
    MAX_INCLUDED_ROWS,
    EnrollScreen,
    excluded_table,
    included_table,
)
from csm_tui.ui.screens.help import HelpScreen, grouped
from csm_tui.ui.screens.log_touch import LogTouchScreen
from csm_tui.ui.screens.next_step import NextStepScreen
from csm_tui.ui.screens.portfolio import PortfolioScreen, heatmap
from csm_tui.ui.screens.segment import SegmentScreen
from csm_tui.ui.screens.snooze import SnoozeScreen
from csm_tui.ui.screens.welcome import WelcomeScreen


def screen_text(app: App[Any]) -> str:
    """What the terminal shows right now, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def error_text(app: App[Any]) -> str:
    return str(app.screen.query_one("#error", Static).render())


# -- log a touch ----------------------------------------------------------------------------


def log_touch() -> LogTouchScreen:
    return LogTouchScreen("Acme", CONTACTS, NOW)


async def test_log_a_touch_fills_every_field_and_ctrl_s_dismisses_the_draft() -> None:
    app = Host(log_touch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"Renewal ok")  # the form opens in the summary
        await pilot.press("tab", "right")  # sentiment: positive
        await pilot.press("tab", *"Quote", "tab", *"fri")
        await pilot.press("tab", "right", "right")  # round to the kind: call -> email -> meeting
        await pilot.press("tab", *"2d ago")  # the field starts as "now", selected
        await pilot.press("tab", "enter", "down", "enter")  # contact: Jane Doe
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.results == [
        TouchDraft(
            kind="meeting",
            occurred_at=NOW - timedelta(days=2),
            contact_id="c1",
            summary="Renewal ok",
            sentiment="positive",
            next_step_title="Quote",
            next_step_due=date(2026, 11, 27),
        )
    ]
    assert app.results[0].occurred_at.tzinfo is UTC


async def test_focus_starts_in_the_summary_and_tab_walks_the_form_round_to_it() -> None:
    app = Host(log_touch)
    async with app.run_test(size=(80, 24)) as pilot:
        order = [app.focused.id]
        for _ in range(7):
            await pilot.press("tab")
            order.append(app.focused.id)
        await pilot.press("shift+tab")
        back = app.focused.id
    assert order == ["summary", "sentiment", "next-step-title", "due", "kind", "when", "contact",
                     "summary"]  # fmt: skip
    assert back == "contact"


async def test_keys_typed_right_behind_l_land_in_the_summary(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    # The form comes a read of the contacts after the l: typed meanwhile, the letters went to
    # the list (and the second l opened a second form).
    fill_cache(db)
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l", *"hello")
        await settle(pilot)
        assert isinstance(app.screen, LogTouchScreen)
        assert app.screen.query_one("#summary", TextArea).text == "hello"
        assert sum(isinstance(s, LogTouchScreen) for s in app.screen_stack) == 1
        await pilot.press("escape", "y")
        await settle(pilot)
        # One read from the terminal (a paste, a text expander): every key queued before the l.
        burst(app, "l", "o", "k", "tab", "right")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, LogTouchScreen)
        assert form.query_one("#summary", TextArea).text == "ok"
        assert form.query_one("#sentiment", RadioSet).pressed_index == 1  # positive
        assert app.main.attention.current.name == "Acme Analytics"  # k never moved the list
        await pilot.press("escape", "y")
        await settle(pilot)
        burst(app, "l")  # a paste right behind the l waits for the form
        app.post_message(events.Paste("Renewal call, pasted"))
        await settle(pilot)
        assert app.screen.query_one("#summary", TextArea).text == "Renewal call, pasted"


async def test_keys_typed_right_behind_n_or_z_land_in_their_form(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    # One read from the terminal each: the keys behind n or z went to the list (j moved it,
    # enter opened the account) before the form was up.
    from csm_tui.ui.screens.snooze import QUICK_DAYS

    fill_cache(db)
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        burst(app, "n", "j", "o", "b", "tab", "+", "3", "d")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, NextStepScreen)
        assert form.query_one("#title", Input).value == "job"
        assert form.query_one("#due", Input).value == "+3d"
        assert app.main.attention.current.name == "Acme Analytics"  # j never moved the list
        await pilot.press("escape", "y")
        await settle(pilot)
        burst(app, "z", "7", "j")
        await settle(pilot)
        snooze = app.screen
        assert isinstance(snooze, SnoozeScreen)
        assert snooze.query_one("#durations", OptionList).highlighted == QUICK_DAYS.index(7)
        assert app.main.attention.current.name == "Acme Analytics"
        await pilot.press("escape")
        await settle(pilot)
        # In the filter box n and z are letters.
        await pilot.press("slash", *"zn")
        await settle(pilot)
        assert app.main.query_one("#filter-input", Input).value == "zn"
        assert app.screen is app.main


async def test_keys_typed_right_behind_s_land_in_the_enroll_form(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    # The form reads the sequences first: the j and enter typed behind the s went to the list
    # (enter opened the account screen).
    fill_cache(db)
    db["sequences"].insert_all(
        [
            {"id": "s1", "name": "Renewal nurture", "steps": 4},
            {"id": "s2", "name": "Webinar invite", "steps": 2},
        ]
    )
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        burst(app, "s", "j", "enter")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, EnrollScreen)
        assert form.step != "sequence"  # the enter chose the second sequence and went on
        assert form.query_one("#sequences", OptionList).highlighted == 1
        assert app.main.attention.current.name == "Acme Analytics"


async def test_keys_typed_right_behind_f_choose_the_segment(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    # f, j, enter in one burst: the enter reached the list first and opened the account.
    fill_cache(db)
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        burst(app, "f", "j", "enter")
        await settle(pilot)
        assert app.screen is app.main
        assert app.main.segment == "Renewals at risk"  # the one after "All accounts"


async def test_keys_typed_right_behind_tab_land_in_the_next_field() -> None:
    app = Host(log_touch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"Call", "shift+tab", "shift+tab", "shift+tab")  # back to the kind
        assert app.focused.id == "kind"
        # One burst: as a plain binding the tab moved the focus only after "3h" reached the kind.
        burst(app, "tab", "8", "a", "m", "shift+tab", "right")
        await pilot.pause()
        await pilot.pause()
        assert app.screen.query_one("#when", Input).value == "8am"  # "now" was selected: replaced
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.results[0].kind == "email"
    assert app.results[0].occurred_at == NOW.replace(hour=8, minute=0)


async def test_local_time_is_stored_in_utc() -> None:
    paris = datetime(2026, 11, 23, 13, 30, tzinfo=UTC).astimezone(
        __import__("datetime").timezone(timedelta(hours=1))
    )
    app = Host(lambda: LogTouchScreen("Acme", [], paris))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("x", "shift+tab", "shift+tab", *"9:30", "ctrl+s")
        await pilot.pause()
    assert app.results[0].occurred_at == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    assert app.results[0].contact_id is None and app.results[0].sentiment is None


async def test_an_invalid_when_shows_why_and_does_not_dismiss() -> None:
    app = Host(log_touch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("shift+tab", "shift+tab", *"soon", "tab", "tab", "x", "ctrl+s")
        await pilot.pause()
        assert app.results == []
        assert isinstance(app.screen, LogTouchScreen)
        assert "When: not a time: 'soon'" in error_text(app)
        assert app.focused.id == "when"  # straight back to the field to fix
        await pilot.press(*"3h ago", "ctrl+s")
        await pilot.pause()
    assert app.results[0].occurred_at == NOW - timedelta(hours=3)


async def test_a_touch_in_the_future_or_without_summary_is_refused() -> None:
    app = Host(log_touch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Summary: write a few words" in error_text(app)
        await pilot.press("shift+tab", "shift+tab", *"2099-01-01", "ctrl+s")
        await pilot.pause()
        assert "in the future" in error_text(app)
    assert app.results == []


async def test_a_due_date_without_a_next_step_title_is_refused() -> None:
    app = Host(log_touch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("x", "tab", "tab", "tab", *"+1d", "ctrl+s")
        await pilot.pause()
        assert "Next step: give it a title" in error_text(app)
        assert app.focused.id == "next-step-title"
    assert app.results == []


async def test_escape_with_typed_text_asks_before_discarding() -> None:
    app = Host(log_touch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"Notes", "escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep typing
        await pilot.pause()
        assert isinstance(app.screen, LogTouchScreen) and app.results == []
        await pilot.press("escape", "y")
        await pilot.pause()
    assert app.results == [None]


async def test_escape_on_an_untouched_form_closes_at_once() -> None:
    app = Host(log_touch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_crm_text_is_shown_literally() -> None:
    app = Host(lambda: LogTouchScreen("Acme [bold]Corp\x1b[31m", CONTACTS, NOW))
    async with app.run_test(size=(80, 24)):
        title = app.screen.query_one("#form").border_title
    # The border title is stored as markup; what shows is the name as typed, escapes removed.
    assert Content.from_markup(title).plain == "Log a touch · Acme [bold]Corp"


# -- next step, snooze, segment, confirm ------------------------------------------------------


async def test_next_step_with_a_due_day() -> None:
    app = Host(lambda: NextStepScreen("Acme", TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"QBR", "enter", *"+3d", "enter")
        await pilot.pause()
    assert app.results == [NextStepDraft("QBR", date(2026, 11, 26))]


async def test_next_step_refuses_a_past_day_and_an_empty_title() -> None:
    app = Host(lambda: NextStepScreen("Acme", TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "needs a title" in error_text(app)
        await pilot.press(*"Call", "tab", *"2026-11-01", "ctrl+s")
        await pilot.pause()
        assert "2026-11-01 has passed" in error_text(app)
        await pilot.press("ctrl+u", "ctrl+s")  # no due day is fine
        await pilot.pause()
    assert app.results == [NextStepDraft("Call", None)]


async def test_snooze_keys_pick_a_duration_then_enter_saves_with_the_reason() -> None:
    app = Host(lambda: SnoozeScreen("Acme", TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        assert app.focused.id == "reason"
        assert app.screen.query_one("#until", Input).value == "2026-11-30"
        await pilot.press(*"off 3w", "enter")  # digits type in the reason field
        await pilot.pause()
    assert app.results == [SnoozeDraft(date(2026, 11, 30), "off 3w")]


async def test_snooze_one_day_and_three_days() -> None:
    for key, days in (("1", 1), ("3", 3)):
        app = Host(lambda: SnoozeScreen("Acme", TODAY))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(key, "enter")
            await pilot.pause()
        assert app.results == [SnoozeDraft(TODAY + timedelta(days=days), "")]


async def test_snooze_until_a_typed_date_and_not_today() -> None:
    app = Host(lambda: SnoozeScreen("Acme", TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", *"today", "enter", "enter")
        await pilot.pause()
        assert "choose a day after today" in error_text(app) and app.results == []
        await pilot.press("ctrl+u", *"+22d", "ctrl+s")
        await pilot.pause()
    assert app.results == [SnoozeDraft(date(2026, 12, 15), "")]


async def test_segment_pick_all_accounts_and_cancel() -> None:
    segments = ["Renewals at risk", "Going dark"]
    app = Host(lambda: SegmentScreen(segments, "Going dark"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.query_one(OptionList).highlighted == 2  # the current one
        await pilot.press("up", "enter")
        await pilot.pause()
        app.push_screen(SegmentScreen(segments, "Going dark"), app.results.append)
        await pilot.pause()
        await pilot.press("home", "enter")
        await pilot.pause()
        app.push_screen(SegmentScreen(segments, "Going dark"), app.results.append)
        await pilot.pause()
        await pilot.press("escape")  # cancelling keeps the current segment
        await pilot.pause()
    assert app.results == ["Renewals at risk", None, "Going dark"]


async def test_confirm_answers() -> None:
    app = Host(lambda: ConfirmScreen("Sure?"))
    async with app.run_test() as pilot:
        assert app.focused.id == "no"
        await pilot.press("enter")
        await pilot.pause()
        app.push_screen(ConfirmScreen("Sure?"), app.results.append)
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert app.results == [False, True]


async def test_help_lists_every_key_grouped_and_escape_closes() -> None:
    rows = [("j/↓", "Down"), ("l", "Log"), ("/", "Filter"), ("r", "Sync"), ("x", "Mystery")]
    app = Host(lambda: HelpScreen(rows))
    async with app.run_test(size=(80, 40)) as pilot:
        shown = screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        closed = app.results == [None]
    for title in ("Move", "Act on accounts", "Find", "App", "Other", "In forms"):
        assert title in shown
    assert "Mystery" in shown and closed


def test_every_real_key_lands_in_a_named_help_group() -> None:
    groups = dict(grouped(help_rows({})))
    assert "Other" not in groups
    assert ("l", "Log a touch (call, email, meeting, QBR, note)") in groups["Act on accounts"]
    assert ("j/↓", "Next account") in groups["Move"]
    assert ("f", "Choose a segment") in groups["Find"]
    assert ("r", "Sync now: push the outbox, pull the CRM and analytics") in groups["App"]
    remapped = dict(grouped(help_rows({"log-touch": "L"})))
    assert ("L", "Log a touch (call, email, meeting, QBR, note)") in remapped["Act on accounts"]


async def test_welcome_says_how_to_configure_and_escape_continues() -> None:
    # Paths as a user has them (only shown, never opened): a test's own tmp path can be long
    # enough to wrap, which the screen does rightly and the search below would miss.
    home = Path("/home/casey/.config/csm-tui")
    app = Host(lambda: WelcomeScreen(home / "config.toml", home / "data"))
    async with app.run_test(size=(120, 40)) as pilot:
        text = screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
    for needed in ("CSM_TUI_CRM__TOKEN", "CSM_TUI_ANALYTICS__TOKEN", "CSM_TUI_ANALYTICS__PROJECT_ID",
                   "csm-tui demo", str(home / "config.toml"), "[crm]"):  # fmt: skip
        assert needed in text
    assert app.results == [None]


async def test_welcome_q_quits(tmp_path: Path) -> None:
    app = Host(lambda: WelcomeScreen(tmp_path / "config.toml", tmp_path / "data"))
    exits: list[tuple[Any, ...]] = []
    async with app.run_test() as pilot:
        app.exit = lambda *args, **kw: exits.append(args)  # type: ignore[method-assign]
        await pilot.press("q")
        await pilot.pause()
    assert exits == [()] and app.results == []


# -- enroll ---------------------------------------------------------------------------------


def enroll_screen(settings: Settings) -> Callable[[], EnrollScreen]:
    return lambda: EnrollScreen(settings, ["a1", "a2", "a3"], TODAY)


async def test_enroll_preview_counts_and_says_why_each_contact_is_out(settings, db) -> None:
    build_book(db)
    app = Host(enroll_screen(settings))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # Renewal nurture (sorted first)
        await pilot.press("enter")  # Admins
        await pilot.pause()
        shown = screen_text(app)
        plan = app.screen.plan
    assert "Enroll 2 contacts from 2 of 3 accounts" in shown
    assert "Excluded 5:" in shown
    assert "1 account with nobody to enroll: Initech" in shown
    assert [i.contact.name for i in plan.included] == [
        "Jane Doe",
        "Gil Moss",  # finished a sequence in September: long enough ago
    ]
    why = {e.contact.name: e.reason for e in plan.excluded}
    assert why == {
        "Bob Stone": "unsubscribed",
        "Dan Fox": "no email",
        "Eve Hart": "already enrolled in a sequence",
        "Fay Lund": "enrolled in the last 30 days",
        "Ian Orr": "churned account",
    }
    for name, reason in why.items():  # each on screen, on the contact's line
        [line] = [ln for ln in shown.splitlines() if name in ln]
        assert reason in line


async def test_enroll_confirm_returns_the_requests_and_they_reach_the_outbox(settings, db) -> None:
    build_book(db)
    app = Host(enroll_screen(settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "down", "down", "down", "enter")  # everyone with an email
        await pilot.pause()
        bounced = "email bounced" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
    assert bounced
    [requests] = app.results
    assert requests == [
        EnrollmentRequest("c1", "a1", "s1", "csm@us.test", "u1"),
        EnrollmentRequest("c7", "a2", "s1", "lead@us.test", "u2"),
        EnrollmentRequest("c8", "a2", "s1", "lead@us.test", "u2"),
    ]
    actions.enroll(db, requests)
    rows = list(db.query("SELECT payload, state FROM outbox ORDER BY rowid"))
    assert [json.loads(r["payload"]) for r in rows] == [
        {"contact_id": c, "sequence_id": "s1", "sender_email": s, "user_id": u}
        for c, s, u in (("c1", "csm@us.test", "u1"), ("c7", "lead@us.test", "u2"),
                        ("c8", "lead@us.test", "u2"))
    ]  # fmt: skip
    assert {r["state"] for r in rows} == {"pending"}
    assert db["enrollments"].count == 6  # 3 from the CRM + 3 queued


async def test_enroll_escape_goes_back_a_step_then_cancels(settings, db) -> None:
    build_book(db)
    app = Host(enroll_screen(settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter", "enter")  # Webinar invite, admins: preview
        await pilot.pause()
        assert app.screen.step == "preview"
        await pilot.press("escape")
        assert app.screen.step == "audience"
        await pilot.press("escape")
        assert app.screen.step == "sequence"
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_enroll_with_no_sequences_synced_says_what_to_do(settings, db) -> None:
    db["accounts"].insert({"id": "a1", "name": "Acme"})
    app = Host(enroll_screen(settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        message = str(app.screen.query_one("#message", Static).render())
        await pilot.press("enter")  # nothing to confirm: enter does nothing
        await pilot.pause()
        still_open = isinstance(app.screen, EnrollScreen)
    assert "No sequences synced from the CRM yet" in message and still_open


async def test_enroll_without_a_cache_says_so_instead_of_crashing(settings) -> None:
    app = Host(enroll_screen(settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        message = str(app.screen.query_one("#message", Static).render())
    assert "No cache at" in message


# -- portfolio ------------------------------------------------------------------------------


async def test_portfolio_shows_the_book_and_switches_period(settings, db) -> None:
    build_portfolio(db)
    app = Host(lambda: PortfolioScreen(settings, TODAY))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        ninety = screen_text(app)
        await pilot.press("3")
        await settle(pilot)
        year = screen_text(app)
        await pilot.press("c")
        revenue = screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
    assert "26 Aug 2026 – 23 Nov 2026" in ninety
    assert "Logo churn     14.3%  1 of 7 accounts" in ninety  # Hooli churned in October
    assert "NPS              +25  4 answers" in ninety
    assert "● healthy 50% (3)  ◐ watch 17% (1)  ○ at risk 33% (2)" in ninety
    assert "24 Nov 2025 – 23 Nov 2026" in year
    assert "Logo churn     40.0%  2 of 5 accounts" in year  # Globex too, in January
    assert "Logo retention by month" in year and "Gross revenue retention by month" in revenue
    assert app.results == [None]


async def test_portfolio_heatmap_takes_its_colours_from_the_theme(settings, db) -> None:
    build_portfolio(db)
    app = Host(lambda: PortfolioScreen(settings, TODAY))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        green = Color.parse(app.theme_variables["band-green"]).rich_color
        red = Color.parse(app.theme_variables["band-red"]).rich_color
        matrix = app.screen.report.cohorts_logo
        table = heatmap(matrix, app.screen._palette(), revenue=False)
    first = matrix.rows[0]  # 2025-01: two logos, Globex lost in month 12
    assert first.cells[0] == 1.0 and first.cells[12] == 0.5
    month0 = list(table.columns[2].cells)[1:]  # M0 of every cohort (after the header)
    assert all(cell.style.bgcolor == green for cell in month0)
    assert list(table.columns[2 + 12].cells)[1].style.bgcolor == red  # 50% kept


async def test_portfolio_on_an_empty_cache_says_what_to_do(settings, db) -> None:
    app = Host(lambda: PortfolioScreen(settings, TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = screen_text(app)
    assert "Nothing to report yet: sync (r) first, or try `csm-tui demo`." in shown


def test_a_huge_preview_lists_the_first_contacts_and_counts_the_rest() -> None:
    accounts = [
        EnrollAccount(f"a{i}", f"Acct {i}", sender_email="x@y", user_id="1") for i in range(300)
    ]
    contacts = [
        EnrollContact(f"c{i}", f"a{i % 300}", f"N {i}", f"n{i}@x.test" if i % 2 else None, "admin")
        for i in range(3000)
    ]  # fmt: skip
    plan = plan_enrollment(accounts, contacts, [], audience="admins", today=TODAY)
    enrolled = [str(cell) for cell in included_table(plan).columns[1].cells]
    left_out = [str(cell) for cell in excluded_table(plan).columns[1].cells]
    assert len(enrolled) == MAX_INCLUDED_ROWS + 1 and len(left_out) == MAX_EXCLUDED_ROWS + 1
    assert enrolled[-1] == f"… and {1500 - MAX_INCLUDED_ROWS:,} more to enroll"
    assert left_out[-1] == f"… and {1500 - MAX_EXCLUDED_ROWS:,} more excluded"


async def test_next_step_escape_with_a_title_asks_first() -> None:
    app = Host(lambda: NextStepScreen("Acme", TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"Call", "escape")
        await pilot.pause()
        asked = isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    assert asked and app.results == [None]


async def test_enroll_preview_shows_crm_names_literally(settings, db) -> None:
    build_book(db)
    db["contacts"].update("c2", {"first_name": "[red]Bob\x1b[2J", "last_name": "[/]"})
    db.execute("UPDATE sequences SET name = ? WHERE id = ?", ["[b]Nurture\x07", "s1"])
    app = Host(enroll_screen(settings))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "enter")
        await pilot.pause()
        shown = screen_text(app)
    assert "[red]Bob [/] <bob@acme.test>" in shown
    assert "Sequence  [b]Nurture" in shown
    assert "\x1b" not in shown and "\x07" not in shown


async def test_enroll_lists_move_with_j_and_k_like_the_attention_list(settings, db) -> None:
    build_book(db)
    app = Host(enroll_screen(settings))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "k", "enter")  # the second sequence
        await pilot.press("j", "j", "j", "enter")  # everyone with an email
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
    [requests] = app.results
    sequences = sorted(db["sequences"].rows, key=lambda r: r["name"])
    assert {r.sequence_id for r in requests} == {sequences[1]["id"]}
    assert len(requests) == 3


async def test_enroll_leaves_out_escalated_accounts_until_e_includes_them(settings, db) -> None:
    build_book(db)
    db["tickets"].insert(
        {"id": "t1", "account_id": "a2", "subject": "Outage", "status": "open",
         "priority": "HIGH", "escalated": 1, "created_at": "2026-11-20T10:00:00+00:00"}
    )  # fmt: skip
    app = Host(enroll_screen(settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "down", "down", "down", "enter")  # everyone with an email
        await pilot.pause()
        left_out = screen_text(app)
        out_plan = app.screen.plan
        await pilot.press("e")
        await pilot.pause()
        included = screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
    assert "1 account left out: open escalation (e: include them)" in left_out
    assert [i.contact.name for i in out_plan.included] == ["Jane Doe"]
    assert {e.contact.name for e in out_plan.excluded if e.reason == "open escalation"} == {
        "Gil Moss",
        "Hal Nye",
    }
    assert "Including 1 account with an open escalation (e: leave them out)" in included
    [requests] = app.results
    assert [r.contact_id for r in requests] == ["c1", "c7", "c8"]


def build_big_book(db: Any, people: int) -> None:
    """One account with ``people`` admins who may all be enrolled."""
    db["owners"].insert({"id": "o1", "email": "csm@us.test", "user_id": "u1"})
    db["accounts"].insert({"id": "a1", "name": "Acme", "owner_id": "o1"})
    db["contacts"].insert_all(
        {"id": f"c{i}", "account_id": "a1", "first_name": f"P{i}", "email": f"p{i}@acme.test",
         "role": "admin"}
        for i in range(people)
    )  # fmt: skip
    db["sequences"].insert({"id": "s1", "name": "Renewal nurture", "steps": 4})


async def test_enrolling_more_than_50_asks_for_the_number_and_a_wrong_one_queues_nothing(
    settings, db
) -> None:
    build_big_book(db, 1110)
    app = Host(lambda: EnrollScreen(settings, ["a1"], TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "enter", "enter")  # sequence, admins, enter on the preview
        await pilot.pause()
        asked = screen_text(app)
        after_one_enter = list(app.results)
        await pilot.press(*"1111", "enter")
        await pilot.pause()
        refused = screen_text(app)
        after_wrong = list(app.results)
        await pilot.press(*"1110", "enter")
        await pilot.pause()
    assert "Type 1110 to enroll 1,110 contacts" in asked and after_one_enter == []
    assert "You typed 1111, not 1110: nothing was queued." in refused and after_wrong == []
    [requests] = app.results
    assert len(requests) == 1110


async def test_enrolling_50_needs_no_typing(settings, db) -> None:
    build_big_book(db, 50)
    app = Host(lambda: EnrollScreen(settings, ["a1"], TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "enter", "enter")
        await pilot.pause()
    [requests] = app.results
    assert len(requests) == 50


async def test_a_number_typed_fast_then_enter_is_read_whole(settings, db) -> None:
    """Keys arriving in one burst (a fast typist, a paste, tmux) reach the input before enter."""

    build_big_book(db, 60)
    app = Host(lambda: EnrollScreen(settings, ["a1"], TODAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "enter", "enter")
        await pilot.pause()
        burst(app, "6", "0", "enter")  # one burst: no pause between them
        await settle(pilot)
    [requests] = app.results
    assert len(requests) == 60
