"""The baseline of B1 and B5: a bare Textual app with a Header, a DataTable of N rows and a Footer.

Run as `python benchmarks/bare_app.py [rows]` (10 by default). Rows read "row-00001 ...", so a
driver can tell when the first (or the last) row is on screen.
"""

from __future__ import annotations

import sys

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header


class BareApp(App[None]):
    """Header, a DataTable of ``rows`` rows, Footer: nothing else."""

    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "Health", "ARR", "Renews", "Stage", "Why")
        table.add_rows(
            (f"row-{i:05d}", str(i % 100), f"{i * 7 % 500}k", "in 30 d", "Adoption", "No touch")
            for i in range(1, self.rows + 1)
        )
        table.focus()


if __name__ == "__main__":
    BareApp(int(sys.argv[1]) if len(sys.argv) > 1 else 10).run()
