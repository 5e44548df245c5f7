"""Settings: precedence of sources, and one clear line (exit 2) for anything invalid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from csm_tui.cli import main
from csm_tui.config import ConfigError, load_settings

TOKEN = "pat-na1-00000000-SECRET-TOKEN-VALUE"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_config(isolated_env: Path, text: str) -> Path:
    path = isolated_env / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_point_at_hubspot_and_posthog(settings) -> None:
    assert settings.crm.base_url == "https://api.hubapi.com"
    assert settings.analytics.base_url == "https://us.posthog.com"
    assert settings.analytics.weeks == 26
    assert settings.workspace == "default"
    assert settings.cache_path.name == "cache.db"
    assert settings.scoring.weights["usage"] == 30


def test_flags_beat_environment_beat_config_file(isolated_env, monkeypatch) -> None:
    write_config(isolated_env, 'workspace = "from-file"\n[analytics]\nweeks = 10\n')
    assert load_settings().workspace == "from-file"
    assert load_settings().analytics.weeks == 10
    monkeypatch.setenv("CSM_TUI_WORKSPACE", "from-env")
    monkeypatch.setenv("CSM_TUI_ANALYTICS__WEEKS", "12")
    assert load_settings().workspace == "from-env"
    assert load_settings().analytics.weeks == 12
    assert load_settings(workspace="from-flag").workspace == "from-flag"


def test_toml_syntax_error_is_one_line_naming_the_file(isolated_env, capsys) -> None:
    path = write_config(isolated_env, "[crm\nbase_url = 'x'\n")
    code, _, err = run_cli(capsys, "doctor")
    assert code == 2
    assert err.count("\n") == 1
    assert str(path) in err and "TOML syntax error" in err


def test_ftp_base_url_is_refused_naming_the_field(isolated_env, capsys) -> None:
    path = write_config(isolated_env, 'crm.base_url = "ftp://x"\n')
    code, _, err = run_cli(capsys, "doctor")
    assert code == 2
    assert err.count("\n") == 1
    assert str(path) in err and "crm.base_url" in err and "https" in err


def test_plain_http_is_allowed_only_on_loopback(isolated_env, monkeypatch) -> None:
    monkeypatch.setenv("CSM_TUI_CRM__BASE_URL", "http://127.0.0.1:8765")
    assert load_settings().crm.base_url == "http://127.0.0.1:8765"
    monkeypatch.setenv("CSM_TUI_CRM__BASE_URL", "http://localhost:8765/")
    assert load_settings().crm.base_url == "http://localhost:8765"
    monkeypatch.setenv("CSM_TUI_CRM__BASE_URL", "http://api.hubapi.com")
    with pytest.raises(ConfigError, match="CSM_TUI_CRM__BASE_URL"):
        load_settings()


def test_bad_environment_variable_is_named(monkeypatch, capsys) -> None:
    monkeypatch.setenv("CSM_TUI_ANALYTICS__WEEKS", "lots")
    code, _, err = run_cli(capsys, "doctor")
    assert code == 2
    assert err.count("\n") == 1
    assert "CSM_TUI_ANALYTICS__WEEKS" in err and "analytics.weeks" in err


def test_unknown_key_and_wrong_type_in_file(isolated_env) -> None:
    write_config(isolated_env, "[crm]\nbase_urll = 'https://x.example'\n")
    with pytest.raises(ConfigError, match=r"crm\.base_urll: unknown setting"):
        load_settings()
    write_config(isolated_env, "[scoring]\ngreen = 'high'\n")
    with pytest.raises(ConfigError, match=r"scoring\.green"):
        load_settings()


def test_bad_workspace_name_cannot_escape_the_data_dir(capsys) -> None:
    code, _, err = run_cli(capsys, "doctor", "--workspace", "../../etc")
    assert code == 2
    assert "workspace" in err


def test_token_never_appears_in_errors(isolated_env, monkeypatch, capsys) -> None:
    write_config(isolated_env, f'[crm]\ntoken = "{TOKEN}"\nbase_url = "ftp://{TOKEN}"\n')
    code, out, err = run_cli(capsys, "doctor")
    assert code == 2
    # The URL is echoed (it is not a secret), but the token field's value never is.
    write_config(isolated_env, f'[crm]\ntoken = "{TOKEN}"\nconcurrency = 0\n')
    code, out, err = run_cli(capsys, "doctor")
    assert code == 2
    assert TOKEN not in out + err
    monkeypatch.setenv("CSM_TUI_CRM", '{"token": "' + TOKEN + '"')  # broken JSON
    code, out, err = run_cli(capsys, "doctor")
    assert code == 2
    assert "CSM_TUI_CRM" in err
    assert TOKEN not in out + err


def test_invalid_config_gives_no_traceback_in_a_real_process(isolated_env) -> None:
    write_config(isolated_env, 'crm.base_url = "ftp://x"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "csm_tui", "doctor"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_token_in_a_world_readable_config_file_gives_a_warning(isolated_env, capsys) -> None:
    path = write_config(isolated_env, f'[crm]\ntoken = "{TOKEN}"\n')
    path.chmod(0o644)
    assert main(["doctor"]) == 0
    err = capsys.readouterr().err
    assert "other users can read it" in err and "chmod 600" in err
    assert TOKEN not in err
    path.chmod(0o600)
    assert main(["doctor"]) == 0
    assert "other users" not in capsys.readouterr().err


def test_tokens_can_come_from_the_system_keyring(isolated_env, monkeypatch) -> None:
    import types

    stored = {("csm-tui", "crm"): "from-keyring-crm"}
    fake_keyring = types.SimpleNamespace(get_password=lambda s, u: stored.get((s, u)))
    monkeypatch.setitem(sys.modules, "keyring", fake_keyring)
    write_config(isolated_env, 'keyring_service = "csm-tui"\n')
    settings = load_settings()
    assert settings.crm.token is not None
    assert settings.crm.token.get_secret_value() == "from-keyring-crm"
    assert settings.analytics.token is None
    # An explicit token (environment) wins over the keyring.
    monkeypatch.setenv("CSM_TUI_CRM__TOKEN", "from-env")
    assert load_settings().crm.token.get_secret_value() == "from-env"


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ("[scoring]\ngreen = 30\n", "green (30) must be above yellow (40)"),
        ("[scoring]\npeople_active_days = 40\n", "people_active_days (40) must be below"),
        ("[tiers]\nhigh_touch_share = 0.6\n", "must be at most 1"),
    ],
)
def test_settings_that_contradict_each_other_are_one_line(
    isolated_env, capsys, toml: str, said: str
) -> None:
    (isolated_env / "config.toml").write_text(toml)
    assert main(["doctor"]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and "\n" not in err
