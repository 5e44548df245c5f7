"""The README's screenshot: the main screen on a small generated demo book, as a user sees it.

Regenerate after an intended change with: pytest tests/test_readme_screenshot.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from support.demo_book import sync_demo
from textual.pilot import Pilot

from csm_tui.ui.app import CsmApp

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

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
