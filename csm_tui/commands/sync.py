"""`csm-tui sync`: push the outbox, pull the CRM and analytics, rescore; a line per object."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from csm_tui.config import Settings
from csm_tui.domain.models import plain
from csm_tui.sync.engine import sync_blocking
from csm_tui.sync.progress import SyncProgress, SyncReport


class ProgressLines:
    """Prints one line per object when it is done (counts and rate); on a terminal the
    running count is redrawn in place meanwhile."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.started: dict[tuple[str, str], float] = {}
        self.live = False

    def __call__(self, event: SyncProgress) -> None:
        key = (event.stage, event.object)
        now = time.monotonic()
        first = self.started.setdefault(key, now)
        label = f"{event.stage:<9} {event.object:<22}"
        if event.message == "done":
            elapsed = max(now - first, 1e-6)
            rate = f"  {event.done / elapsed:,.0f}/s" if event.done and elapsed > 0.05 else ""
            self._clear()
            print(f"{label} {event.done:>9,}{rate}", file=self.out)
        elif self.tty:
            estimate = f" of {event.total:,}, {event.message}" if event.object == "requests" else ""
            self.out.write(f"\r{label} {event.done:>9,}{estimate} …")
            self.out.flush()
            self.live = True

    def _clear(self) -> None:
        if self.live:
            self.out.write("\r\x1b[2K")
            self.live = False


class ProgressBars:
    """On a terminal: a rich progress row per object (count, rate, elapsed), kept when done."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.fields[label]}", markup=False),
            BarColumn(),
            TextColumn("{task.completed:>9,.0f}"),
            TextColumn("{task.fields[rate]}", markup=False),
            TimeElapsedColumn(),
            console=Console(file=out),
        )
        self.tasks: dict[tuple[str, str], Any] = {}
        self.started: dict[tuple[str, str], float] = {}

    def __enter__(self) -> ProgressBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: SyncProgress) -> None:
        key = (event.stage, event.object)
        now = time.monotonic()
        first = self.started.setdefault(key, now)
        if event.stage == "crm" and event.object != "requests" and event.message != "done":
            return  # the CRM's objects go at once: the requests row says how far it is
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(
                "", total=None, label=f"{event.stage:<9} {event.object:<22}", rate=""
            )
        task = self.tasks[key]
        elapsed = now - first
        rate = f"{event.done / elapsed:,.0f}/s" if event.done and elapsed > 0.05 else ""
        if event.object == "requests" and event.message != "done":
            rate = f"{event.done:,} of {event.total or 0:,}, {event.message}"
        if event.message == "done":
            self.progress.update(task, completed=event.done, total=max(event.done, 1), rate=rate)
            self.progress.stop_task(task)  # freezes its elapsed time
        else:
            self.progress.update(task, completed=event.done, total=event.total, rate=rate)


def print_report(report: SyncReport, out: TextIO) -> None:
    """The report's warnings and failed pushes, then its summary line."""
    for line in report.push_errors:
        print(f"push failed: {plain(line)}", file=out)
    for line in report.warnings:
        print(f"warning: {plain(line)}", file=out)
    print(report.summary(), file=out)
    if report.push_failed:
        print(
            f"{report.push_failed} outbox item(s) failed: see `csm-tui outbox` to retry or discard.",
            file=out,
        )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Sync the workspace; exit 0 when done, non-zero with one line when it stops."""
    options: dict[str, Any] = {
        "full": bool(getattr(args, "full", False)),
        "crm": not getattr(args, "analytics_only", False),
        "analytics": not getattr(args, "crm_only", False),
    }
    if sys.stdout.isatty():
        with ProgressBars(sys.stdout) as bars:
            report = sync_blocking(settings, progress=bars, **options)
    else:
        report = sync_blocking(settings, progress=ProgressLines(sys.stdout), **options)
    print_report(report, sys.stdout)
    return 0
