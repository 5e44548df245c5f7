"""B6: a sync at the pacing real users meet, against fakes that enforce HubSpot's and PostHog's
rate limits: requests by kind, time, and the floor the limits imply.

The client and the fakes share a simulated clock (csm_tui/sources/pacing.py): every wait the
budgets impose is taken in full, in simulated time, so a 3-minute sync runs in seconds and its
figure is the same on any machine. The time reported is the simulated waits, plus the CPU time
the sync really took on this machine, plus a modelled network latency (LATENCY seconds a
request, CONCURRENCY requests in flight), the one part an in-process fake cannot show.

    python benchmarks/paced_sync.py            # both books, both syncs
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from csm_tui.commands import demo  # noqa: E402
from csm_tui.config import Settings  # noqa: E402
from csm_tui.fakes.portfolio import generate_portfolio  # noqa: E402
from csm_tui.fakes.router import FakeApis  # noqa: E402
from csm_tui.sources.http import HttpPolicy  # noqa: E402
from csm_tui.sync import engine  # noqa: E402

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
LATENCY = 0.15  # seconds a HubSpot request takes (a typical answer from a US data centre)
CONCURRENCY = 4  # requests in flight (crm.concurrency's default)
SEARCH_PATH = re.compile(r"/search$")


@dataclass
class Figure:
    """One sync's numbers."""

    name: str
    requests: int
    search: int
    kinds: dict[str, int]
    waited: float
    cpu: float
    floor: float

    @property
    def wall(self) -> float:
        """Simulated waits + CPU + modelled latency."""
        return self.waited + self.cpu + self.requests * LATENCY / CONCURRENCY

    def line(self) -> str:
        """A row of the results table."""
        return (
            f"| {self.name} | {self.requests:,} | {self.search:,} | {self.wall:,.1f} s | "
            f"{self.floor:,.1f} s | x{self.wall / max(self.floor, 1e-9):.2f} |"
        )


def _kind(request: Any) -> str:
    path = re.sub(r"/\d+", "/{id}", request.url.path)
    return f"{request.method} {path}"


def _floor(requests: int, search: int, per_ten_seconds: int) -> float:
    """The least time the budgets allow: the general budget and the search one, whichever
    binds, plus the latency of the requests that must come one after the other."""
    general = max(0, requests - per_ten_seconds) / (per_ten_seconds / 10)
    searches = max(0, search - 4) / 4
    return max(general, searches) + requests * LATENCY / CONCURRENCY


def run_book(name: str, accounts: int, owner: bool, per_ten_seconds: int) -> list[Figure]:
    """First sync, then an incremental one 30 minutes later with nothing changed."""
    portfolio = generate_portfolio(accounts, 7, today=TODAY)
    clock = [NOW]
    apis = FakeApis(portfolio, clock=lambda: clock[0])
    apis.hubspot.limits.burst = per_ten_seconds
    in_fakes = [0.0]
    serve = apis.hubspot.handler

    def timed(request: Any) -> Any:
        started = time.process_time()
        try:
            return serve(request)
        finally:
            in_fakes[0] += time.process_time() - started

    apis.hubspot.handler = timed  # type: ignore[method-assign]
    work = Path(tempfile.mkdtemp(prefix="b6-"))
    settings = demo.demo_settings(
        Settings(data_dir=work),
        portfolio.demo_owner_email if owner else "",
        apis.hubspot.token,
        apis.posthog.token,
    )
    policy = HttpPolicy(crm_per_ten_seconds=per_ten_seconds, max_retry_after=0.0)
    figures = []
    for label, full in (("first", True), ("incremental", False)):
        assert apis.pacing_clock is not None
        before = len(apis.hubspot.requests)
        waited = apis.pacing_clock.monotonic()
        in_fakes[0] = 0.0
        started = time.process_time()
        engine.sync_blocking(
            settings,
            full=full,
            analytics=False,
            transport=apis.transport(),
            today=TODAY,
            clock=lambda: clock[0],
            policy=policy,
        )
        # The fakes' own work is HubSpot's, done on HubSpot's machines: not the user's time.
        cpu = time.process_time() - started - in_fakes[0]
        sent = apis.hubspot.requests[before:]
        search = sum(1 for r in sent if SEARCH_PATH.search(r.url.path))
        kinds = collections.Counter(_kind(r) for r in sent)
        figures.append(
            Figure(
                f"{name}, {label}",
                len(sent),
                search,
                dict(kinds),
                apis.pacing_clock.monotonic() - waited,
                cpu,
                _floor(len(sent), search, per_ten_seconds),
            )
        )
        clock[0] += timedelta(minutes=30)
        apis.pacing_clock.advance(30 * 60)
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run B6 and print a Markdown table and the requests by kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csm-accounts", type=int, default=375, help="~80%% are the CSM's")
    parser.add_argument("--manager-accounts", type=int, default=10_000)
    args = parser.parse_args(argv)
    figures = run_book("CSM book, Starter", args.csm_accounts, True, 100)
    figures += run_book("manager view, Professional", args.manager_accounts, False, 190)
    print("| sync | requests | of them search | time at real pacing | floor | vs floor |")
    print("|---|---|---|---|---|---|")
    for f in figures:
        print(f.line())
    for f in figures:
        print(f"\n{f.name}: " + ", ".join(f"{k} {v}" for k, v in sorted(f.kinds.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
