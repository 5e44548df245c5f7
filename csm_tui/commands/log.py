"""`csm-tui log ACCOUNT`: record a touch (and maybe a next step) offline; the next sync pushes it."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import sqlite_utils

from csm_tui.config import Settings
from csm_tui.domain.models import plain
from csm_tui.domain.when import parse_due, parse_when
from csm_tui.errors import CsmError
from csm_tui.store.actions import ActionError, add_next_step, log_touch
from csm_tui.store.db import open_cache


class LogError(CsmError):
    """The touch could not be recorded as asked; the message says why in one line."""

    exit_code = 2


def _label(row: dict[str, Any]) -> str:
    domain = f" ({plain(row['domain'])})" if row.get("domain") else ""
    return f"{plain(row['name'])}{domain} [{row['id']}]"


def find_account(db: sqlite_utils.Database, text: str) -> dict[str, Any]:
    """The account named by id, domain or an unambiguous (part of its) name."""
    wanted = text.strip()
    if not wanted:
        raise LogError("Name the account: its id, domain or name.")
    rows = list(
        db.query("SELECT id, name, domain, archived FROM accounts ORDER BY archived, name, id")
    )
    lower = wanted.lower()
    tests: tuple[Callable[[dict[str, Any]], bool], ...] = (
        lambda r: r["id"] == wanted,
        lambda r: (r["domain"] or "").lower() == lower.removeprefix("www."),
        lambda r: (r["name"] or "").lower() == lower,
        lambda r: lower in (r["name"] or "").lower(),
    )
    for test in tests:
        found = [r for r in rows if test(r)]
        live = [r for r in found if not r["archived"]]
        found = live or found
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            shown = "; ".join(_label(r) for r in found[:6])
            more = f"; and {len(found) - 6} more" if len(found) > 6 else ""
            raise LogError(f"{plain(wanted)!r} matches {len(found)} accounts: {shown}{more}.")
    if not rows:
        raise LogError("The cache has no accounts yet: run `csm-tui sync` first.")
    raise LogError(f"No account matches {plain(wanted)!r} (by id, domain or name).")


def find_contact(db: sqlite_utils.Database, account_id: str, email: str) -> str:
    """The id of the account's contact with ``email``."""
    rows = list(
        db.query(
            "SELECT id, account_id FROM contacts WHERE lower(email) = ? ORDER BY archived, id",
            [email.strip().lower()],
        )
    )
    mine = [r for r in rows if r["account_id"] == account_id]
    if mine:
        return str(mine[0]["id"])
    if rows:
        raise LogError(f"{plain(email)} is a contact of another account, not this one.")
    raise LogError(f"No contact with the email {plain(email)} in the cache.")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Record the touch (and next step) in one go; rescore the account."""
    now = datetime.now().astimezone()
    try:
        when = parse_when(args.when or "now", now)
    except ValueError as exc:
        raise LogError(f"--when: {exc}") from None
    due: date | None = None
    if args.due and not args.next_step:
        raise LogError("--due needs --next-step TEXT (the step that is due).")
    if args.due:
        try:
            due = parse_due(args.due, now.date())
        except ValueError as exc:
            raise LogError(f"--due: {exc}") from None
    db = open_cache(settings.cache_path, create=False)
    try:
        account = find_account(db, args.account)
        contact_id = find_contact(db, account["id"], args.contact) if args.contact else None
        try:
            touch_id = log_touch(
                db,
                account_id=account["id"],
                kind=args.kind,
                summary=args.summary,
                occurred_at=when.astimezone(UTC).isoformat(timespec="microseconds"),
                contact_id=contact_id,
                sentiment=args.sentiment,
            )
            if args.next_step:
                add_next_step(
                    db,
                    account_id=account["id"],
                    title=args.next_step,
                    due_date=due,
                    touch_id=touch_id,
                )
        except ActionError as exc:
            raise LogError(str(exc)) from None
        try:
            rescore = importlib.import_module("csm_tui.store.rescore")
            rescore.rescore(db, settings, now.date(), account_ids=[account["id"]])
        except ModuleNotFoundError:
            pass  # scoring not installed: the next sync scores it
    finally:
        db.conn.close()
    step = f" and next step {plain(args.next_step)!r}" if args.next_step else ""
    if due:
        step += f" due {due.isoformat()}"
    print(
        f"Logged {args.kind} with {_label(account)}{step}. "
        "It waits in the outbox; `csm-tui sync` pushes it to the CRM."
    )
    return 0
