"""The shared HTTP behaviour: retries, Retry-After, rate-limit headers, one-line errors."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from csm_tui.sources.http import (
    ApiClient,
    ApiError,
    AuthError,
    HttpPolicy,
    TransientError,
    rate_limit_pause,
    retry_after_seconds,
)

FAST = HttpPolicy(
    attempts=4, retry_total_seconds=5, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0,
    max_retry_after=0.01,
)  # fmt: skip
TOKEN = "pat-secret-token-123"


def client(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> ApiClient:
    return ApiClient(
        service="CRM",
        base_url="http://127.0.0.1:9",
        token=TOKEN,
        token_hint="CSM_TUI_CRM__TOKEN or crm.token in /x/config.toml",
        timeout=5,
        concurrency=2,
        limiters={},
        policy=kw.pop("policy", FAST),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handler),
    )


def scripted(*responses: httpx.Response | type[Exception]) -> tuple[Callable, list]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses[min(len(seen), len(responses)) - 1]
        if isinstance(item, type):
            raise item("scripted", request=request)
        return item

    return handler, seen


def ok(body: object = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"results": []})


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "soon"}) is None
    stamp = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert retry_after_seconds({"retry-after": stamp}, now=1445412480.0) == 10.0


def test_hubspot_rate_limit_headers_ask_for_a_pause_only_when_spent() -> None:
    assert rate_limit_pause({"x-hubspot-ratelimit-secondly-remaining": "0"}) == 1.0
    spent = {
        "x-hubspot-ratelimit-remaining": "0",
        "x-hubspot-ratelimit-interval-milliseconds": "10000",
    }
    assert rate_limit_pause(spent) == 10.0
    assert rate_limit_pause({"x-hubspot-ratelimit-remaining": "57"}) is None


async def test_429_with_and_without_retry_after_then_500_then_success() -> None:
    handler, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "1"}, json={"errorType": "RATE_LIMIT"}),
        httpx.Response(429, json={"errorType": "RATE_LIMIT"}),
        httpx.Response(502, text="bad gateway"),
        ok({"results": [1]}),
    )
    async with client(handler) as c:
        assert await c.request("GET", "/crm/v3/owners") == {"results": [1]}
    assert len(seen) == 4
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)


async def test_timeouts_and_connect_errors_are_retried_then_given_up_in_one_line() -> None:
    handler, seen = scripted(httpx.ConnectError, httpx.ReadTimeout)
    async with client(handler) as c:
        with pytest.raises(TransientError) as info:
            await c.request("GET", "/crm/v3/owners")
    assert len(seen) == FAST.attempts
    assert "\n" not in str(info.value) and "timed out" in str(info.value)


async def test_a_malformed_page_is_asked_again_and_a_wrong_content_type_too() -> None:
    handler, seen = scripted(
        httpx.Response(200, content=b'{"results": [', headers={"content-type": "application/json"}),
        httpx.Response(200, content=b"<html>oops</html>", headers={"content-type": "text/html"}),
        ok(),
    )
    async with client(handler) as c:
        assert await c.request("GET", "/crm/v3/owners") == {"results": []}
    assert len(seen) == 3


async def test_a_token_the_service_rejects_gives_the_one_line_to_fix_it() -> None:
    handler, seen = scripted(httpx.Response(401, json={"message": f"bad token {TOKEN}"}))
    async with client(handler) as c:
        with pytest.raises(AuthError) as info:
            await c.request("GET", "/crm/v3/owners")
    assert str(info.value) == (
        "CRM token rejected (401). Set CSM_TUI_CRM__TOKEN or crm.token in /x/config.toml."
    )
    assert len(seen) == 1  # no retry on 401


async def test_a_permanent_refusal_is_not_retried_and_never_shows_the_token() -> None:
    body = {
        "status": "error",
        "message": f"Property x is bad (token {TOKEN})",
        "category": "VALIDATION_ERROR",
    }
    handler, seen = scripted(httpx.Response(400, json=body))
    async with client(handler) as c:
        with pytest.raises(ApiError) as info:
            await c.request("POST", "/crm/v3/objects/notes", json_body={})
    assert len(seen) == 1
    assert info.value.status == 400 and "VALIDATION_ERROR" in str(info.value)
    assert TOKEN not in str(info.value) and "***" in str(info.value)


async def test_requests_stay_on_the_configured_base_url() -> None:
    handler, seen = scripted(ok())
    async with client(handler) as c:
        with pytest.raises(ValueError):
            await c.request("GET", "https://evil.example/crm/v3/owners")
        await c.request("GET", "/crm/v3/owners", params={"after": None, "limit": 100})
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:9/crm/v3/owners?limit=100"]
