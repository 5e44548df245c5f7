"""Keeping Python's cycle collector out of the way of bulk work: a sync's decoding, a rescore,
the repaint of a saved result.

A 50,000-row analytics page becomes some 300,000 objects, a CRM page a few thousand; with the
default thresholds, such allocation bursts trigger collections that walk every object alive
(the pages fetched ahead, the app's own state), over and over: about a quarter of a
10,000-account sync's time. Decoded JSON and the rows made from it hold no reference cycles.

- ``gc_paused()``: the collector off while one page is decoded and mapped, while the book is
  rescored, while the app paints a saved result.
- ``gc_relaxed()``: for a whole sync, collections of the youngest objects only every
  50,000 allocations instead of 700 (fewer, larger collections; the same garbage collected).

Both are process-wide (there is one collector), nest, and put things back as they were.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SYNC_GEN0_THRESHOLD = 50_000

_lock = threading.Lock()
_paused = 0  # pauses in progress, in any thread
_was_enabled = True
_relaxed = 0
_thresholds = gc.get_threshold()


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


@contextmanager
def gc_relaxed() -> Iterator[None]:
    """Run the block with the youngest generation collected every 50,000 allocations."""
    global _relaxed, _thresholds
    with _lock:
        if _relaxed == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(max(_thresholds[0], SYNC_GEN0_THRESHOLD), *_thresholds[1:])
        _relaxed += 1
    try:
        yield
    finally:
        with _lock:
            _relaxed -= 1
            if _relaxed == 0:
                gc.set_threshold(*_thresholds)
