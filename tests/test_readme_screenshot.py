"""The README's screenshot: the main screen on a small generated demo book, as a user sees it:
the default theme, loaded from its shipped file, the list focused.

Regenerate after an intended change with: pytest -n0 tests/test_readme_screenshot.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from support.demo_book import sync_demo
from textual.pilot import Pilot

from csm_tui.config import Settings
from csm_tui.ui.app import CsmApp
from csm_tui.ui.themes import DEFAULT_THEME, load_theme_file, shipped_themes_dir

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def demo_app(isolated_env) -> CsmApp:
    settings, _ = sync_demo(isolated_env / "data", 60, 7, now=NOW)
    app = CsmApp(settings, today=TODAY, clock=lambda: NOW, auto_sync=False)
    app.detail_debounce = 0
    return app


def test_main_screen_on_the_demo_book(snap_compare: Callable[..., bool], isolated_env) -> None:
    app = demo_app(isolated_env)

    async def run_before(pilot: Pilot) -> None:
        for _ in range(3):
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
        # The theme a new user gets: the settings' default, drawn from the shipped file (a
        # theme that failed to load would leave Textual's own in the picture).
        themes = shipped_themes_dir()
        assert themes is not None
        assert pilot.app.theme == Settings().theme == DEFAULT_THEME
        assert pilot.app.current_theme == load_theme_file(themes / f"{DEFAULT_THEME}.toml")
        assert pilot.app.focused is app.main.attention

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
