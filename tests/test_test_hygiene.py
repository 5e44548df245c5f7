"""No test module imports another test module: what several share lives in tests/support (and
fixtures in tests/conftest.py), so each test module can be read, run and changed on its own."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(source: str) -> list[str]:
    """The test modules (``test_*``, ``conftest``) that ``source`` imports, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        found += [n for n in names if n.split(".")[0].startswith("test_") or n == "conftest"]
    return found


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import test_a\n"
        "import os, test_b as b\n"
        "from test_c import x\n"
        "from conftest import y\n"
        "def f():\n"
        "    from test_d import z\n"
        "from support.apps import settle\n"
        "import pytest\n"
    )
    assert imported_test_modules(source) == ["test_a", "test_b", "test_c", "conftest", "test_d"]


def test_no_test_module_imports_another() -> None:
    modules = sorted(TESTS.glob("test_*.py")) + sorted((TESTS / "support").glob("*.py"))
    assert len(modules) > 10
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in modules
        if (found := imported_test_modules(path.read_text(encoding="utf-8")))
    }
    assert not offenders, f"move what they share to tests/support: {offenders}"
