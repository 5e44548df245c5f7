"""Scripted failures for the fakes: a status, a raised transport error, or a lost response."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Fault:
    """One scripted failure, applied to the next ``times`` requests that match it."""

    path: re.Pattern[str]
    method: str | None
    status: int | None
    times: int
    headers: dict[str, str]
    body: bytes | str | dict[str, Any] | None
    exception: type[Exception] | None
    after_handling: bool
    content_type: str | None
    cut_body: bool = False

    def matches(self, request: httpx.Request) -> bool:
        """True when the request's method and path fit this fault."""
        if self.method and request.method.upper() != self.method.upper():
            return False
        return bool(self.path.search(request.url.path))

    def response(self, request: httpx.Request) -> httpx.Response:
        """The scripted response (JSON for dict bodies)."""
        headers = dict(self.headers)
        if isinstance(self.body, dict):
            content = json.dumps(self.body).encode()
            headers.setdefault("Content-Type", self.content_type or "application/json")
        elif isinstance(self.body, str):
            content = self.body.encode()
        else:
            content = self.body or b""
        if self.content_type:
            headers["Content-Type"] = self.content_type
        return httpx.Response(self.status or 500, headers=headers, content=content, request=request)

    def raise_for(self, request: httpx.Request) -> None:
        """Raise the scripted exception (httpx ones get the request attached)."""
        assert self.exception is not None
        if issubclass(self.exception, httpx.RequestError):
            raise self.exception(f"fault injected: {self.exception.__name__}", request=request)
        raise self.exception("fault injected")


class Faults:
    """The fakes consult this before handling each request (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: list[tuple[str, str]] = []  # (method, path) of each request a fault hit

    def add(
        self,
        *,
        path: str,
        method: str | None = None,
        status: int | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: bytes | str | dict[str, Any] | None = None,
        exception: type[Exception] | None = None,
        after_handling: bool = False,
        content_type: str | None = None,
        cut_body: bool = False,
    ) -> Fault:
        """Script a failure for the next ``times`` requests whose URL path matches ``path``.

        ``exception`` raises instead of answering; ``after_handling`` performs the request, then
        raises ``httpx.ReadError`` (the response was lost); ``cut_body`` performs it and sends
        the real answer's headers and half its body, then drops the connection; otherwise
        answers ``status``.
        """
        if status is None and exception is None and not after_handling and not cut_body:
            raise ValueError(
                "a fault needs a status, an exception, after_handling=True or cut_body=True"
            )
        fault = Fault(
            path=re.compile(path),
            method=method,
            status=status,
            times=times,
            headers=dict(headers or {}),
            body=body,
            exception=exception,
            after_handling=after_handling,
            content_type=content_type,
            cut_body=cut_body,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, request: httpx.Request) -> Fault | None:
        """The first pending fault matching the request (counted as used), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(request):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    self.fired.append((request.method, request.url.path))
                    return fault
        return None

    def clear(self) -> None:
        """Forget every pending fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> int:
        """How many scripted failures are still to happen."""
        with self._lock:
            return sum(f.times for f in self._faults)


def run_with_faults(faults: Faults, request: httpx.Request, handle: Any) -> httpx.Response:
    """Apply a matching fault around ``handle(request)``: the one code path both fakes share."""
    fault = faults.take(request)
    if fault is None:
        return handle(request)
    if fault.after_handling:
        handle(request)
        raise httpx.ReadError("fault injected: the response was lost", request=request)
    if fault.cut_body:
        return cut_response(handle(request))
    if fault.exception is not None:
        fault.raise_for(request)
    return fault.response(request)


CUT_EXTENSION = "csm_fault_cut"  # response extension: (full body length, the part that is sent)


class _CutStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that stops half-way with the error a dropped connection gives."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def _error(self) -> httpx.RemoteProtocolError:
        return httpx.RemoteProtocolError(
            "fault injected: peer closed connection without sending complete message body"
        )

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        raise self._error()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        raise self._error()


def cut_response(response: httpx.Response) -> httpx.Response:
    """The same status and headers, but the connection drops half-way through the body.

    In process the body stream raises; served on loopback the server sends the full
    Content-Length, half the bytes, and closes the socket (see router._Handler).
    """
    content = response.content
    head = content[: max(1, len(content) // 2)]
    return httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.items() if k.lower() != "content-length"],
        stream=_CutStream(head),
        request=response.request,
        extensions={CUT_EXTENSION: (len(content), head)},
    )
