"""Pages fetched ahead: a task of its own reads a source of pages into a queue while the sync
maps and writes earlier ones, so the remote service (or the fake on loopback) works at the same
time as we do instead of waiting for our next request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


class Prefetch(Generic[T]):
    """Iterate ``pages`` ahead of the reader, holding at most ``depth`` pages (0: no bound).

    Started at once (inside a running event loop). A failure of the source is raised to the
    reader when it reaches that point, after the pages fetched before it; ``close()`` stops
    the fetching (the reader stopped early).
    """

    def __init__(self, pages: AsyncIterator[T], depth: int = 4) -> None:
        self._pages = pages
        self._queue: asyncio.Queue[object] = asyncio.Queue(depth)
        self._arrived = asyncio.Event()
        self._task = asyncio.ensure_future(self._fill())

    async def _fill(self) -> None:
        try:
            async for page in self._pages:
                await self._put(page)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the reader, in order
            await self._put(_Failure(exc))
            return
        await self._put(_END)

    async def _put(self, item: object) -> None:
        await self._queue.put(item)
        self._arrived.set()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._read()

    async def _read(self) -> AsyncIterator[T]:
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item  # type: ignore[misc]
        finally:
            await self.close()

    def ready(self) -> bool:
        """True when the next page (or the end) is already here: reading it will not wait."""
        return not self._queue.empty()

    async def wait_ready(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the next page (or the end); True when it is here."""
        if self.ready():
            return True
        self._arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), seconds)
        return self.ready()

    async def close(self) -> None:
        """Stop fetching (idempotent)."""
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        aclose = getattr(self._pages, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(BaseException):
                await aclose()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
