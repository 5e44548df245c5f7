"""New data from a sync (the app's own or cron's) never moves the cursor the user has moved."""

from __future__ import annotations

import pytest
import sqlite_utils
from support.apps import fill_cache, make_app, settle

from csm_tui.config import Settings
from csm_tui.ui.messages import RowsLoaded
from csm_tui.ui.widgets.attention_list import name_width_of


@pytest.fixture
def filled(settings: Settings, db: sqlite_utils.Database) -> Settings:
    """The default workspace's cache with the UI tests' six accounts."""
    fill_cache(db)
    return settings


async def test_keys_pressed_while_new_data_is_read_are_not_undone(
    filled: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rows = list(app.main.attention.rows)
        assert app.main.attention.current == rows[0]
        requests: list[int] = []
        # Hold the read back, as a slow cache would, to press a key while it is under way.
        monkeypatch.setattr(
            app.listing, "_load_rows", lambda generation, *_: requests.append(generation)
        )
        app.listing.show_new_data()  # what a sync that just finished (here or in cron) asks for
        await pilot.press("j", "j")
        app.post_message(RowsLoaded(rows, requests[-1], len(rows), name_width_of(rows)))
        await settle(pilot)
        assert app.main.attention.current == rows[2]  # where the user went, not where it was
        assert app.main.detail.account_id == rows[2].account_id
