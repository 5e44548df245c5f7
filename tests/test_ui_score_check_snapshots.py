"""The portfolio screen on the demo book, with the score check's panel (120x40 and 80x24).

Regenerate after an intended change with:
pytest tests/test_ui_score_check_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from support.apps import settle
from support.demo_book import TODAY, synced_demo
from support.flows import Host
from textual.pilot import Pilot

from csm_tui.config import Settings
from csm_tui.ui.screens.portfolio import PortfolioScreen


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with synced_demo(tmp_path_factory.mktemp("demo-panel")) as settings:
        yield settings


async def loaded(pilot: Pilot) -> None:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PortfolioScreen)
    assert screen.check is not None and screen.report is not None  # both workers answered


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_portfolio_shows_the_score_check(
    snap_compare: Callable[..., bool], demo_settings: Settings, size: tuple[int, int]
) -> None:
    app = Host(lambda: PortfolioScreen(demo_settings, TODAY))
    assert snap_compare(app, terminal_size=size, run_before=loaded)
