"""The app opens on remembered settings only when every input of the settings is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from csm_tui.config import load_settings
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
