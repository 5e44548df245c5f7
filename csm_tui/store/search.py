"""Finding accounts by what the user types: every word must match, each anywhere; and keeping
the search index up to date.

A word matches an account when it is in the account's name or domain (anywhere in them, as the
filter always did), or when a word of its search index starts with it (store/schema.py's
``search_index``: contacts, notes, survey comments, tickets). What the user types is never FTS5
query syntax: each word is quoted as a phrase, so ``"``, ``AND``, ``-`` or ``*`` are text.

Plain data out, one connection in; nothing here imports textual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

    import sqlite_utils

    Reader = sqlite3.Connection | sqlite_utils.Database

# Where a match is: the kind of document -> what the user reads.
KIND_LABELS = {
    "account": "name",
    "contact": "contact",
    "note": "note",
    "survey": "survey comment",
    "ticket": "ticket",
}
# Delimiters of the matched words in a snippet (see ``match_parts``).
MARK_START, MARK_END = "\x02", "\x03"
SNIPPET_TOKENS = 10
# Snippets are read for at most this many accounts (the top of the list): a word in thousands
# of notes would otherwise cost a snippet for every one of them.
SNIPPET_LIMIT = 300
_WORD = re.compile(r"\w", re.UNICODE)


def refresh_index(conn: sqlite3.Connection) -> int:
    """Index again the rows written since the last refresh (noted by store/schema.py's
    triggers in search_dirty); return how many. A few batch statements: the rescore that
    follows every write (sync, local actions, undo) calls it.
    """
    from csm_tui.store.schema import SEARCHED, use_search_text

    if conn.execute("SELECT 1 FROM search_dirty LIMIT 1").fetchone() is None:
        return 0
    use_search_text(conn)
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS search_todo (kind TEXT NOT NULL, ref TEXT NOT NULL, "
            "PRIMARY KEY (kind, ref)) WITHOUT ROWID"
        )
        conn.execute("DELETE FROM temp.search_todo")
        conn.execute(
            "INSERT INTO temp.search_todo SELECT DISTINCT kind, ref FROM main.search_dirty"
        )
        conn.execute("DELETE FROM main.search_dirty")
        stale = (
            "SELECT k.id FROM main.search_keys k JOIN temp.search_todo d "
            "ON d.kind = k.kind AND d.ref = k.ref"
        )
        conn.execute(f"DELETE FROM main.search_index WHERE rowid IN ({stale})")
        conn.execute(f"DELETE FROM main.search_keys WHERE id IN ({stale})")
        for table, kind, account, text, _ in SEARCHED:
            todo = f"FROM temp.search_todo d JOIN main.{table} r ON r.id = d.ref"
            conn.execute(
                f"INSERT INTO main.search_keys (kind, ref) SELECT d.kind, d.ref {todo} "
                "WHERE d.kind = ?",
                [kind],
            )
            conn.execute(
                "INSERT INTO main.search_index (rowid, account_id, kind, body) "
                f"SELECT k.id, r.{account}, d.kind, search_text({text.format(r='r')}) {todo} "
                "JOIN main.search_keys k ON k.kind = d.kind AND k.ref = d.ref WHERE d.kind = ?",
                [kind],
            )
        (count,) = conn.execute("SELECT COUNT(*) FROM temp.search_todo").fetchone()
        conn.execute("DELETE FROM temp.search_todo")
    except BaseException:
        if began:
            conn.execute("ROLLBACK")
        raise
    if began:
        conn.execute("COMMIT")
    return int(count)


def refresh_if_free(conn: sqlite3.Connection) -> None:
    """``refresh_index`` unless another writer (a sync) holds the cache: then the search reads
    what is indexed, and the rescore that ends the sync brings the rest."""
    import sqlite3

    if conn.execute("SELECT 1 FROM search_dirty LIMIT 1").fetchone() is None:
        return
    (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        refresh_index(conn)
    except sqlite3.OperationalError:  # locked: another process writes
        pass
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")


def words_of(text: str | None) -> list[str]:
    """The words of ``text`` (whitespace apart), each once, in order."""
    return list(dict.fromkeys((text or "").split()))


def fts_phrase(word: str) -> str | None:
    """``word`` as an FTS5 prefix phrase (``"acme"*``), or None when it has no letter or digit
    (FTS5 would find nothing; the name and domain are still searched for it)."""
    if len(word) < 2 or not _WORD.search(word):
        # One letter would scan every term of the index: the name and domain answer it.
        return None
    return '"' + word.replace('"', '""') + '"*'


def like_pattern(text: str) -> str:
    """``text`` anywhere, for LIKE ... ESCAPE '\\'."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def match_clause(text: str | None, account: str = "a") -> tuple[list[str], list[Any]]:
    """WHERE terms (and their parameters) keeping the accounts ``account`` that every word of
    ``text`` matches."""
    where: list[str] = []
    params: list[Any] = []
    for word in words_of(text):
        pattern = like_pattern(word)
        term = f"{account}.name LIKE ? ESCAPE '\\' OR {account}.domain LIKE ? ESCAPE '\\'"
        params += [pattern, pattern]
        phrase = fts_phrase(word)
        if phrase is not None:
            term += (
                f" OR {account}.id IN (SELECT account_id FROM search_index "
                "WHERE search_index MATCH ?)"
            )
            params.append(phrase)
        where.append(f"({term})")
    return where, params


