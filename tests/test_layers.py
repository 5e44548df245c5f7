"""The package's architecture holds: `lint-imports` keeps every contract in pyproject.toml
([tool.importlinter]: the layers, a pure domain, fakes apart from the app, no import cycles),
and no import cycle runs (part of the README's test command, like tests/test_lint.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp  # import-linter's import graph

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports") or str(
        Path(sys.executable).with_name("lint-imports")
    )
    proc = subprocess.run(
        [lint_imports, "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_no_import_cycle_runs() -> None:
    """Module by module, counting every import Python executes (at the top of a module or
    inside a function), none under `if TYPE_CHECKING:`: the no-cycles contract counts those
    too, and allows no exception; this says that what runs has no cycle either."""
    graph = grimp.build_graph("csm_tui", exclude_type_checking_imports=True, cache_dir=None)
    cycles = _cycles({m: graph.find_modules_directly_imported_by(m) for m in graph.modules})
    lines = []
    for cycle in cycles:
        lines.append("cycle: " + ", ".join(cycle))
        for importer in cycle:
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & set(cycle)):
                for d in graph.get_import_details(importer=importer, imported=imported):
                    lines.append(f"  {importer}:{d['line_number']}: {d['line_contents']}")
    assert not cycles, "\n".join(lines)


def _cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(imports.get(module, ())):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return sorted(found)
