"""`csm-tui search WORDS`: the accounts every word matches (names, domains, contacts, notes,
survey comments, tickets), each with where it matched; snoozed ones say until when."""

from __future__ import annotations

import argparse
import json
import sys

from csm_tui.commands.today import EMPTY, EmptyCacheError, local_today
from csm_tui.config import Settings
from csm_tui.domain.models import plain
from csm_tui.errors import CsmError
from csm_tui.store.db import open_cache
from csm_tui.store.search import MARK_END, MARK_START, SearchHit, refresh_index, search


class NoWordsError(CsmError):
    """Nothing to search for."""

    exit_code = 2


def _snippet(text: str) -> str:
    """A snippet without its match marks, safe to print."""
    return plain(text.replace(MARK_START, "").replace(MARK_END, ""))


def as_json(hit: SearchHit) -> dict[str, object]:
    """One hit as the JSON output shows it."""
    return {
        "account_id": hit.account_id,
        "name": hit.name,
        "domain": hit.domain,
        "snoozed_until": hit.snoozed_until,
        "matched_in": hit.found.label if hit.found else "name or domain",
        "snippet": _snippet(hit.found.snippet) if hit.found else None,
    }


def line(hit: SearchHit) -> str:
    """One hit as a line of text."""
    parts = [plain(hit.name) or plain(hit.domain) or hit.account_id]
    if hit.domain and hit.name:
        parts.append(f"({plain(hit.domain)})")
    if hit.snoozed_until:
        parts.append(f"[snoozed until {hit.snoozed_until}]")
    if hit.found and hit.found.kind != "account":
        parts.append(f"— {hit.found.label}: {_snippet(hit.found.snippet)}")
    return " ".join(parts)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the accounts the words find, best ranked first."""
    text = " ".join(args.words).strip()
    if not text:
        raise NoWordsError("Say what to search for, e.g. `csm-tui search renewal pricing`.")
    db = open_cache(settings.cache_path, create=False)
    try:
        (count,) = db.conn.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()
        if not count:
            raise EmptyCacheError(EMPTY)
        refresh_index(db.conn)  # rows written since the last sync or action (none, usually)
        hits = search(db, text, local_today().isoformat(), limit=args.limit)
    finally:
        db.conn.close()
    if args.json:
        json.dump([as_json(h) for h in hits], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif not hits:
        print(f"No account matches {plain(text)!r}.")
    else:
        print("\n".join(line(h) for h in hits))
    return 0
