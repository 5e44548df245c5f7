"""The app opens on remembered settings only when every input of the settings is unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from support.apps import fill_cache, make_app, names, settle

from csm_tui.config import Settings, load_settings
from csm_tui.opening import Opening, remember, remembered


def _config(tmp_path: Path, text: str) -> None:
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")


def test_a_start_with_the_same_inputs_gets_the_validated_opening_values(tmp_path: Path) -> None:
    _config(tmp_path, 'theme = "csm-light"\n[keymap]\nlog_touch = "ctrl+l"\n')
    settings = load_settings(workspace="acme")
    assert remembered("acme") is None  # nothing remembered yet
    remember(settings, "acme")
    found = remembered("acme")
    assert found == Opening(settings.data_dir, "acme", "csm-light", {"log_touch": "ctrl+l"})
    assert found.cache_path == settings.cache_path
    assert found.config_file == settings.config_file


def test_a_changed_config_file_variable_or_flag_is_a_new_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, 'theme = "csm-light"\n')
    remember(load_settings(), None)
    assert remembered(None) is not None
    assert remembered("other") is None  # another --workspace
    monkeypatch.setenv("CSM_TUI_THEME", "csm-dark")
    assert remembered(None) is None  # a variable the settings read
    monkeypatch.delenv("CSM_TUI_THEME")
    assert remembered(None) is not None
    _config(tmp_path, 'theme = "csm-high-contrast"\n')
    assert remembered(None) is None  # the config file changed


def test_the_memo_holds_no_token_and_survives_being_damaged(tmp_path: Path) -> None:
    _config(tmp_path, '[crm]\ntoken = "pat-na1-secret-1234"\n')
    settings = load_settings()
    remember(settings, None)
    memo = tmp_path / "xdg-cache" / "csm-tui" / "opening.json"
    assert memo.exists() and "secret" not in memo.read_text()
    memo.write_text("{not json")
    assert remembered(None) is None  # a damaged memo is a slow start, not an error
    remember(settings, None)
    assert remembered(None) == Opening.of(settings)


# -- the app on remembered values ------------------------------------------------------------


@pytest.fixture
def filled(settings: Settings, db: sqlite_utils.Database) -> Settings:
    """The default workspace's cache with the UI tests' six accounts."""
    fill_cache(db)
    return settings


async def test_the_app_opens_on_remembered_values_and_validates_them_once_drawn(
    filled: Settings,
) -> None:
    loads: list[Settings] = []

    def loader() -> Settings:
        loads.append(load_settings())
        return loads[-1]

    app = make_app(Opening.of(filled), settings_loader=loader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert len(names(app)) == 6  # the list, from the remembered cache path
        assert len(loads) == 1  # validated once, after the first screen
        assert app.settings is loads[0]


async def test_remembered_values_unlike_the_settings_give_way_to_the_settings(
    filled: Settings,
) -> None:
    stale = Opening(filled.data_dir, "elsewhere", "csm-light", {})  # an empty workspace
    app = make_app(stale, settings_loader=load_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.opening == Opening.of(filled)
        assert app.theme == filled.theme
        assert len(names(app)) == 6  # reread from the validated workspace


def test_the_first_screen_imports_neither_pydantic_nor_sqlite_utils_nor_the_scoring_models() -> (
    None
):
    code = (
        "import sys\n"
        "import csm_tui.cli, csm_tui.opening, csm_tui.commands.app, csm_tui.ui.app\n"
        "heavy = ('pydantic', 'pydantic_settings', 'sqlite_utils', 'importlib.metadata',\n"
        "         'csm_tui.domain.models', 'csm_tui.store.detail')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr
