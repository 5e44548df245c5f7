"""`csm-tui today`: who needs you today and why, as a table (terminal, email digest) or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

import sqlite_utils

from csm_tui.config import Settings
from csm_tui.domain.models import plain
from csm_tui.domain.spreadsheet import csv_text
from csm_tui.domain.vocabulary import BAND_SYMBOLS
from csm_tui.errors import CsmError
from csm_tui.store.attention import AttentionRow, attention_list, resolve_segment
from csm_tui.store.db import open_cache
from csm_tui.store.due import DUE_COLUMNS, due_steps
from csm_tui.store.rescore import rescore

EMPTY = (
    "The cache has no accounts yet: run `csm-tui sync`, or try `csm-tui demo` and then "
    "`csm-tui today --workspace demo`."
)


class EmptyCacheError(CsmError):
    """Nothing to rank yet."""


def local_today() -> date:
    """Today's date where the CSM is (the day the list is for)."""
    return date.today()


def _refresh_if_stale(db: sqlite_utils.Database, settings: Settings, today: date) -> None:
    """Rescore when an account has no score or scores are from an earlier day (days count)."""
    missing, oldest = db.conn.execute(
        "SELECT SUM(s.account_id IS NULL), MIN(s.computed_at) FROM accounts a "
        "LEFT JOIN scores s ON s.account_id = a.id WHERE a.archived = 0"
    ).fetchone()
    if missing or (oldest is not None and oldest[:10] < today.isoformat()):
        rescore(db, settings, today)


def _money(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"{value / 1_000:.0f}k"
    return f"{value:.0f}"


def _fit(text: str, width: int) -> str:
    text = plain(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: list[AttentionRow], today: date) -> str:
    """The list as a plain-text table (no markup, no colour: the band has a symbol)."""
    head = f"{'#':>3}  {'Health':<9} {'Account':<28} {'Stage':<10} {'Tier':<10} {'ARR':>6}  Why"
    lines = [f"Attention list for {today.isoformat()}", head, "-" * len(head)]
    for r in rows:
        symbol = BAND_SYMBOLS.get(r.band or "", "·")
        health = "--" if r.health is None else str(r.health)
        trend = ""
        if r.trend:
            trend = f"{'▼' if r.trend < 0 else '▲'}{abs(r.trend)}"
        chips = " · ".join(plain(c) for c in r.reasons)
        lines.append(
            f"{r.rank:>3}  {symbol} {health:>3} {trend:<4} {_fit(r.name, 28):<28} "
            f"{_fit(r.stage or '', 10):<10} {_fit(r.tier or '', 10):<10} {_money(r.arr):>6}  "
            f"{chips}"
        )
    lines.append("")
    lines.append("● green ≥ 70 · ◐ yellow 40-69 · ○ red < 40 · ▼/▲ health points over 4 weeks")
    return "\n".join(lines)


CSV_COLUMNS = ("rank", "account_id", "name", "health", "band", "trend", "stage", "tier", "arr",
               "renewal_date", "owner", "reasons")  # fmt: skip


def write_csv(rows: list[dict[str, object]], columns: tuple[str, ...]) -> None:
    """The rows as CSV on stdout (a spreadsheet opens it as the view; see domain.spreadsheet)."""
    sys.stdout.write(csv_text(rows, columns))


def due_table(steps: list[dict[str, object]], today: date) -> str:
    """The due queue as a plain-text table."""
    lines = [
        f"Next steps due by {today.isoformat()}",
        f"{'id':<20} {'due':<10} {'late':>5}  {'account':<28} step",
    ]
    for s in steps:
        late = int(str(s["days_late"]))
        when = f"{late} d" if late > 0 else "today" if late == 0 else f"in {-late} d"
        lines.append(
            f"{s['step_id']!s:<20} {str(s['due_date'])[:10]:<10} {when:>5}  "
            f"{_fit(str(s['account']), 28):<28} {s['title']}"
        )
    if not steps:
        lines.append("  nothing due: every next step is on time")
    lines.append("")
    lines.append("`csm-tui step ID --done` completes one; `--due DATE` reschedules it.")
    return "\n".join(lines)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the ranked list (or, with --due, the next steps due)."""
    today = local_today()
    if getattr(args, "due", False):
        return _run_due(settings, args, today)
    if getattr(args, "segment", None):
        resolve_segment(settings, args.segment)  # an unknown name fails before any work
    db = open_cache(settings.cache_path, create=False)
    try:
        (count,) = db.conn.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()
        if not count:
            raise EmptyCacheError(EMPTY)
        _refresh_if_stale(db, settings, today)
        rows = attention_list(
            db, settings, today, segment=args.segment, limit=getattr(args, "limit", None)
        )
    finally:
        db.conn.close()
    if args.json:
        json.dump([r.as_json() for r in rows], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif getattr(args, "csv", False):
        write_csv([{**r.as_json(), "reasons": " · ".join(r.reasons)} for r in rows], CSV_COLUMNS)
    else:
        print(table(rows, today))
    return 0


def _run_due(settings: Settings, args: argparse.Namespace, today: date) -> int:
    db = open_cache(settings.cache_path, create=False)
    try:
        steps = due_steps(db, today)
    finally:
        db.conn.close()
    if args.json:
        json.dump(steps, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif getattr(args, "csv", False):
        write_csv(steps, DUE_COLUMNS)
    else:
        print(due_table(steps, today))
    return 0
