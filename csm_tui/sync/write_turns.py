"""Turns at the cache's one writer, between the CRM pull and the analytics pull's table copies.

SQLite lets one connection write at a time. The CRM pull writes its pages on the sync's
connection; a whole analytics pull is moved in by one long statement per table, on a thread and
a connection of its own (sync/page_staging.py), which SQLite runs without Python's lock. Once a
table is staged, its copy waits for a quiet point of the CRM pull (no transaction open), then
runs while the CRM pull goes on mapping its pages and keeps their rows until the copy is done.
So the copies overlap the CRM pull instead of following it.

The CRM pull calls ``quiet()`` where it holds no transaction, asks ``busy()`` before writing,
and ``settle()`` before a write it cannot put off. The analytics pull ``want``s a copy once its
table is staged, and ``claim``s it back to run it itself when the CRM pull never gave it a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class WriteTurns:
    """Copies waiting for the writer, and the ones started (one runs at a time)."""

    def __init__(self) -> None:
        self._waiting: dict[str, Callable[[], asyncio.Future[Any]]] = {}
        self._started: list[asyncio.Future[Any]] = []

    def want(self, name: str, start: Callable[[], asyncio.Future[Any]]) -> None:
        """Start ``name``'s copy (``start()``) at the next quiet point."""
        self._waiting[name] = start

    def claim(self, name: str) -> bool:
        """Take back ``name``'s copy if it has not started (True: the caller runs it)."""
        return self._waiting.pop(name, None) is not None

    def wanted(self) -> bool:
        """Whether a copy waits for a quiet point."""
        return bool(self._waiting)

    def busy(self) -> bool:
        """Whether a copy is writing now."""
        return any(not f.done() for f in self._started)

    def quiet(self) -> None:
        """The CRM pull holds no transaction: the next waiting copy starts, unless one runs."""
        if self._waiting and not self.busy():
            name = next(iter(self._waiting))
            self._started.append(self._waiting.pop(name)())

    async def settle(self) -> None:
        """Wait until no copy writes (their failures are the analytics pull's to report)."""
        while self.busy():
            await asyncio.wait([f for f in self._started if not f.done()])
