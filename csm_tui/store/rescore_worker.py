"""The second process of a full rescore: scores half of the book (see store/rescore.py).

Started as ``python -m csm_tui.store.rescore_worker <cache path>`` by ``rescore``, it reads
pickled requests on stdin and answers each with a pickled ``("ok", result)`` or ``("error",
text)`` on stdout:

1. ``("load", ScoringSettings, today, IdRange)``: the inputs of its share of the accounts are
   read; the answer is what the book's tiers are ranked by (``TierInput`` fields per account,
   as a tuple).
2. ``("score", tiers, peers, use per seat, computed_at)``: the answer is its accounts' rows of
   the scores table, which the first process writes with its own.

It only reads the cache (``PRAGMA query_only``) and imports no pydantic and no sqlite-utils, so
it starts in a fraction of its share of the work.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
import sys
import traceback
from typing import Any, BinaryIO

from csm_tui.store.db import BUSY_TIMEOUT_MS

MMAP_BYTES = 1 << 30


class _Cache:
    """A read-only connection, where the store's readers expect a database (``db.conn``)."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA query_only = ON")
        # Pages read through a memory map, not copied in one read() each (~10% of the queries'
        # time). Only here: in a long-lived process the mapped pages would count as its memory.
        self.conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


def _reply(out: BinaryIO, kind: str, value: Any) -> None:
    pickle.dump((kind, value), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def main(argv: list[str]) -> int:
    """Serve the two requests of one rescore, then exit."""
    requests, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        import gc

        from csm_tui.store.rescore import load_share, score_share

        gc.disable()  # as in the first process: nothing it builds is a cycle
        cache = _Cache(argv[0])
        _, spec, today, share = pickle.load(requests)
        book, seats = load_share(cache, spec, today, share)
        # As plain tuples: pickling thousands of frozen dataclasses costs ~10 ms each way.
        _reply(out, "ok", [(t.id, t.name, t.arr, t.per_seat) for t in seats])
        _, tiers, peers, seat, computed_at = pickle.load(requests)
        rows = score_share(cache, spec, today, share, book, tiers, peers, seat, computed_at)
        _reply(out, "ok", rows)
        # Done: leave without tearing down a heap of some 100,000 objects one by one (the first
        # process waits for this one to end). Nothing is left to write or flush.
        os._exit(0)
    except EOFError:  # the first process went on without us
        return 0
    except Exception:
        with contextlib.suppress(OSError):
            _reply(out, "error", traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
