"""The demo workspace synced from the in-process fakes, on a pinned day (as `csm-tui demo`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from csm_tui.commands import demo
from csm_tui.config import Settings
from csm_tui.sync import engine

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@contextmanager
def synced_demo(root: Path, accounts: int = 300, seed: int = 7) -> Iterator[Settings]:
    """The demo book of ``accounts`` synced into a data dir under ``root``, as of TODAY."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CSM_TUI_CONFIG", str(root / "config.toml"))
        mp.setenv("CSM_TUI_DATA_DIR", str(root / "data"))
        apis, transport = demo.build_demo(accounts, seed, TODAY, clock=lambda: NOW)
        settings = demo.demo_settings(
            Settings(data_dir=root / "data"),
            apis.portfolio.demo_owner_email,
            apis.hubspot.token,
            apis.posthog.token,
        )
        engine.sync_blocking(
            settings,
            full=True,
            transport=transport(),
            today=TODAY,
            clock=lambda: NOW,
            policy=demo.IN_PROCESS,
        )
        yield settings
