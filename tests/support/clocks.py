"""Clocks the tests move by hand."""

from __future__ import annotations

from datetime import datetime, timedelta


class Clock:
    """The one "now" the fake and the sync share; tests move it forward."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
