"""Exporting: the view on screen (the list as filtered, or the due queue) as a CSV file.

Owned by the app (csm_tui/ui/app.py). The screen hands over its rows as shown; the file is
written in a thread worker (csm_tui.domain.spreadsheet makes the CSV) and its path shown.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import partial
from pathlib import Path

from csm_tui.domain.spreadsheet import csv_text
from csm_tui.ui.host import CsmHost, thread_worker
from csm_tui.ui.messages import ActionFailed, ExportRequested, ExportWritten
from csm_tui.ui.threads import one_line


def exports_dir(data_dir: Path) -> Path:
    """Where exports go: the user's downloads folder (XDG_DOWNLOAD_DIR, else ~/Downloads when
    it exists), else ``<data dir>/exports``."""
    named = os.environ.get("XDG_DOWNLOAD_DIR", "").strip()
    if named:
        return Path(os.path.expanduser(os.path.expandvars(named)))
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else data_dir / "exports"


def export_path(folder: Path, view: str, now: datetime) -> Path:
    """A new file for ``view`` in ``folder``: never one that is there already."""
    stem = f"csm-tui-{view}-{now:%Y-%m-%d-%H%M%S}"
    path, n = folder / f"{stem}.csv", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.csv"
    return path


class Exporting:
    """Writes what a screen exports, and says where it went."""

    def __init__(self, host: CsmHost) -> None:
        self.host = host

    def export(self, message: ExportRequested) -> None:
        """Write the rows in a worker (ExportWritten or ActionFailed follows)."""
        if not message.rows:
            self.host.notify("Nothing to export: the view is empty.", severity="warning")
            return
        folder = exports_dir(self.host.settings.data_dir)
        now = self.host.clock().astimezone()
        work = partial(self._write, folder, now, message)
        thread_worker(self.host, work, "export")

    def _write(self, folder: Path, now: datetime, message: ExportRequested) -> None:
        text = csv_text(message.rows, message.columns, message.headers)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = export_path(folder, message.view, now)
            partial_file = path.with_suffix(".csv.part")
            # utf-8-sig: Excel reads the names' accents right only with the byte-order mark.
            partial_file.write_text(text, encoding="utf-8-sig", newline="")
            partial_file.replace(path)
        except OSError as exc:
            self.host.post_message(ActionFailed(f"Export not written: {one_line(exc)}"))
            return
        self.host.post_message(ExportWritten(str(path), len(message.rows)))

    def written(self, message: ExportWritten) -> None:
        """Say where the file is."""
        self.host.notify(f"Exported {message.rows} rows to {message.path}", timeout=10)
