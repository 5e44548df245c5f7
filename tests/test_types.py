"""`mypy` is clean over csm_tui with the settings in pyproject.toml ([tool.mypy]: strict but for
warn_return_any). Part of the README's test command, like `ruff check` (tests/test_lint.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_is_clean() -> None:
    # The settings (and the package to check) come from pyproject.toml; the cache is the default
    # .mypy_cache at the top of the repository (ignored by git), so a second run takes a moment.
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.stdout.startswith("Success"), proc.stdout[-6000:]
