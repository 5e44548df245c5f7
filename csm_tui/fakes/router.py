"""Both fakes behind one handler: in-process (``httpx.MockTransport``) or served on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from csm_tui.config import is_loopback_host
from csm_tui.errors import CsmError
from csm_tui.fakes.faults import CUT_EXTENSION, Faults
from csm_tui.fakes.hubspot import FakeHubSpot
from csm_tui.fakes.portfolio import Portfolio
from csm_tui.fakes.posthog import FakePostHog
from csm_tui.sources.pacing import SimulatedClock


class FakeServerError(CsmError):
    """The fake API server cannot start; the message says why in one line."""

    exit_code = 2


class FakeApis:
    """One FakeHubSpot and one FakePostHog sharing a clock and a ``Faults`` script.

    Rate limits are on by default, as on the real services. In-process, the fakes count
    requests on ``pacing_clock``, a simulated clock that the client's pacing shares through
    the transport (sources/pacing.py): the client waits as it would for real, in no real time.
    Served on loopback (``real_time=True``), both sides use the machine's clock.
    """

    def __init__(
        self,
        portfolio: Portfolio | None = None,
        *,
        hubspot_token: str = "demo-hubspot-token",
        posthog_token: str = "demo-posthog-token",
        project_id: str = "1",
        clock: Callable[[], datetime] | None = None,
        rate_limit: bool = True,
        real_time: bool = False,
    ) -> None:
        self.portfolio = portfolio
        self.faults = Faults()
        self.pacing_clock: SimulatedClock | None = None if real_time else SimulatedClock()
        ticker = self.pacing_clock.monotonic if self.pacing_clock else time.monotonic
        self.hubspot = FakeHubSpot(
            portfolio,
            token=hubspot_token,
            clock=clock,
            rate_limit=rate_limit,
            faults=self.faults,
            ticker=ticker,
        )
        self.posthog = FakePostHog(
            portfolio,
            token=posthog_token,
            project_id=project_id,
            clock=clock,
            max_concurrent=3 if rate_limit else None,
            per_minute=240 if rate_limit else None,
            faults=self.faults,
            ticker=ticker,
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Route by path: ``/crm/`` and ``/automation/`` to HubSpot, ``/api/`` to PostHog."""
        path = request.url.path
        if path.startswith(("/crm/", "/automation/", "/oauth/")):
            return self.hubspot.handler(request)
        if path.startswith("/api/"):
            return self.posthog.handler(request)
        body = {"status": "error", "message": f"No fake serves {path}", "category": "NOT_FOUND"}
        return httpx.Response(404, json=body, request=request)

    def transport(
        self, handler: Callable[[httpx.Request], httpx.Response] | None = None
    ) -> FakeTransport:
        """An httpx transport (sync and async) that answers from these fakes in-process (or
        through ``handler``, which wraps ``self.handler`` to inject a fault), and carries the
        simulated clock the client paces on."""
        return FakeTransport(handler or self.handler, self.pacing_clock)

    def serve(self, host: str = "127.0.0.1", port: int = 8765) -> FakeServer:
        """Start serving on loopback in a background thread; ``port=0`` picks a free port."""
        if self.pacing_clock is not None:  # a client over the network paces on real time
            self.pacing_clock = None
            self.hubspot._ticker = self.posthog._ticker = time.monotonic
        if not is_loopback_host(host):
            raise FakeServerError(
                f"the fake APIs serve only on loopback (127.0.0.1, ::1, localhost), not {host!r}"
            )
        server = FakeServer(self, host, port)
        server.start()
        return server


class FakeTransport(httpx.MockTransport):
    """``httpx.MockTransport`` plus the clock its requests are paced on (None: the real one)."""

    def __init__(
        self, handler: Callable[[httpx.Request], httpx.Response], clock: SimulatedClock | None
    ) -> None:
        super().__init__(handler)
        self.pacing_clock = clock


def paced_transport(
    fake: FakeHubSpot | FakePostHog,
    handler: Callable[[httpx.Request], httpx.Response] | None = None,
) -> FakeTransport:
    """An in-process transport to one fake whose rate limits count on a simulated clock shared
    with the client (``handler`` wraps the fake's own, e.g. to inject a fault)."""
    clock = getattr(fake, "pacing_clock", None)
    if not isinstance(clock, SimulatedClock):  # one clock per fake, kept across syncs
        clock = SimulatedClock()
        fake.pacing_clock = clock  # type: ignore[union-attr]
        fake._ticker = clock.monotonic
    return FakeTransport(handler or fake.handler, clock)


class _Handler(BaseHTTPRequestHandler):
    """Turns one HTTP request into an ``httpx.Request`` for the fakes and writes the answer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or f"{self.server.server_address[0]!s}:{self.server.port}"
        headers = [(k, v) for k, v in self.headers.items() if k.lower() != "host"]
        request = httpx.Request(
            self.command, f"http://{host}{self.path}", headers=headers, content=body
        )
        try:
            response = self.server.apis.handler(request)
        except httpx.TransportError:
            # A scripted lost response or transport failure: hang up without answering.
            self.close_connection = True
            return
        cut = response.extensions.get(CUT_EXTENSION)
        if cut is not None:  # a scripted connection drop: promise the whole body, send half
            full_length, head = cut
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(full_length))
            self.end_headers()
            self.wfile.write(head)
            self.wfile.flush()
            self.close_connection = True
            return
        content = response.content
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def send_response(self, code: int, message: str | None = None) -> None:
        """The status line only: Date (the fake's clock) and the rest come from the fake."""
        self.log_request(code)
        self.send_response_only(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark makes thousands of requests."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # An async client opens up to 100 connections at once; the default backlog of 5 would
    # leave most of them waiting in SYN retransmits until they time out.
    request_queue_size = 256

    def __init__(self, apis: FakeApis, host: str, port: int) -> None:
        self.apis = apis
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), _Handler)
        self.port = self.server_address[1]


class FakeServer:
    """A running loopback server for a FakeApis (a context manager; ``close()`` stops it)."""

    def __init__(self, apis: FakeApis, host: str, port: int) -> None:
        try:
            self._server = _Server(apis, host, port)
        except OSError as exc:
            raise FakeServerError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "choose another port with --port"
            ) from None
        self.host = host
        self.port = self._server.port
        # A short poll: close() waits up to one poll for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-apis", daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL clients should use (for both HubSpot and PostHog)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Begin answering in the background thread."""
        self._thread.start()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt in the caller)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        """Stop answering and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
