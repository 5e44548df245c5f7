"""`csm-tui outbox`: what waits to be pushed, what failed and why; retry or discard one."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from csm_tui.config import Settings
from csm_tui.domain.models import plain
from csm_tui.errors import CsmError
from csm_tui.store import outbox
from csm_tui.store.db import open_cache


class OutboxError(CsmError):
    """No such outbox item, or an id prefix that matches several."""

    exit_code = 2


def describe(item: outbox.OutboxItem) -> str:
    """A short description of what an item will create in the CRM."""
    p = item.payload
    if item.kind == "touch":
        return f"{p.get('kind', 'touch')} on {p.get('account_id')}: {plain(str(p.get('summary') or ''))[:60]}"
    if item.kind == "next_step":
        due = f" (due {p['due_date']})" if p.get("due_date") else ""
        return f"next step on {p.get('account_id')}: {plain(str(p.get('title') or ''))[:60]}{due}"
    if item.kind == "enrollment":
        return f"enroll contact {p.get('contact_id')} in sequence {p.get('sequence_id')}"
    if item.kind == "step_change":
        said = []
        if "done" in p:
            said.append("mark done" if p["done"] else "reopen")
        if p.get("due_date"):
            said.append(f"due {p['due_date']}")
        if p.get("title"):
            said.append(f"retitle {plain(str(p['title']))[:50]!r}")
        return f"next step {item.ref_id} on {p.get('account_id')}: {', '.join(said) or 'change'}"
    return item.kind


def _confirmed_discard(db: Any, target: str, args: argparse.Namespace) -> bool:
    """Discarding drops an action the CRM never got: say which one and ask (or --yes)."""
    try:
        item = outbox.find(db, target)
    except outbox.AmbiguousIdError as exc:
        raise OutboxError(str(exc)) from None
    if item is None:
        return True  # the action itself says "no such item"
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        raise OutboxError(
            f"Discarding {item.id[:8]} ({describe(item)}) needs a confirmation: add --yes."
        )
    answer = input(f"Discard {item.id[:8]}, {describe(item)}? It never reaches the CRM. [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """List the outbox, or retry / discard one item by id (or an unambiguous id prefix)."""
    db = open_cache(settings.cache_path, create=False)
    try:
        target = getattr(args, "retry", None) or getattr(args, "discard", None)
        if target:
            action = outbox.retry if getattr(args, "retry", None) else outbox.discard
            if action is outbox.discard and not _confirmed_discard(db, target, args):
                print("Nothing discarded.")
                return 1
            try:
                changed = action(db, target)
            except outbox.AmbiguousIdError as exc:
                raise OutboxError(str(exc)) from None
            if not changed:
                what = "failed " if action is outbox.retry else "waiting or failed "
                raise OutboxError(f"No {what}outbox item has the id {plain(target)!r}.")
            verb = "back in line for the next sync" if action is outbox.retry else "discarded"
            print(f"Outbox item {plain(target)}: {verb}.")
            return 0
        waiting = outbox.items(db)
        if not waiting:
            print("The outbox is empty: everything is in the CRM.")
            return 0
        for item in waiting:
            line = f"{item.id[:8]}  {item.state:<7}  {item.created_at[:16]}  {describe(item)}"
            print(line)
            if item.last_error:
                print(f"          error (try {item.attempts}): {plain(item.last_error)}")
        counts = outbox.counts(db)
        print(
            f"{counts[outbox.PENDING]} waiting, {counts[outbox.FAILED]} failed. "
            "`csm-tui sync` pushes what waits; --retry ID / --discard ID for a failed one."
        )
        return 0
    finally:
        db.conn.close()
