"""Pages fetched ahead: in order, a failure where it happened, stopped when the reader stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from csm_tui.sync.prefetch import Prefetch


async def pages(n: int, fetched: list[int], fail_at: int | None = None) -> AsyncIterator[int]:
    for i in range(n):
        if i == fail_at:
            raise RuntimeError(f"page {i} failed")
        fetched.append(i)
        await asyncio.sleep(0)
        yield i


async def test_pages_arrive_in_order_while_the_reader_is_busy() -> None:
    fetched: list[int] = []
    ahead = Prefetch(pages(10, fetched), depth=3)
    await asyncio.sleep(0.01)  # the reader is busy elsewhere: the fetcher goes on, to its depth
    assert fetched == [0, 1, 2, 3], "three queued and one waiting to be queued"
    assert [p async for p in ahead] == list(range(10))


async def test_a_failure_reaches_the_reader_after_the_pages_before_it() -> None:
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="page 2 failed"):
        async for page in Prefetch(pages(5, [], fail_at=2), depth=0):
            seen.append(page)
    assert seen == [0, 1]


async def test_a_reader_that_stops_early_stops_the_fetching() -> None:
    fetched: list[int] = []
    ahead = Prefetch(pages(1000, fetched), depth=2)
    async for page in ahead:
        if page == 1:
            break
    await ahead.close()
    count = len(fetched)
    await asyncio.sleep(0.01)
    assert len(fetched) == count < 10


async def test_waiting_for_the_next_page_times_out_or_sees_it() -> None:
    gate = asyncio.Event()

    async def slow() -> AsyncIterator[int]:
        await gate.wait()
        yield 1

    ahead = Prefetch(slow(), depth=1)
    assert await ahead.wait_ready(0.01) is False
    gate.set()
    assert await ahead.wait_ready(1.0) is True
    assert [p async for p in ahead] == [1]
