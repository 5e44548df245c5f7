"""`csm-tui explain ACCOUNT`: why the account's health moved since a day, component by component."""

from __future__ import annotations

import argparse
import json
from datetime import date

from csm_tui.commands.log import find_account
from csm_tui.config import Settings
from csm_tui.domain.models import plain
from csm_tui.domain.score_change import DEFAULT_SPAN, ScoreChange, parse_span
from csm_tui.errors import CsmError
from csm_tui.store.db import open_cache
from csm_tui.store.score_changes import score_change_since

DEFAULT_SINCE = f"{DEFAULT_SPAN}w"


class ExplainError(CsmError):
    """An account or a --since the command cannot use."""

    exit_code = 2


def render_text(name: str, account_id: str, change: ScoreChange) -> str:
    """The headline, then one line per component that moved (the largest first)."""
    lines = [f"{plain(name) or account_id} [{account_id}]: {change.headline()}"]
    moved = change.moved()
    for d in moved:
        lines.append(f"  {plain(d.text())}")
    still = [d.label.lower() for d in change.deltas if not d.delta]
    if still and moved:
        lines.append(f"  Unchanged: {', '.join(still)}")
    if not moved:
        lines.append("  No component's points moved.")
    return "\n".join(lines)


def render_json(name: str, account_id: str, change: ScoreChange) -> str:
    """The change as JSON: the account, both healths, and every component's delta."""
    return json.dumps(
        {"account_id": account_id, "name": name, **change.as_dict()},
        ensure_ascii=False,
        indent=2,
    )


def run(settings: Settings, args: argparse.Namespace, today: date | None = None) -> int:
    """Print why ACCOUNT's health moved between --since and today (default: since its weekly
    score 4 weeks back, the one the list's trend compares with)."""
    today = today or date.today()
    try:
        since = parse_span(getattr(args, "since", None) or DEFAULT_SINCE, today)
    except ValueError as exc:
        raise ExplainError(str(exc)) from None
    if isinstance(since, date) and since > today:
        raise ExplainError(f"--since {since.isoformat()} is after today: nothing to compare")
    db = open_cache(settings.cache_path, create=False)
    try:
        try:
            row = find_account(db, args.account)
        except CsmError as exc:
            raise ExplainError(str(exc)) from None
        if row["archived"]:
            raise ExplainError(f"{plain(row['name'])} [{row['id']}] is archived: it has no score.")
        change = score_change_since(db, settings, row["id"], since, today)
    finally:
        db.conn.close()
    if change is None:
        raise ExplainError(f"{plain(row['name'])} [{row['id']}] has no score to explain.")
    name = str(row["name"] or "")
    if getattr(args, "json", False):
        print(render_json(name, str(row["id"]), change))
    else:
        print(render_text(name, str(row["id"]), change))
    return 0
