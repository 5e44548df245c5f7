"""The world of the reliability suites (crash, offline, concurrency): both fakes served on
loopback, the real `csm-tui` run in a subprocess through a wrapper that can kill it (SIGKILL) or
hold it still at an SQL statement, an HTTP killer on the fakes' side, a base cache of the
unchanged CRM, the CRM's edits, and what the user did offline.

Its fixtures (``portfolio``, ``module_env``, ``base_cache``, ``world``) are registered for every
test module by tests/conftest.py (``pytest_plugins``); a module's own fixture of the same name
wins.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from csm_tui.commands.demo import demo_inbox
from csm_tui.config import Settings, load_settings
from csm_tui.fakes.portfolio import Portfolio, generate_portfolio
from csm_tui.fakes.router import FakeApis, FakeServer
from csm_tui.store import actions
from csm_tui.store.db import open_cache
from csm_tui.sync.engine import sync_blocking
from support.clocks import Clock
from support.sync import FAST, FAST_ENV

# The wrapper the killed sync runs in: the real CLI, with every SQLite connection traced.
WRAPPER = """
import os, re, signal, sqlite3, sys

import time

pattern = os.environ.get("CSM_TEST_KILL_SQL")
target = int(os.environ.get("CSM_TEST_KILL_AT") or 0)
kill_on_close = os.environ.get("CSM_TEST_KILL_ON_CLOSE") == "1"
pause = os.environ.get("CSM_TEST_PAUSE_SQL")  # hold still there until told to go on
pause_file = os.environ.get("CSM_TEST_PAUSE_FILE", "")
seen = 0


