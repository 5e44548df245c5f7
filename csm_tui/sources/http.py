"""What every remote call shares: timeouts, bounded concurrency, client-side pacing within the
services' rolling-window budgets (sources/pacing.py), retries with backoff and jitter (stamina),
honouring Retry-After and HubSpot's rate-limit headers, and one-line errors that never contain a
token.

Requests go only to the configured base URL: paths are relative, redirects are not followed.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import math
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import stamina

from csm_tui.errors import CsmError
from csm_tui.sources.pacing import REAL_CLOCK, PacingClock, WindowLimiter

# httpcore tries `import sniffio` on every request and falls back to asyncio when it is not
# installed; a failed import is not remembered, so each request searched sys.path again
# (~0.4 ms of a ~1 ms request). Recording the absence once makes that import fail at once,
# exactly as before, without the search.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]


# A failed try is not the user's business until the last one: stamina's default hook logs every
# retry as a warning, which lands on stderr (and in cron mail). The final error is one line.
stamina.instrumentation.set_on_retry_hooks([])

# Tries without any connection before a request is given up as offline (well under 5 s).
OFFLINE_ATTEMPTS = 2


class SourceError(CsmError):
    """A remote call failed; the message is one line (never with a token in it)."""


class AuthError(SourceError):
    """The service rejected the token itself (401): nothing can work until it is replaced."""

    exit_code = 3


class ApiError(SourceError):
    """The service refused the request for good (a 4xx other than 401 and 429)."""

    def __init__(self, message: str, *, status: int, body: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.body: Mapping[str, Any] = body or {}


class Forbidden(ApiError):
    """403: the token is valid but may not do this one thing (a missing scope, a missing paid
    seat, no access to the project). Only the feature that needs it stops.

    HubSpot answers a missing scope with category MISSING_SCOPES and the scopes it wants in
    ``errors[].context.requiredGranularScopes`` (or ``requiredScopes``); see
    csm_tui/fakes/CONTRACT.md, "Scopes".
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 403,
        body: Mapping[str, Any] | None = None,
        scopes: tuple[str, ...] = (),
    ):
        super().__init__(message, status=status, body=body)
        self.scopes = scopes


class TransientError(SourceError):
    """The service could not be reached or kept failing (network, timeout, 5xx, 429)."""


class DailyLimitReached(TransientError):
    """HubSpot's daily request budget is spent (429, policyName DAILY): retrying before the
    portal's midnight only burns errors, so the sync stops with this one line."""


class BadResponse(SourceError):
    """The body was malformed, truncated or not JSON."""


class NotSent(TransientError):
    """The request never reached the service (no connection): nothing can have happened."""


class _Retry(Exception):
    """Internal: one attempt failed in a way worth another try, maybe after ``wait`` seconds.

    ``sent`` is False when the request cannot have reached the service (no connection made).
    """

    def __init__(self, message: str, wait: float | None = None, *, sent: bool = True):
        super().__init__(message)
        self.wait = wait
        self.sent = sent


@dataclass(frozen=True)
class Endpoint:
    """Where a service is and how to sign in (picklable, unlike the settings)."""

    base_url: str
    token: str | None
    token_hint: str  # where the token is set, for the message when it is refused
    timeout: float

    def __repr__(self) -> str:  # never the token
        return f"Endpoint({self.base_url!r})"


