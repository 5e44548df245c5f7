"""Keeping Python's cycle collector out of the way of a whole-book rescore.

A rescore of 10,000 accounts builds some 300,000 small objects that hold no reference cycles;
with the default thresholds their allocation triggers collections that walk every object alive,
over and over. ``gc_paused()`` turns the collector off for the block (process-wide: there is one
collector), nests, and puts it back as it was. The benchmark figure that justifies it is in
benchmarks/RESULTS.md (B3).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0  # pauses in progress, in any thread
_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cycle collector off."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()