@dataclass(frozen=True, slots=True)
class Found:
    """Where an account matched: the kind of document and a snippet of it."""

    kind: str
    snippet: str  # the matched words between MARK_START and MARK_END

    @property
    def label(self) -> str:
        """What the user reads for the kind ("note", "ticket", ...)."""
        return KIND_LABELS.get(self.kind, self.kind)


def snippets(db: Reader, text: str | None, account_ids: Sequence[str]) -> dict[str, Found]:
    """For each of ``account_ids`` (at most SNIPPET_LIMIT of them), the best matching document
    other than its name when there is one (the list shows the name already). An account whose
    name or domain holds every word has none: its name says why it is listed, and a contact's
    email at that domain would only repeat it."""
    phrases = [p for p in (fts_phrase(w) for w in words_of(text)) if p is not None]
    wanted = list(account_ids)[:SNIPPET_LIMIT]
    if not phrases or not wanted:
        return {}
    named = {
        r[0]
        for r in db.execute(
            "SELECT account_id FROM search_index WHERE search_index MATCH ? AND kind = 'account' "
            "AND account_id IN (SELECT value FROM json_each(?))",
            [" AND ".join(phrases), json.dumps(wanted)],
        )
    }
    wanted = [acc for acc in wanted if acc not in named]
    if not wanted:
        return {}
    rows = db.execute(
        "SELECT account_id, kind, snippet(search_index, 2, ?, ?, '…', ?) FROM search_index "
        "WHERE search_index MATCH ? AND account_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY kind = 'account', rank",
        [MARK_START, MARK_END, SNIPPET_TOKENS, " OR ".join(phrases), json.dumps(wanted)],
    ).fetchall()
    found: dict[str, Found] = {}
    for account_id, kind, snippet in rows:
        found.setdefault(account_id, Found(kind, snippet or ""))
    return found


def match_parts(snippet: str) -> list[tuple[str, bool]]:
    """A snippet as (text, matched) pieces; the text is still untrusted (clean it to show)."""
    parts: list[tuple[str, bool]] = []
    for n, piece in enumerate(snippet.split(MARK_START)):
        if n == 0:
            if piece:
                parts.append((piece, False))
            continue
        hit, _, rest = piece.partition(MARK_END)
        if hit:
            parts.append((hit, True))
        if rest:
            parts.append((rest, False))
    return parts


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One account found by ``search`` (the command line's answer)."""

    account_id: str
    name: str
    domain: str
    snoozed_until: str | None
    found: Found | None


def search(db: Reader, text: str, today: str, limit: int = 50) -> list[SearchHit]:
    """Accounts (not archived) every word of ``text`` matches, ranked by stored priority,
    each with where it matched; snoozed ones included, with the day they come back."""
    where, params = match_clause(text)
    if not where:
        return []
    rows = db.execute(
        "SELECT a.id, a.name, a.domain, (SELECT z.until FROM snoozes z WHERE z.account_id = a.id "
        "AND z.until > ?) FROM accounts a LEFT JOIN scores s ON s.account_id = a.id "
        f"WHERE a.archived = 0 AND {' AND '.join(where)} "
        "ORDER BY COALESCE(s.priority, 0) DESC, a.name, a.id LIMIT ?",
        [today, *params, limit],
    ).fetchall()
    found = snippets(db, text, [r[0] for r in rows])
    return [SearchHit(r[0], r[1] or "", r[2] or "", r[3], found.get(r[0])) for r in rows]