@dataclass(frozen=True)
class HttpPolicy:
    """Retry and rate-limit bounds; tests shrink them so they stay fast."""

    attempts: int = 6
    retry_total_seconds: float = 90.0  # give up after this long, whatever the attempt count
    wait_initial: float = 0.5
    wait_max: float = 10.0
    wait_jitter: float = 1.0
    max_retry_after: float = 30.0  # a longer Retry-After is cut to this
    # HubSpot private apps: 100 per rolling 10 s on Free and Starter, 190 on Professional and
    # Enterprise; search 4 per second with no burst (fakes/CONTRACT.md, "Rate limits").
    crm_per_ten_seconds: int = 100
    crm_search_per_second: int = 4
    crm_daily: int = 250_000
    # PostHog: 240 queries per minute and 2,400 per hour, 3 at once, per team.
    analytics_per_minute: int = 240
    analytics_per_hour: int = 2_400
    analytics_concurrency: int = 3
    analytics_page_size: int = 10_000  # rows per HogQL page (LIMIT)

    @classmethod
    def from_settings(cls, settings: Any) -> HttpPolicy:
        """Read overrides from the ``http`` settings section."""
        section = getattr(settings, "http", None)
        if section is None:
            return cls()
        values = {
            name: getattr(section, name)
            for name in cls.__dataclass_fields__
            if getattr(section, name, None) is not None
        }
        return cls(**values)


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None if absent."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def server_date(headers: Mapping[str, str]) -> datetime | None:
    """The instant in a response's Date header (UTC), or None when absent or unreadable."""
    value = headers.get("date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def rate_limit_pause(headers: Mapping[str, str]) -> float | None:
    """Seconds to hold back before the next request when HubSpot says the budget is spent."""

    def number(name: str) -> float | None:
        try:
            return float(headers[name])
        except (KeyError, ValueError):
            return None

    if number("x-hubspot-ratelimit-secondly-remaining") == 0:
        return 1.0
    if number("x-hubspot-ratelimit-remaining") == 0:
        interval = number("x-hubspot-ratelimit-interval-milliseconds")
        return (interval or 10_000) / 1000
    return None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every client uses (httpx's defaults), built once per process: each new
    client loaded the CA bundle again, ~20-35 ms of every sync, twice."""
    return httpx.create_ssl_context()


class ApiClient:
    """A JSON-over-HTTP client for one service (the CRM or the analytics API)."""

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        token: str | None,
        token_hint: str,
        timeout: float,
        concurrency: int,
        limiters: Mapping[str, tuple[WindowLimiter, ...]],
        policy: HttpPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: PacingClock | None = None,
    ) -> None:
        self.service = service
        self._token = token or ""
        self._token_hint = token_hint
        self._policy = policy
        self._limiters = dict(limiters)
        self.clock = clock or pacing_clock_of(transport)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._pause_until = 0.0
        self.requests = 0
        self.server_time: datetime | None = None  # the service's clock (Date of the last answer)
        headers = {"Accept": "application/json", "User-Agent": "csm-tui"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
            verify=tls_context(),
        )

    def _named_limiters(self) -> dict[str, WindowLimiter]:
        return {lim.name: lim for group in self._limiters.values() for lim in group if lim.name}

    def recent_sends(self) -> dict[str, list[float]]:
        """Per budget, the wall-clock times (epoch seconds) of requests still in its window."""
        now_wall, now = self.clock.wall(), self.clock.monotonic()
        return {
            name: [round(now_wall - (now - t), 3) for t in lim.sent_at()]
            for name, lim in self._named_limiters().items()
        }

    def seed_sends(self, sends: Mapping[str, list[float]]) -> None:
        """Count the requests that earlier runs with the same token sent (``recent_sends``)."""
        now_wall, now = self.clock.wall(), self.clock.monotonic()
        for name, lim in self._named_limiters().items():
            lim.seed(
                [now - (now_wall - w) for w in sends.get(name, ()) if 0 <= now_wall - w < 3600]
            )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _clean(self, text: str) -> str:
        """One line, at most 300 characters, with the token (if it ever appears) masked."""
        line = " ".join(str(text).split())
        if self._token and len(self._token) >= 4:
            line = line.replace(self._token, "***")
        return line[:300]

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        limiter: str = "default",
        retry: bool = True,
        validate: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Send one request (retrying transient failures); return the parsed JSON body.

        ``retry=False`` sends it once: a create whose answer was lost must be looked up before
        it is sent again, which only the caller can do. Raises AuthError, ApiError (permanent
        4xx), TransientError (gave up, or one try failed with retry=False) or BadResponse.
        ``validate`` turns the body into the result and raises BadResponse for a body of the
        wrong shape, which is then asked for again like a truncated one.
        """
        if not path.startswith("/") or "://" in path:
            raise ValueError(f"relative path expected, got {path!r}")  # stay on the base URL
        if not self._token:
            raise AuthError(self._auth_message("no token"))
        policy = self._policy
        last: str = ""
        if not retry:
            try:
                return await self._once(method, path, params, json_body, limiter, validate)
            except _Retry as exc:
                error = TransientError if exc.sent else NotSent
                raise error(
                    self._clean(f"{self.service} request {method} {path} failed: {exc}")
                ) from None
        unsent = 0

        def backoff(exc: BaseException) -> bool | float:
            nonlocal unsent
            if isinstance(exc, _Retry) and not exc.sent:
                unsent += 1
                if unsent >= OFFLINE_ATTEMPTS:
                    return False  # no connection twice running: offline, say so now
            return self._backoff(exc)

        try:
            async for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.attempts,
                timeout=policy.retry_total_seconds,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    return await self._once(method, path, params, json_body, limiter, validate)
        except _Retry as exc:
            if not exc.sent:
                raise NotSent(
                    self._clean(
                        f"{self.service} unreachable at {self._client.base_url} ({exc}). "
                        "Check your connection and run the sync again."
                    )
                ) from None
            last = str(exc)
        raise TransientError(
            self._clean(
                f"{self.service} request {method} {path.split('?')[0]} failed after retries: "
                f"{last}. Check your connection and run the sync again."
            )
        )

    def _backoff(self, exc: BaseException) -> bool | float:
        """stamina hook: retry our transient failures, honouring the server's wait when given."""
        if not isinstance(exc, _Retry):
            return False
        if exc.wait is not None:
            return min(exc.wait, self._policy.max_retry_after)
        return True

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        limiter_name: str,
        validate: Callable[[Any], Any] | None = None,
    ) -> Any:
        limiters = self._limiters.get(limiter_name) or self._limiters.get("default", ())
        async with self._semaphore:
            pause = self._pause_until - self.clock.monotonic()
            if pause > 0:
                await self.clock.sleep(pause)
            for limiter in limiters:
                await limiter.acquire()
            self.requests += 1
            try:
                response = await self._client.request(
                    method, path, params=_plain(params), json=json_body
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise _Retry(f"network error ({type(exc).__name__})", sent=False) from None
            except httpx.TimeoutException as exc:
                raise _Retry(f"timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                raise _Retry(f"network error ({type(exc).__name__})") from None
            try:
                body = self._read(response, method, path)
            finally:
                await response.aclose()
            if validate is None:
                return body
            try:
                return validate(body)
            except BadResponse as exc:
                raise _Retry(str(exc)) from None

    def _read(self, response: httpx.Response, method: str, path: str) -> Any:
        status = response.status_code
        headers = response.headers
        self.server_time = server_date(headers) or self.server_time
        pause = rate_limit_pause(headers)
        if pause is not None:
            pause = min(pause, self._policy.max_retry_after)
            self._pause_until = max(self._pause_until, self.clock.monotonic() + pause)
        if status == 401:
            raise AuthError(self._auth_message(str(status)))
        if status == 429:
            raise self._rate_limited(response)
        if status >= 500:
            raise _Retry(f"server error ({status})", retry_after_seconds(headers))
        try:
            body = _json_body(response)
        except BadResponse as exc:
            if status < 400:
                raise _Retry(str(exc)) from None  # a truncated or mangled page: ask again
            body = {}
        if status >= 400:
            body = body if isinstance(body, dict) else {}
            # HubSpot says why in `message`, PostHog in `detail` (fakes/CONTRACT.md, "Errors").
            message = body.get("message") or body.get("detail")
            category = body.get("category") or body.get("code")
            detail = f": {message}" if message else ""
            kind = f" {category}" if category else ""
            if status == 403:
                scopes = required_scopes(body)
                if scopes:
                    text = (
                        f"{self.service} token lacks the scope {' or '.join(scopes)} needed for "
                        f"{method} {path.split('?')[0]}: add it to the app's scopes"
                    )
                else:
                    text = f"{self.service} may not {method} {path} (403{kind}){detail}"
                raise Forbidden(self._clean(text), body=body, scopes=scopes)
            raise ApiError(
                self._clean(f"{self.service} refused {method} {path} ({status}{kind}){detail}"),
                status=status,
                body=body,
            )
        return body

    def _rate_limited(self, response: httpx.Response) -> Exception:
        """What a 429 means: a daily budget spent (stop), or a wait and another try.

        HubSpot: policyName DAILY is not retried; TEN_SECONDLY_ROLLING waits 10 s and the
        search's "secondly limit" 1 s when no Retry-After comes (HubSpot's own Node client does
        the same). PostHog sends Retry-After when throttled, nothing when its concurrency queue
        is full (fakes/CONTRACT.md, "Rate limits").
        """
        try:
            body = _json_body(response)
        except BadResponse:
            body = {}
        body = body if isinstance(body, dict) else {}
        policy = str(body.get("policyName") or "")
        if policy == "DAILY":
            return DailyLimitReached(
                f"{self.service} daily request limit reached (429 DAILY); it resets at midnight "
                "in the portal's time zone. Run the sync again after that."
            )
        wait = retry_after_seconds(response.headers)
        if wait is None:
            wait = rate_limit_pause(response.headers)
        if wait is None and policy == "TEN_SECONDLY_ROLLING":
            wait = 10.0
        if wait is None and "secondly" in str(body.get("message") or ""):
            wait = 1.0
        if wait is not None:
            self._pause_until = max(self._pause_until, self.clock.monotonic() + wait)
        return _Retry("rate limited (429)", wait)

    def _auth_message(self, status: str) -> str:
        if status == "no token":
            return f"{self.service} token is not set. Set {self._token_hint}."
        return f"{self.service} token rejected ({status}). Set {self._token_hint}."


def required_scopes(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The scopes a HubSpot 403 MISSING_SCOPES body asks for (empty when it names none)."""
    found: list[str] = []
    for error in body.get("errors") or ():
        context = error.get("context") if isinstance(error, dict) else None
        if not isinstance(context, dict):
            continue
        for key in ("requiredGranularScopes", "requiredScopes"):
            for scope in context.get(key) or ():
                if isinstance(scope, str) and scope not in found:
                    found.append(scope)
    return tuple(found)


def pacing_clock_of(transport: httpx.AsyncBaseTransport | None) -> PacingClock:
    """The clock a transport's requests are paced on: an in-process fake brings its simulated
    one (so waits cost no real time), the network the real one."""
    clock = getattr(transport, "pacing_clock", None)
    return clock if clock is not None else REAL_CLOCK


def _plain(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if params is None:
        return None
    return {k: str(v) for k, v in params.items() if v is not None and v != ""}


def _json_body(response: httpx.Response) -> Any:
    """Parse a JSON body, refusing wrong content types and truncated text."""
    kind = response.headers.get("content-type", "")
    if "json" not in kind.lower():
        raise BadResponse(f"unexpected content type {kind.split(';')[0] or 'none'!r}")
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise BadResponse("malformed JSON body") from None
    return body
