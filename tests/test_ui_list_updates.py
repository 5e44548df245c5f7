"""After an action the app changes only what changed: one row moves to its rank, the detail
pane's unchanged parts stay as they are, the closed form leaves the DOM once the result is
shown, and the long-lived objects are kept out of the garbage collector's full scans."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import date

import sqlite_utils
from support.apps import fill_cache, make_app, settle
from textual.app import App, ComposeResult
from textual.content import Content
from textual.widgets import Static

from csm_tui.config import Settings
from csm_tui.store.views import AttentionItem
from csm_tui.ui.app import CsmApp
from csm_tui.ui.screens.log_touch import LogTouchScreen
from csm_tui.ui.themes import VARIABLE_DEFAULTS
from csm_tui.ui.widgets.attention_list import AttentionList
from csm_tui.ui.widgets.content_updates import update_if_changed

TODAY = date(2026, 11, 23)


def item(n: int, priority: float, health: int = 50) -> AttentionItem:
    return AttentionItem(
        account_id=str(n),
        name=f"Account {n:03d}",
        domain=f"a{n}.example",
        health=health,
        band="yellow",
        trend=None,
        arr=10_000.0,
        renewal_date=None,
        stage="adoption",
        tier=None,
        priority=priority,
        reasons=(),
        opportunity=False,
    )


class ListHost(App[None]):
    """The list alone, styled as in the app (the cursor and marks need the app's CSS)."""

    CSS_PATH = CsmApp.CSS_PATH

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        yield AttentionList(TODAY, id="attention")


def shown_lines(widget: AttentionList) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def test_a_reranked_row_moves_to_its_place_and_every_index_follows() -> None:
    app = ListHost()
    async with app.run_test(size=(100, 20)) as pilot:
        widget = app.query_one(AttentionList)
        widget.set_rows([item(n, 100.0 - n) for n in range(40)])
        widget.cursor = 30
        await pilot.pause()
        moved = replace(widget.rows[30], priority=99.5, health=12)  # now second
        assert widget.rerank_row("30", moved)
        await pilot.pause()
        order = [r.account_id for r in widget.rows]
        assert order[:3] == ["0", "30", "1"] and len(order) == 40
        assert all(widget.index_of(aid) == i for i, aid in enumerate(order))
        assert widget.current is moved  # the cursor stayed on the account
        line = next(text for text in shown_lines(widget) if "Account 030" in text)
        assert line.lstrip().startswith("2 ") and " 12 " in line


async def test_the_screen_after_cursor_moves_and_a_rerank_is_what_a_full_repaint_shows() -> None:
    # Only the rows that changed are repainted; a stale line left on screen would differ here.
    app = ListHost()
    async with app.run_test(size=(100, 20)) as pilot:
        widget = app.query_one(AttentionList)
        widget.set_rows([item(n, 100.0 - n) for n in range(40)])
        await pilot.pause()

        async def same_as_a_full_repaint() -> bool:
            partly_repainted = app.export_screenshot()
            widget.refresh()
            await pilot.pause()
            return app.export_screenshot() == partly_repainted

        await pilot.press("j", "j")
        await pilot.pause()
        assert await same_as_a_full_repaint()
        await pilot.press("k")
        widget.rerank_row("6", replace(widget.rows[6], priority=99.5, health=12))
        await pilot.pause()
        assert await same_as_a_full_repaint()
        assert widget.current is not None and widget.current.account_id == "1"


async def test_the_scrollbar_follows_a_longer_list_and_a_resized_terminal() -> None:
    app = ListHost()
    async with app.run_test(size=(100, 20)) as pilot:
        widget = app.query_one(AttentionList)
        widget.set_rows([item(n, 100.0 - n) for n in range(40)])
        await pilot.pause()
        short_list = app.export_screenshot()
        widget.set_rows([item(n, 1000.0 - n) for n in range(400)])
        await pilot.pause()
        long_list = app.export_screenshot()
        assert long_list != short_list  # a smaller thumb, among others
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        resized = app.export_screenshot()
        widget.vertical_scrollbar.refresh()
        widget.refresh()
        await pilot.pause()
        assert app.export_screenshot() == resized


async def test_an_unchanged_part_of_the_detail_is_not_updated_again() -> None:
    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(id="part")

    app = Host()
    async with app.run_test() as pilot:
        part = app.query_one("#part", Static)
        first = Content.styled("Health 41", "bold")
        update_if_changed(part, first)
        await pilot.pause()
        update_if_changed(part, Content.styled("Health 41", "bold"))
        assert part.content is first  # the same text and styles: left alone
        recoloured = Content.styled("Health 41", "italic")
        update_if_changed(part, recoloured)
        assert part.content is recoloured  # same text, other styles: updated


async def test_a_saved_form_leaves_the_dom_once_its_result_is_shown(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    fill_cache(db)
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, LogTouchScreen)
        await pilot.click("#summary")
        await pilot.press(*"Called about the renewal", "ctrl+s")
        await settle(pilot)
        assert app.screen is app.main
        for _ in range(100):  # it is removed a moment after the result is shown
            if not form.is_attached:
                break
            await pilot.pause(0.05)
        assert not app.is_screen_installed(form) and not form.is_attached
        assert "Called about the renewal" in str(
            app.main.query_one("#detail-timeline", Static).content
        )


async def test_a_cancelled_form_leaves_the_dom(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    fill_cache(db)
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert form is not app.main
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.main
        assert not app.is_screen_installed(form) and not form.is_attached


async def test_the_shown_book_is_kept_out_of_full_collections_until_the_app_exits(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    fill_cache(db)
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