def trace(statement):
    global seen, pause
    if pattern and re.search(pattern, statement):
        seen += 1
        if seen == target:
            os.kill(os.getpid(), signal.SIGKILL)
    if pause and re.search(pause, statement):
        pause = None
        open(pause_file + ".paused", "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(pause_file + ".go") and time.monotonic() < deadline:
            time.sleep(0.01)


class Connection(sqlite3.Connection):
    def close(self):
        if kill_on_close:  # killed right after the command's last write, before a clean close
            os.kill(os.getpid(), signal.SIGKILL)
        super().close()


real_connect = sqlite3.connect


def connect(*args, **kwargs):
    conn = real_connect(*args, factory=Connection, **kwargs)
    conn.set_trace_callback(trace)
    return conn


sqlite3.connect = connect
from csm_tui.cli import main

raise SystemExit(main(sys.argv[1:]))
"""


TODAY = date.today()
SUBPROCESS_TIMEOUT = 60  # seconds; a sync of this small book takes a few
ANALYTICS_OBJECTS = ("usage_weekly", "user_activity")
COMPARED = (
    "owners",
    "accounts",
    "arr_history",
    "contacts",
    "deals",
    "tickets",
    "survey_responses",
    "sequences",
    *ANALYTICS_OBJECTS,
)
CRM_ORIGIN = ("touches", "next_steps", "enrollments")  # compared on their rows from the CRM
# The syncs of a case share the fake's rolling budgets on the real clock, and a killed sync
# never stored what it spent: the next one waits out a 429 (1 s after search's per-second
# limit) as it would for real, rather than giving up after a few milliseconds.
PATIENT_ENV = {"CSM_TUI_HTTP__ATTEMPTS": "5", "CSM_TUI_HTTP__MAX_RETRY_AFTER": "3"}

Tables = dict[str, dict[str, dict[str, Any]]]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# -- the fake world ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    return generate_portfolio(20, 5, today=TODAY)


def demo_owner(p: Portfolio) -> dict[str, Any]:
    return next(o for o in p.owners if o["email"] == p.demo_owner_email)


def book_company_ids(apis: FakeApis, p: Portfolio) -> list[str]:
    owner = demo_owner(p)
    return [
        r["id"]
        for r in apis.hubspot.records("companies")
        if r["properties"].get("hubspot_owner_id") == owner["id"] and not r["archived"]
    ]


@dataclass(frozen=True)
class Edits:
    """What change_the_crm did that the checks need to know."""

    at: int = 0  # when (ms, the fakes' clock)
    contacts: tuple[str, ...] = ()  # contacts edited (a new job title)
    leaver: str = ""  # a company of the book another owner took
    joiner: str = ""  # a company of another owner that moved into the book, with its contacts
    newcomer: str = ""  # a company created in the book, with one new contact

    @property
    def moved(self) -> dict[str, int]:
        """Companies that joined or left the book -> when (ms)."""
        return {c: self.at for c in (self.leaver, self.joiner, self.newcomer) if c}


def change_the_crm(apis: FakeApis, p: Portfolio) -> Edits:
    """The same edits in every case: renames, new job titles, an archived ticket, a company that
    leaves the book, one that joins it with the contacts it has had for long, a new company."""
    hub = apis.hubspot
    now = ms(hub.clock())
    owner = demo_owner(p)
    companies = book_company_ids(apis, p)
    for n, cid in enumerate(companies[:2]):
        hub.update("companies", cid, {"name": f"Renamed Company {n}"})
    contacts = [
        c["id"]
        for c in hub.records("contacts")
        if set(hub.associations_of("contacts", c["id"], "companies")) & set(companies)
    ]
    for cid in contacts[:2]:
        hub.update("contacts", cid, {"jobtitle": "Head of Everything"})
    tickets = [
        t["id"]
        for t in hub.records("tickets")
        if not t["archived"]
        and set(hub.associations_of("tickets", t["id"], "companies")) & set(companies)
    ]
    hub.archive("tickets", tickets[0])
    # Owner changes move the company's modified date, never its children's.
    other = next(o for o in p.owners if o["id"] != owner["id"])
    leaver = companies[-1]
    hub.update("companies", leaver, {"hubspot_owner_id": other["id"]})
    joiner = next(
        c["id"]
        for c in hub.records("companies")
        if c["id"] not in companies
        and not c["archived"]
        and hub.associations_of("companies", c["id"], "contacts")
    )
    hub.update("companies", joiner, {"hubspot_owner_id": owner["id"]})
    newcomer = hub.create(
        "companies",
        {
            "name": "Newcomer Inc",
            "domain": "newcomer.example",
            "hubspot_owner_id": owner["id"],
            "arr": "12000",
        },
    )
    hub.create(
        "contacts",
        {"firstname": "Nora", "lastname": "New", "email": "nora@newcomer.example"},
        {"companies": [newcomer]},
    )
    return Edits(now, tuple(contacts[:2]), leaver, joiner, newcomer)


# -- settings and caches -----------------------------------------------------------------------


def service_env(url: str, p: Portfolio, apis: FakeApis | None = None) -> dict[str, str]:
    env = {
        "CSM_TUI_CRM__BASE_URL": url,
        "CSM_TUI_CRM__TOKEN": "demo-hubspot-token",
        "CSM_TUI_CRM__OWNER_EMAIL": p.demo_owner_email,
        "CSM_TUI_ANALYTICS__BASE_URL": url,
        "CSM_TUI_ANALYTICS__TOKEN": "demo-posthog-token",
        "CSM_TUI_ANALYTICS__PROJECT_ID": "1",
        **FAST_ENV,
        **PATIENT_ENV,
    }
    if apis is not None:  # sequences send from the owner's connected inbox
        env["CSM_TUI_CRM__SENDER_EMAIL"] = demo_inbox(apis.hubspot, p.demo_owner_email)
    return env


def in_process_sync(p: Portfolio, apis: FakeApis, data_dir: Path, workspace: str) -> Path:
    """A clean sync of ``apis`` into ``data_dir``/``workspace``; the cache's path."""
    settings = load_settings(
        data_dir=data_dir,
        workspace=workspace,
        crm={
            "base_url": "http://127.0.0.1:9",
            "token": "demo-hubspot-token",
            "owner_email": p.demo_owner_email,
        },
        analytics={
            "base_url": "http://127.0.0.1:9",
            "token": "demo-posthog-token",
            "project_id": "1",
        },
    )
    sync_blocking(
        settings, transport=apis.transport(), clock=apis.hubspot.clock, today=TODAY, policy=FAST
    )
    return settings.cache_path


@pytest.fixture(scope="module")
def module_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Module fixtures run outside the per-test isolation: give them their own."""
    root = tmp_path_factory.mktemp("reliability")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.upper().startswith("CSM_TUI_"):
                mp.delenv(key)
        mp.setenv("CSM_TUI_CONFIG", str(root / "config.toml"))
        mp.setenv("CSM_TUI_DATA_DIR", str(root / "data"))
        yield root


@pytest.fixture(scope="module")
def base_cache(portfolio: Portfolio, module_env: Path) -> Path:
    """The cache after one complete sync of the unchanged CRM, two minutes before the cases
    start (copied into each case: every cursor is then that sync's start)."""
    apis = FakeApis(portfolio, clock=Clock(datetime.now(UTC) - timedelta(minutes=2)))
    return in_process_sync(portfolio, apis, module_env / "data", "base")


def row_id(table: str, row: dict[str, Any]) -> str:
    if table == "arr_history":
        return f"{row['account_id']}|{row['date']}"
    if table == "usage_weekly":
        return f"{row['account_id']}|{row['week']}|{row['event']}"
    if table == "user_activity":
        return f"{row['account_id']}|{row['user_key']}"
    return str(row["id"])


def read_tables(path: Path) -> Tables:
    """The compared tables of a cache, read with plain sqlite3 (no migration, no set-aside)."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        out: Tables = {}
        for table in COMPARED:
            rows = [dict(r) for r in conn.execute(f"SELECT * FROM {table}")]
            out[table] = {row_id(table, r): r for r in rows}
        for table in CRM_ORIGIN:
            rows = [dict(r) for r in conn.execute(f"SELECT * FROM {table} WHERE origin='crm'")]
            out[table] = {row_id(table, r): r for r in rows}
        return out
    finally:
        conn.close()


@dataclass(frozen=True)
class Snapshot:
    """A cache as a sync left it: its compared tables and its sync_state rows."""

    tables: Tables
    state: dict[tuple[str, str], tuple[str | None, str | None]]  # -> (cursor, sync_started_at)

    def cursor(self, source: str, obj: str) -> str | None:
        return self.state.get((source, obj), (None, None))[0]


def snapshot(path: Path) -> Snapshot | None:
    """The cache's tables and cursors (None: no migration had committed yet)."""
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "sync_state" not in tables:  # killed before the first migration committed
            assert tables <= {"schema_version"}, tables
            return None
        rows = conn.execute("SELECT source, object, cursor, sync_started_at FROM sync_state")
        state = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    finally:
        conn.close()
    return Snapshot(read_tables(path), state)


# -- killing, and one case's world -------------------------------------------------------------


class HttpKiller:
    """Wraps the fakes' handler: on the Nth matching request, SIGKILL the sync process."""

    def __init__(self, apis: FakeApis) -> None:
        self.apis = apis
        self.real = apis.handler
        self.pid: int | None = None
        self.pattern: str | None = None
        self.n = 0
        self.after = False
        self.seen = 0
        self.fired = False
        self._lock = threading.Lock()
        apis.handler = self.handle  # type: ignore[method-assign]

    def arm(self, pattern: str, n: int, after: bool) -> None:
        self.pattern, self.n, self.after = pattern, n, after
        self._re = re.compile(pattern)

    def handle(self, request: httpx.Request) -> httpx.Response:
        fire = matched = False
        if self.pattern is not None and self.pid is not None:
            with self._lock:
                if not self.fired and self._re.search(f"{request.method} {request.url.path}"):
                    matched = True
                    self.seen += 1
                    if self.seen == self.n:
                        self.fired = fire = True
        if not fire:
            answer = self.real(request)
            if matched and answer.status_code == 429:
                with self._lock:
                    self.seen -= 1  # refused for the rate: not a request the CRM performed
            return answer
        if self.after:
            self.real(request)  # done in the CRM; the answer never reaches the sync
        os.kill(self.pid, signal.SIGKILL)  # type: ignore[arg-type]
        raise httpx.ReadError("the sync was killed", request=request)


@dataclass
class World:
    """One case: the fakes on loopback, the case's cache, and what the user did offline."""

    portfolio: Portfolio
    apis: FakeApis
    server: FakeServer
    killer: HttpKiller
    env: dict[str, str]
    settings: Settings
    touches: list[str]
    steps: list[str]
    enrollments: list[str]
    snoozed: str | None
    wrapper: Path
    clock: Clock = field(default_factory=lambda: Clock(datetime.now(UTC)))
    edits: Edits = field(default_factory=Edits)
    enrolled_contacts: list[str] = field(default_factory=list)
    base: Snapshot | None = None  # the cache before the killed sync (None: a first sync)

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start `csm-tui <args>` in the wrapper (returns at once)."""
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.Popen(
            [sys.executable, str(self.wrapper), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.killer.pid = proc.pid
        return proc


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the sync did not end within {SUBPROCESS_TIMEOUT} s: {err[-500:]}")
    return proc.returncode, out, err


def free_contact(
    apis: FakeApis, p: Portfolio, edited: tuple[str, ...] = ()
) -> tuple[str, str, str]:
    """(contact, its company, a sequence of the owner): a contact of the book nobody edited, in
    no sequence, that may be mailed."""
    hub = apis.hubspot
    book = set(book_company_ids(apis, p))
    owner = demo_owner(p)
    seq = next(s["id"] for s in p.sequences if s["userId"] == str(owner["userId"]))
    for c in hub.records("contacts"):
        props = c["properties"]
        companies = [x for x in hub.associations_of("contacts", c["id"], "companies") if x in book]
        if (
            companies
            and c["id"] not in edited
            and c["id"] not in hub.enrollments
            and props.get("hs_email_optout") != "true"
            and not props.get("hs_email_hard_bounce_reason")
            and not c["archived"]
        ):
            return c["id"], companies[0], seq
    raise AssertionError("no free contact in the book")


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    portfolio: Portfolio,
    base_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., World]]:
    servers: list[FakeServer] = []

    def make(fresh: bool, with_actions: bool = True) -> World:
        start = datetime.now(UTC)
        clock = Clock(start)
        apis = FakeApis(portfolio, clock=clock)
        book = book_company_ids(apis, portfolio)  # as the base cache knows it
        edits = change_the_crm(apis, portfolio)
        clock.advance(minutes=1)  # the CRM's edits have reached its search
        killer = HttpKiller(apis)
        server = apis.serve(port=0)
        servers.append(server)
        for key, value in service_env(server.url, portfolio, apis).items():
            monkeypatch.setenv(key, value)
        settings = load_settings()
        touches: list[str] = []
        steps: list[str] = []
        enrolled: list[str] = []
        enrolled_contacts: list[str] = []
        snoozed = None
        base = None
        if not fresh:
            settings.cache_path.parent.mkdir(parents=True)
            shutil.copy(base_cache, settings.cache_path)
            base = snapshot(settings.cache_path)
        if not fresh and with_actions:
            db = open_cache(settings.cache_path)
            contact, company, seq = free_contact(apis, portfolio, edits.contacts)
            owner = demo_owner(portfolio)
            touches.append(
                actions.log_touch(
                    db,
                    account_id=book[2],
                    kind="note",
                    summary="Renewal call: budget approved",
                    occurred_at=start.isoformat(),
                    sentiment="positive",
                    next_step_title="Send the order form",
                    next_step_due=TODAY + timedelta(days=3),
                )
            )
            steps.extend(r[0] for r in db.execute("SELECT id FROM next_steps WHERE origin='local'"))
            touches.append(
                actions.log_touch(
                    db,
                    account_id=book[3],
                    kind="call",
                    summary="Left a voicemail",
                    occurred_at=start.isoformat(),
                )
            )
            enrolled.extend(
                actions.enroll(
                    db,
                    [
                        actions.EnrollmentRequest(
                            contact, company, seq, owner["email"], str(owner["userId"])
                        )
                    ],
                )
            )
            enrolled_contacts.append(contact)
            snoozed = book[4]
            actions.snooze(db, account_id=snoozed, until=TODAY + timedelta(days=7))
            db.conn.close()
        wrapper = tmp_path / "killable_csm_tui.py"
        wrapper.write_text(WRAPPER)
        return World(
            portfolio,
            apis,
            server,
            killer,
            dict(os.environ),
            settings,
            touches,
            steps,
            enrolled,
            snoozed,
            wrapper,
            clock,
            edits,
            enrolled_contacts,
            base,
        )

    yield make  # type: ignore[misc]
    for server in servers:
        server.close()


# -- what must hold ----------------------------------------------------------------------------


def integrity_ok(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
