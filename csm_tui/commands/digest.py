"""`csm-tui digest`: what changed in the book since a day, for the morning or a cron mail.

With ``--post`` it also goes to a Slack incoming webhook (``digest.slack_webhook_url``), once
per digest period (the days it compares): the cache remembers the period as posted, so cron
running it again the same day does not post twice. A POST that fails is tried again by the
next run. Delivery is at-least-once, not at-most-once: the period is recorded as posted only
after Slack answered 200, so a crash in the instant between Slack's answer and that record
posts the digest once more on the next run. Slack's webhooks take no idempotency key, and the
other order (record, then POST) would lose the digest silently whenever the POST failed after
the record; a rare duplicate message is the better failure for a digest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING

from csm_tui.config import Settings
from csm_tui.domain.digest import Change, parse_since
from csm_tui.domain.models import plain
from csm_tui.errors import CsmError
from csm_tui.sources.slack import SlackError, escape_mrkdwn, post_text
from csm_tui.store.db import open_cache, utc_now
from csm_tui.store.digest import changes_since
from csm_tui.store.local_state import read_state, write_state

if TYPE_CHECKING:
    import httpx
    import sqlite_utils

SLACK_MAX_ACCOUNTS = 60  # a message a CSM reads; the rest: "csm-tui digest" prints them all

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


def slack_text(changes: list[Change], since: date, today: date) -> str:
    """The digest as Slack mrkdwn: the summary in bold, then one bullet per account."""
    lines = [f"*{escape_mrkdwn(summary_line(changes, since, today))}*"]
    by_account: dict[tuple[str, str], list[str]] = {}
    for c in changes:
        by_account.setdefault((c.account_id, c.account), []).append(plain(c.text))
    for (_, account), texts in list(by_account.items())[:SLACK_MAX_ACCOUNTS]:
        name = escape_mrkdwn(plain(account) or "Outbox")
        lines.append(f"• *{name}*: " + escape_mrkdwn("; ".join(texts)))
    more = len(by_account) - SLACK_MAX_ACCOUNTS
    if more > 0:
        lines.append(f"… and {more} more accounts (`csm-tui digest` lists them all)")
    return "\n".join(lines)


def period_key(since: date, today: date) -> str:
    """The digest period a post is remembered by."""
    return f"slack_digest:{since.isoformat()}..{today.isoformat()}"


def post_once(
    db: sqlite_utils.Database,
    url: str,
    key: str,
    text: str,
    transport: httpx.BaseTransport | None = None,
) -> bool:
    """Post ``text`` unless the period ``key`` was posted already; True when it was posted now.

    At-least-once (see the module's docstring): the attempt is recorded before the POST and
    the period marked posted only after Slack's 200.
    """
    state = read_state(db, key)
    if state.get("state") == "posted":
        return False
    attempts = int(state.get("attempts") or 0) + 1
    write_state(db, key, {"state": "posting", "attempts": attempts, "started_at": utc_now()})
    try:
        post_text(url, text, transport=transport)
    except SlackError as exc:
        write_state(db, key, {"state": "failed", "attempts": attempts, "last_error": str(exc)})
        raise
    write_state(db, key, {"state": "posted", "attempts": attempts, "posted_at": utc_now()})
    return True


def run(
    settings: Settings,
    args: argparse.Namespace,
    today: date | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Print what changed since --since (default: yesterday); --post sends it to Slack once."""
    today = today or date.today()
    try:
        since = parse_since(getattr(args, "since", None) or "yesterday", today)
    except ValueError as exc:
        raise DigestError(str(exc)) from None
    if since > today:
        raise DigestError(f"--since {since.isoformat()} is after today: nothing to compare")
    post = bool(getattr(args, "post", False))
    webhook = settings.digest.slack_webhook_url
    if post and webhook is None:
        raise DigestError(
            "--post needs a Slack incoming webhook: set digest.slack_webhook_url in "
            f"{settings.config_file} (or CSM_TUI_DIGEST__SLACK_WEBHOOK_URL)"
        )
    db = open_cache(settings.cache_path, create=False)
    try:
        changes = changes_since(db, since, today)
        print(render(changes, since, today, getattr(args, "format", "text") or "text"))
        if post and webhook is not None:
            key = period_key(since, today)
            text = slack_text(changes, since, today)
            if post_once(db, webhook.get_secret_value(), key, text, transport):
                print(f"csm-tui: digest {key.split(':', 1)[1]} posted to Slack", file=sys.stderr)
            else:
                print(
                    f"csm-tui: digest {key.split(':', 1)[1]} was posted to Slack already; "
                    "not posting it again",
                    file=sys.stderr,
                )
    finally:
        db.conn.close()
    return 0
