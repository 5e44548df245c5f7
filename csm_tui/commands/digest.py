"""`csm-tui digest`: what changed in the book since a day, for the morning or a cron mail."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import date

from csm_tui.config import Settings
from csm_tui.domain.digest import Change, parse_since
from csm_tui.domain.models import plain
from csm_tui.errors import CsmError
from csm_tui.store.db import open_cache
from csm_tui.store.digest import changes_since

SUMMARY = {
    "band_down": "moved down a band",
    "escalation": "escalations opened",
    "usage_cliff": "usage cliffs",
    "went_quiet": "admins or champions gone quiet",
    "detractor": "new detractors",
    "renewal": "renewal milestones",
    "push_failed": "pushes failed",
    "band_up": "moved up a band",
}


class DigestError(CsmError):
    """A --since the digest cannot read."""

    exit_code = 2


def summary_line(changes: list[Change], since: date, today: date) -> str:
    """'Since 2026-12-06: 2 moved down a band, 1 escalations opened, ...' or 'nothing changed'."""
    counts = Counter(c.kind for c in changes)
    parts = [f"{counts[k]} {text}" for k, text in SUMMARY.items() if counts[k]]
    body = ", ".join(parts) if parts else "nothing changed"
    return f"Since {since.isoformat()} (to {today.isoformat()}): {body}."


def render(changes: list[Change], since: date, today: date, fmt: str) -> str:
    """The digest as text, Markdown or JSON."""
    if fmt == "json":
        return json.dumps(
            {
                "since": since.isoformat(),
                "today": today.isoformat(),
                "changes": [c.as_dict() for c in changes],
            },
            ensure_ascii=False,
            indent=2,
        )
    lines = [summary_line(changes, since, today)]
    by_account: dict[tuple[str, str], list[str]] = {}
    for c in changes:
        by_account.setdefault((c.account_id, c.account), []).append(plain(c.text))
    for (_, account), texts in by_account.items():
        name = plain(account) or "Outbox"
        if fmt == "markdown":
            lines.append(f"- **{name}**: " + "; ".join(texts))
        else:
            lines.append(f"  {name}: " + "; ".join(texts))
    return "\n".join(lines)


def run(settings: Settings, args: argparse.Namespace, today: date | None = None) -> int:
    """Print what changed since --since (default: yesterday)."""
    today = today or date.today()
    try:
        since = parse_since(getattr(args, "since", None) or "yesterday", today)
    except ValueError as exc:
        raise DigestError(str(exc)) from None
    if since > today:
        raise DigestError(f"--since {since.isoformat()} is after today: nothing to compare")
    db = open_cache(settings.cache_path, create=False)
    try:
        changes = changes_since(db, since, today)
    finally:
        db.conn.close()
    print(render(changes, since, today, getattr(args, "format", "text") or "text"))
    return 0
