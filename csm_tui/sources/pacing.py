"""Pacing: how fast a client may send, by the services' published budgets, on a clock that is
either the real one or a simulated one shared with the in-process fakes.

The services count requests in rolling windows (HubSpot: "100 per 10 seconds, rolling";
PostHog: 240 per minute and 2,400 per hour), so the limiter keeps the send times of the last
window and waits until every window has room. A leaky bucket (aiolimiter) is not strict enough
for a rolling window: it allows a full burst and then its refill within the same window.

The in-process fakes (tests, the demo) and the client share a ``SimulatedClock``: waiting on it
moves simulated time forward at once, and the fake counts requests on the same clock. So the
requests are exactly the ones the real services would accept at real pacing, without real waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class PacingClock(Protocol):
    """Seconds that only move forward, and a way to wait for them."""

    def monotonic(self) -> float:
        """Now, in seconds from an arbitrary start."""
        ...

    def wall(self) -> float:
        """Now, in epoch seconds (to save a budget's spend for the next process)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class RealClock:
    """The machine's monotonic clock."""

    def monotonic(self) -> float:
        """Now, in seconds."""
        return time.monotonic()

    def wall(self) -> float:
        """Now, in epoch seconds."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Wait for real."""
        await asyncio.sleep(max(0.0, seconds))


class SimulatedClock:
    """A clock that jumps forward when someone waits on it (thread-safe)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._epoch = time.time() - start  # simulated time runs on from the real epoch
        self._lock = threading.Lock()
        self.waited = 0.0  # simulated seconds spent waiting, for progress and benchmarks

    def monotonic(self) -> float:
        """Simulated now."""
        with self._lock:
            return self._now

    def wall(self) -> float:
        """Simulated now, in epoch seconds."""
        with self._lock:
            return self._epoch + self._now

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (a test passing time)."""
        with self._lock:
            self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` and let other tasks run."""
        if seconds > 0:
            with self._lock:
                self._now += seconds
                self.waited += seconds
        await asyncio.sleep(0)


REAL_CLOCK = RealClock()
EDGE_MARGIN = 0.05  # seconds


@dataclass(frozen=True)
class Window:
    """At most ``requests`` in any rolling ``seconds``."""

    requests: int
    seconds: float


class WindowLimiter:
    """Waits until a request fits in every rolling window, then records it."""

    def __init__(
        self, windows: Sequence[Window], clock: PacingClock = REAL_CLOCK, *, name: str = ""
    ) -> None:
        self.name = name  # which budget it keeps (its spend is saved under this name)
        self.windows = tuple(w for w in windows if w.requests > 0)
        self.clock = clock
        longest = max((w.seconds for w in self.windows), default=0.0)
        self._longest = longest
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    def _room_in(self, now: float) -> float:
        """Seconds until one more request fits every window (0: it fits now)."""
        while self._sent and now - self._sent[0] >= self._longest:
            self._sent.popleft()
        wait = 0.0
        for window in self.windows:
            start = now - window.seconds
            # The send times inside this window, oldest first.
            inside = [t for t in self._sent if t > start]
            if len(inside) >= window.requests:
                oldest_to_leave = inside[len(inside) - window.requests]
                wait = max(wait, oldest_to_leave + window.seconds - now)
        return wait

    def sent_at(self) -> list[float]:
        """When the requests of the longest window went out (this clock's seconds)."""
        now = self.clock.monotonic()
        return [t for t in self._sent if now - t < self._longest]

    def seed(self, times: list[float]) -> None:
        """Count requests another process sent at ``times`` (this clock's seconds): the budget
        belongs to the token, not to one process."""
        self._sent = deque(sorted([*self._sent, *times]))

    async def acquire(self) -> None:
        """Wait for room, then count one request as sent now."""
        async with self._lock:
            while True:
                now = self.clock.monotonic()
                wait = self._room_in(now)
                if wait <= 0:
                    self._sent.append(now)
                    return
                # Past the edge by more than the network's jitter, so the request lands outside
                # the window it waited on as the service counts it (1 ms was not enough on
                # loopback: the fake counted some search requests inside the last second).
                await self.clock.sleep(wait + EDGE_MARGIN)
