"""The fake HubSpot's rate limits: a rolling 10-second burst, a daily budget, search per second.

Rules (VENDOR-CONTRACTS 1.9): a private app on Free/Starter gets 100 requests per rolling
10 seconds (Professional/Enterprise 190) and 250,000 a day per account, counted to midnight
in the account's time zone; search allows 4 requests a second and its answers carry no
``X-HubSpot-RateLimit-*`` headers. 429 bodies name the policy that refused.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from csm_tui.fakes.hubspot_schema import ApiError

BURST_WINDOW = 10.0  # seconds, rolling (HS-docs "Private apps" overview)
STARTER_BURST, PRO_BURST = 100, 190
STARTER_DAILY = 250_000
SEARCH_PER_SECOND = 4  # HS changelog "CRM Search API Rate Limit Increase"


class RateLimits:
    """Counts requests on the injected ticker (burst, search) and the account's clock (daily)."""

    def __init__(
        self,
        *,
        ticker: Callable[[], float],
        clock: Callable[[], datetime],
        burst: int = STARTER_BURST,
        daily: int = STARTER_DAILY,
        search_per_second: int = SEARCH_PER_SECOND,
        timezone: str = "America/New_York",
    ) -> None:
        self.ticker = ticker
        self.clock = clock
        self.burst = burst
        self.daily = daily
        self.search_per_second = search_per_second
        self.timezone = ZoneInfo(timezone)
        self._calls: deque[float] = deque()
        self._searches: deque[float] = deque()
        self._day: date | None = None
        self._today = 0

    def _prune(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= BURST_WINDOW:
            self._calls.popleft()
        while self._searches and now - self._searches[0] >= 1.0:
            self._searches.popleft()
        day = self.clock().astimezone(self.timezone).date()
        if day != self._day:  # the daily count restarts at the account's midnight
            self._day, self._today = day, 0

    def admit(self, is_search: bool, enforce: bool) -> None:
        """Count one request, or raise the 429 HubSpot would answer (when ``enforce``)."""
        now = self.ticker()
        self._prune(now)
        if enforce:
            if self._today >= self.daily:
                raise _limit("You have reached your daily limit.", "DAILY")
            if len(self._calls) >= self.burst:
                raise _limit(
                    "You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"
                )
            if is_search and len(self._searches) >= self.search_per_second:
                # The message HubSpot's Node client keys its search retry on (HS-node
                # RetryDecorator.ts); the policy name is not published.
                raise _limit("You have reached your secondly limit.", "SECONDLY")
        self._calls.append(now)
        self._today += 1
        if is_search:
            self._searches.append(now)

    def headers(self) -> dict[str, str]:
        """The ``X-HubSpot-RateLimit-*`` headers of a non-search answer (hubspot-api-python#143)."""
        now = self.ticker()
        self._prune(now)
        secondly = max(1, self.burst // 10)
        last_second = sum(1 for t in self._calls if now - t < 1.0)
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self._today)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(BURST_WINDOW * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.burst),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.burst - len(self._calls))),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - last_second)),
        }


def _limit(message: str, policy: str) -> ApiError:
    """A 429 in HubSpot's rate-limit shape: errorType and policyName, no category (1.9)."""
    return ApiError(
        429,
        message,
        None,
        errorType="RATE_LIMIT",
        policyName=policy,
        requestId=str(uuid.uuid4()),
    )
