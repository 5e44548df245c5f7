"""The headless core never loads textual (the split Harlequin enforces the same way)."""

from __future__ import annotations

import subprocess
import sys

HEADLESS = ["csm_tui.config", "csm_tui.store", "csm_tui.domain", "csm_tui.sync", "csm_tui.sources"]


def test_headless_packages_do_not_import_textual() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {HEADLESS!r}:\n"
        "    mod = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(getattr(mod, '__path__', []), name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad[:3])\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_domain_imports_nothing_else_of_the_package() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import csm_tui.domain as d\n"
        "for info in pkgutil.walk_packages(d.__path__, 'csm_tui.domain.'):\n"
        "    importlib.import_module(info.name)\n"
        "other = sorted(m for m in sys.modules if m.startswith('csm_tui.') and not "
        "m.startswith('csm_tui.domain') )\n"
        "print(other)\n"
        "sys.exit(1 if other else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
