"""Secrets: the tokens never appear in the cache, any file of the data dir, any command's output
or error, doctor, or a traceback, after syncs that succeed and syncs that fail; requests go
only to the configured base URLs.

(Where tokens come from, the keyring, the warning for a config file other users can read and
the refusal of plain http off loopback are proven in test_config.)
"""

from __future__ import annotations

import io
import os
import traceback
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from rich.traceback import Traceback
from support.clocks import Clock
from support.sync import FAST, FAST_ENV

from csm_tui.cli import main
from csm_tui.config import load_settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis
from csm_tui.sync.engine import sync_blocking

CRM_TOKEN = "pat-na1-11111111-crm-secret-token"
ANALYTICS_TOKEN = "phx_analytics_secret_token_22222222"
WRONG_TOKEN = "pat-na1-99999999-wrong-but-still-secret"
SECRETS = (CRM_TOKEN, ANALYTICS_TOKEN, WRONG_TOKEN)
TODAY = date.today()


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    return generate_portfolio(8, 9, today=TODAY)


@pytest.fixture
def apis(portfolio: Portfolio) -> FakeApis:
    return FakeApis(portfolio, hubspot_token=CRM_TOKEN, posthog_token=ANALYTICS_TOKEN)


@pytest.fixture
def served(
    apis: FakeApis, portfolio: Portfolio, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Both fakes on loopback; the CRM token in a private config file, the other in the env."""
    server = apis.serve(port=0)
    config = isolated_env / "config.toml"
    config.write_text(
        f'[crm]\nbase_url = "{server.url}"\ntoken = "{CRM_TOKEN}"\n'
        f'owner_email = "{portfolio.demo_owner_email}"\n'
        f'[analytics]\nbase_url = "{server.url}"\nproject_id = "1"\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("CSM_TUI_ANALYTICS__TOKEN", ANALYTICS_TOKEN)
    for key, value in FAST_ENV.items():
        monkeypatch.setenv(key, value)
    with server:
        yield server.url


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in SECRETS if s.encode() in data]


def test_no_token_in_any_output_or_file_after_syncs_that_succeed_and_fail(
    served: str,
    apis: FakeApis,
    isolated_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outputs: list[str] = []

    def run(*argv: str) -> int:
        code = main(list(argv))
        out = capsys.readouterr()
        outputs.extend((out.out, out.err))
        return code

    assert run("sync") == 0
    settings = load_settings()
    account = str(apis.hubspot.records("companies")[0]["id"])
    assert run("log", account, "--kind", "note", "--summary", "Token talk") == 0
    # The CRM refuses the push and echoes the token back in its error body.
    apis.faults.add(path=r"/crm/v3/objects/notes$", method="POST", status=400,
                    body={"status": "error", "category": "VALIDATION_ERROR",
                          "message": f"Bad request with Authorization: Bearer {CRM_TOKEN}"})  # fmt: skip
    assert run("sync") == 0
    assert "push failed" in outputs[-2]
    apis.faults.add(path=r"/crm/v3/objects/contacts/search", status=500, times=100,
                    body=f"upstream said {CRM_TOKEN}")  # fmt: skip
    assert run("sync") != 0
    apis.faults.clear()
    apis.faults.add(path=r"/api/projects/1/query", status=400, times=100,
                    body={"type": "validation_error", "detail": f"key {ANALYTICS_TOKEN} lacks query:read"})  # fmt: skip
    assert run("sync", "--analytics-only") != 0
    apis.faults.clear()
    monkeypatch.setenv("CSM_TUI_CRM__TOKEN", WRONG_TOKEN)
    assert run("sync", "--crm-only") != 0
    assert "CRM token rejected (401)" in outputs[-1]
    monkeypatch.setenv("CSM_TUI_DEBUG", "1")
    monkeypatch.setenv("CSM_TUI_CRM__BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    assert run("sync", "--crm-only") != 0
    monkeypatch.delenv("CSM_TUI_DEBUG")
    monkeypatch.delenv("CSM_TUI_CRM__BASE_URL")
    monkeypatch.delenv("CSM_TUI_CRM__TOKEN")
    for command in (["outbox"], ["doctor"], ["today"], ["today", "--json"], ["portfolio"]):
        run(*command)

    assert sum(len(o) for o in outputs) > 1000
    assert not [o for o in outputs if leaks(o)], [o[:300] for o in outputs if leaks(o)]
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert settings.cache_path in files
    assert not [p for p in files if leaks(p.read_bytes())]
    requested_hosts = {r.url.netloc for r in apis.hubspot.requests + apis.posthog.requests}
    assert requested_hosts == {served.removeprefix("http://").encode()}


def test_a_crash_traceback_even_with_locals_holds_no_token(
    portfolio: Portfolio, apis: FakeApis
) -> None:
    """An unexpected bug mid-sync: the traceback Textual or CSM_TUI_DEBUG would show is clean."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/crm/v3/objects/deals/batch/read":
            raise RuntimeError("a bug while reading deals")
        return apis.handler(request)

    settings = load_settings(
        crm={"base_url": "http://127.0.0.1:9", "token": CRM_TOKEN,
             "owner_email": portfolio.demo_owner_email},
        analytics={"base_url": "http://127.0.0.1:9", "token": ANALYTICS_TOKEN, "project_id": "1"},
    )  # fmt: skip
    with pytest.raises(RuntimeError) as info:
        sync_blocking(
            settings,
            transport=apis.transport(handler),
            clock=Clock(portfolio.now + timedelta(hours=8)),
            today=TODAY,
            policy=FAST,
        )
    plain = "".join(traceback.format_exception(info.value))
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(
        Traceback.from_exception(
            info.type, info.value, info.tb, show_locals=True, locals_max_string=10_000
        )
    )
    rich = buffer.getvalue()
    assert "a bug while reading deals" in plain and "self" in rich
    assert not leaks(plain) and not leaks(rich), leaks(plain + rich)


def test_requests_never_leave_the_configured_base_url(
    portfolio: Portfolio, apis: FakeApis, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if request.url.path == "/crm/v3/objects/contacts/batch/read":
            # A redirect elsewhere, and paging links that point elsewhere too.
            return httpx.Response(
                307, headers={"Location": "https://evil.example/steal"}, request=request
            )
        response = apis.handler(request)
        return response

    settings = load_settings(
        crm={"base_url": "http://127.0.0.1:9", "token": CRM_TOKEN,
             "owner_email": portfolio.demo_owner_email},
    )  # fmt: skip
    with pytest.raises(Exception) as info:
        sync_blocking(
            settings, analytics=False, transport=apis.transport(handler),
            clock=Clock(portfolio.now + timedelta(hours=8)), today=TODAY, policy=FAST,
        )  # fmt: skip
    assert "\n" not in str(info.value) and not leaks(str(info.value))
    assert {(u.scheme, u.host, u.port) for u in seen} == {("http", "127.0.0.1", 9)}
    assert os.environ.get("CSM_TUI_CRM__TOKEN") is None
