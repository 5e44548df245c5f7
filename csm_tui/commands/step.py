"""`csm-tui step ID`: complete, reschedule or retitle a next step; the CRM task follows on the
next sync (exactly once: the outbox)."""

from __future__ import annotations

import argparse
from datetime import date

from csm_tui.config import Settings
from csm_tui.domain.models import plain
from csm_tui.domain.when import parse_due
from csm_tui.errors import CsmError
from csm_tui.store import actions
from csm_tui.store.db import Connected, open_cache


class StepError(CsmError):
    """The step or the change could not be understood."""

    exit_code = 2


def _resolve(db: Connected, text: str) -> str:
    """A step id from its full id or a unique prefix of at least 6 characters."""
    conn = db.conn
    text = text.strip()
    if len(text) < 6:
        raise StepError(f"{text!r} is too short: give at least 6 characters of the step's id")
    found = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM next_steps WHERE id = ? OR substr(id, 1, ?) = ? ORDER BY id",
            [text, len(text), text],
        )
    ]
    if not found:
        raise StepError(
            f"No next step has the id {plain(text)!r} (`csm-tui today --due` lists them)."
        )
    if len(found) > 1 and text not in found:
        raise StepError(f"{text!r} matches {len(found)} next steps: give more of the id.")
    return text if text in found else found[0]


def run(settings: Settings, args: argparse.Namespace, today: date | None = None) -> int:
    """Change one step; say what will reach the CRM."""
    today = today or date.today()
    if args.done and args.reopen:
        raise StepError("--done and --reopen contradict each other: choose one")
    try:
        due = parse_due(args.due, today) if args.due else None
    except ValueError as exc:
        raise StepError(f"--due: {exc}") from None
    done = True if args.done else False if args.reopen else None
    db = open_cache(settings.cache_path, create=False)
    try:
        step_id = _resolve(db, args.step_id)
        try:
            actions.change_next_step(db, step_id=step_id, done=done, due_date=due, title=args.title)
        except actions.ActionError as exc:
            raise StepError(str(exc)) from None
        title = db.execute("SELECT title FROM next_steps WHERE id = ?", [step_id]).fetchone()[0]
    finally:
        db.conn.close()
    what = "done" if done else "open again" if done is False else "changed"
    if due is not None:
        what += f", due {due.isoformat()}"
    print(
        f"Next step “{plain(title)}” {what}. It waits in the outbox; `csm-tui sync` updates "
        "the CRM task."
    )
    return 0
