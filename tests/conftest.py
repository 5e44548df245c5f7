"""Shared fixtures: every test runs in its own data dir and config file, never the real home."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils
from support.clocks import Clock

from csm_tui.config import Settings, load_settings
from csm_tui.fakes.portfolio import Portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.store.db import open_cache

# The reliability suites' loopback world (its fixtures: portfolio, module_env, base_cache, world);
# a test module's own fixture of the same name wins.
pytest_plugins = ["support.loopback"]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point data dir and config at tmp_path and drop any CSM_TUI_* variable from the caller."""
    for key in list(os.environ):
        if key.upper().startswith("CSM_TUI_"):
            monkeypatch.delenv(key)
    data = tmp_path / "data"
    monkeypatch.setenv("CSM_TUI_DATA_DIR", str(data))
    monkeypatch.setenv("CSM_TUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path


@pytest.fixture
def clock(portfolio: Portfolio) -> Clock:
    """The fake services' clock: 8 hours after the test's ``portfolio`` was generated."""
    return Clock(portfolio.now + timedelta(hours=8))


@pytest.fixture
def apis(portfolio: Portfolio, clock: Clock) -> FakeApis:
    """The fake HubSpot and PostHog serving the test's ``portfolio`` on ``clock``."""
    return FakeApis(portfolio, clock=clock)


@pytest.fixture
def settings(isolated_env: Path) -> Settings:
    """Default settings inside the isolated environment."""
    return load_settings()


@pytest.fixture
def db(settings: Settings) -> sqlite_utils.Database:
    """A fresh, migrated cache for the default workspace."""
    database = open_cache(settings.cache_path)
    yield database
    database.conn.close()
