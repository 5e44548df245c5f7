"""The command line on an empty data dir: help, version, doctor, and what it creates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from csm_tui import __version__
from csm_tui.cli import COMMANDS, main

TOKEN = "pat-na1-doctor-must-never-print-this"


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_version_and_help_on_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert __version__ in capsys.readouterr().out
    for name in COMMANDS:
        for flag in ("--help", "--version"):
            with pytest.raises(SystemExit) as exit_:
                main([name, flag])
            assert exit_.value.code == 0, (name, flag)
        out = capsys.readouterr().out
        assert out.strip()


def test_doctor_creates_nothing_but_the_cache_it_reports(isolated_env, capsys) -> None:
    assert main(["doctor"]) == 0
    assert main(["doctor", "--workspace", "other"]) == 0
    out = capsys.readouterr().out
    data = isolated_env / "data"
    created = {f for f in files_under(isolated_env) if not f.endswith(("-wal", "-shm"))}
    assert created == {
        "data/workspaces/default/cache.db",
        "data/workspaces/other/cache.db",
    }
    assert str(data / "workspaces" / "other" / "cache.db") in out
    assert "schema version" in out and "never synced" in out
    assert "accounts" in out and "outbox" in out


def test_doctor_says_whether_tokens_are_set_but_never_their_value(monkeypatch, capsys) -> None:
    monkeypatch.setenv("CSM_TUI_CRM__TOKEN", TOKEN)
    assert main(["doctor"]) == 0
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    assert "crm token       set" in out
    assert "analytics token not set" in out


def test_python_dash_m_runs_the_same_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "csm_tui", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_the_workspace_may_be_named_before_or_after_the_command() -> None:
    from csm_tui.cli import build_parser

    parser = build_parser()
    for argv in (["--workspace", "demo", "today"], ["today", "--workspace", "demo"]):
        assert parser.parse_args(argv).workspace == "demo", argv
    assert parser.parse_args(["today"]).workspace is None
    assert parser.parse_args([]).workspace is None
    # Named twice, the one after the command wins (it is the nearer one).
    assert parser.parse_args(["--workspace", "a", "today", "--workspace", "b"]).workspace == "b"
