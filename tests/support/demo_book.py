"""The demo workspace synced from the in-process fakes, on a pinned day (as `csm-tui demo`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from csm_tui.commands import demo
from csm_tui.config import Settings
from csm_tui.fakes.router import FakeApis
from csm_tui.sync import engine

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def sync_demo(
    data_dir: Path, accounts: int = 300, seed: int = 7, now: datetime = NOW
) -> tuple[Settings, FakeApis]:
    """The demo book of ``accounts`` synced into ``data_dir`` as of ``now``, unpaced as `csm-tui
    demo` does (in-process fakes have no rate budget); its settings and the fakes it came from."""
    today = now.date()
    apis, transport = demo.build_demo(accounts, seed, today, clock=lambda: now)
    settings = demo.demo_settings(
        Settings(data_dir=data_dir),
        apis.portfolio.demo_owner_email,
        apis.hubspot.token,
        apis.posthog.token,
    )
    engine.sync_blocking(
        settings,
        full=True,
        transport=transport(),
        today=today,
        clock=lambda: now,
        policy=demo.IN_PROCESS,
    )
    return settings, apis


@contextmanager
def demo_env(root: Path) -> Iterator[Path]:
    """Config and data dir under ``root`` for the time of the block (a module's fixture cannot
    use the per-test isolated_env); the data dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CSM_TUI_CONFIG", str(root / "config.toml"))
        mp.setenv("CSM_TUI_DATA_DIR", str(root / "data"))
        yield root / "data"


@contextmanager
def synced_demo(
    root: Path, accounts: int = 300, seed: int = 7, now: datetime = NOW
) -> Iterator[Settings]:
    """The demo book of ``accounts`` synced into a data dir under ``root``, as of ``now``."""
    with demo_env(root) as data_dir:
        settings, _ = sync_demo(data_dir, accounts, seed, now)
        yield settings
