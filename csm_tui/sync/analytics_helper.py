"""A whole analytics pull downloaded, mapped and staged by a second process.

A first sync (or --full) of a large book pulls over a million weekly-usage rows. Decoding their
JSON and mapping them costs as much CPU as the whole CRM pull, and one Python process does one
at a time: in-process, the analytics doubled the time the CRM took. With a second core, the
sync hands the whole pulls to ``python -m csm_tui.sync.analytics_helper``, which:

1. gets ``("start", Job)`` on stdin and starts downloading at once (its own HTTP client, the
   same rate limits and retries: the analytics API's budget is its alone);
2. maps and stages the pages into each table's scratch file as they come, by group value
   (sync/page_staging.py); gets ``("book", index)`` once the book's companies are in the
   cache (which group is which account), and at the end puts each row's account in its place;
3. answers on stdout: ``("progress", table, rows fetched)``, then per table ``("staged",
   table, Outcome)`` or ``("failed", table, Failure)``, and last ``("done", requests)``.

The first process then moves each table into the cache (``PageStaging.replace_all``) as before,
in one transaction with its cursor, and deletes the scratch files. Nothing of the cache is
written by the helper. With one core, an in-process transport (tests, the demo) or a helper
that cannot start, the same pull runs in-process (sync/pull_analytics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from csm_tui.helper_process import end_helper, send, start_helper

if TYPE_CHECKING:
    import subprocess

    from csm_tui.sources.http import Endpoint, HttpPolicy
    from csm_tui.sync.page_staging import Scratch

MODULE = "csm_tui.sync.analytics_helper"


@dataclass(frozen=True)
class Job:
    """What the helper pulls: the tables whose pulls are whole, each into its scratch file."""

    endpoint: Endpoint
    policy: HttpPolicy
    project_id: str
    group_index: int  # PostHog's group type index ($group_N)
    group_key: str  # what a group's value is matched by (domain or id)
    usage_weeks: int
    user_weeks: int
    tables: tuple[Scratch, ...]


@dataclass(frozen=True)
class Outcome:
    """One table staged: its rows, the rows fetched, the groups that matched no account, and
    whether two groups matched one account (their usage was added up)."""

    rows: int
    fetched: int
    unmatched: frozenset[str] = field(default_factory=frozenset)
    shared: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Failure:
    """Why a table's pull failed: the source error's kind and its one-line message."""

    kind: str  # AuthError, ApiError, TransientError, BadResponse, SourceError, or "crash"
    message: str
    status: int = 0

    def error(self) -> Exception:
        """The error as the in-process pull would have raised it."""
        from csm_tui.sources import http

        if self.kind == "ApiError":
            return http.ApiError(self.message, status=self.status)
        kind = getattr(http, self.kind, None)
        if isinstance(kind, type) and issubclass(kind, http.SourceError):
            return kind(self.message)
        return http.TransientError(f"Analytics: the download helper failed ({self.message})")


# -- the first process's side ----------------------------------------------------------------


class AnalyticsHelper:
    """The helper process of one pull, seen from the sync's event loop.

    Its answers are read by a thread and handed to the loop; ``staged(table)`` waits for a
    table's outcome (raising the pull's error when it failed, or TransientError when the
    helper died). ``close()`` ends the process whatever it was doing.
    """

    def __init__(
        self, process: subprocess.Popen[bytes], job: Job, progress: Callable[[str, int], None]
    ) -> None:
        self.process = process
        self.requests = 0
        self._progress = progress
        self._loop = asyncio.get_running_loop()
        self._outcomes: dict[str, asyncio.Future[Outcome]] = {
            scratch.table: self._loop.create_future() for scratch in job.tables
        }
        self._finished = self._loop.create_future()  # its "done" or the end of its output
        self._reader = threading.Thread(target=self._read, name="analytics-helper", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, job: Job, progress: Callable[[str, int], None]) -> AnalyticsHelper | None:
        """The helper, downloading; None when there is no second core or it cannot start
        (the caller then pulls in-process)."""
        process = start_helper(MODULE)
        if process is None:
            return None
        try:
            send(process.stdin, ("start", job))
        except (OSError, ValueError, pickle.PickleError):
            end_helper(process, wait=0)
            return None
        return cls(process, job, progress)

    def book(self, index: dict[str, str]) -> None:
        """The book is in the cache: which group value is which account. Map and stage."""
        # If it died, its outcomes say so (the reader meets the end of its output).
        with contextlib.suppress(OSError, ValueError, pickle.PickleError):
            send(self.process.stdin, ("book", index))

    async def staged(self, table: str) -> Outcome:
        """Wait for one table to be staged (its scratch file holds its rows, by account)."""
        return await self._outcomes[table]

    async def close(self) -> None:
        """End the helper (at once when it is still working) and reap it."""
        done = all(f.done() for f in self._outcomes.values())
        if done:  # its last word (the requests it made) is on its way
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._finished), 2.0)
        await asyncio.to_thread(end_helper, self.process, wait=2.0 if done else 0)
        for future in self._outcomes.values():
            if not future.done():
                future.cancel()

    # -- on the reader thread, then the loop ---------------------------------------------------

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            try:
                message = pickle.load(stream)
            except Exception:  # the end of its output: it finished, died or was ended
                message = ("ended",)
            try:
                self._loop.call_soon_threadsafe(self._take, message)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return
            if message[0] in ("ended", "done"):
                return

    def _take(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "progress":
            self._progress(message[1], message[2])
        elif kind in ("staged", "failed"):
            future = self._outcomes.get(message[1])
            if future is not None and not future.done():
                if kind == "staged":
                    future.set_result(message[2])
                else:
                    future.set_exception(message[2].error())
        elif kind == "done":
            self.requests = int(message[1])
            self._take(("ended",))
        elif kind == "ended":
            if not self._finished.done():
                self._finished.set_result(None)
            for future in self._outcomes.values():
                if not future.done():
                    future.set_exception(
                        Failure("crash", "it stopped before it was done; run the sync again")
                        .error()
                    )  # fmt: skip


# -- the helper's side -----------------------------------------------------------------------


async def _serve(job: Job, inbox: asyncio.Queue[Any], reply: Callable[..., None]) -> None:
    from csm_tui.sources.http import ApiError, SourceError
    from csm_tui.sources.posthog import PostHog, posthog_client
    from csm_tui.sync.page_staging import PageStaging
    from csm_tui.sync.prefetch import Prefetch
    from csm_tui.sync.pull_analytics import Groups, Staged, stage_pages

    client = posthog_client(job.endpoint, job.policy)
    posthog = PostHog(client, job.project_id, page_size=job.policy.analytics_page_size)
    sources = {
        "usage_weekly": lambda: posthog.weekly_usage(job.group_index, job.usage_weeks),
        "user_activity": lambda: posthog.user_activity(job.group_index, job.user_weeks),
    }
    # Two pages fetched ahead of the staging.
    pages = {s.table: Prefetch(sources[s.table](), depth=2) for s in job.tables}
    staged = {s.table: Staged(PageStaging(s)) for s in job.tables}
    book: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def pulled(table: str) -> tuple[Staged, Groups]:
        # Mapped from the first page; until the book's accounts are known, by group value.
        into = staged[table]
        await stage_pages(into, pages[table], table, lambda n: reply("progress", table, n))
        await asyncio.shield(book)
        into.keep_early()
        assert into.groups is not None
        return into, into.groups

    async def whole(table: str) -> Outcome:
        into, groups = await pulled(table)
        assert into.staged is not None
        rows = await into.staged.finish(merge=into.merges(table))
        return Outcome(rows, into.fetched, frozenset(groups.unmatched), frozenset(groups.shared))

    async def answer(table: str, work: Awaitable[Outcome]) -> None:
        try:
            reply("staged", table, await work)
        except ApiError as exc:
            reply("failed", table, Failure("ApiError", str(exc), exc.status))
        except SourceError as exc:
            reply("failed", table, Failure(type(exc).__name__, str(exc)))
        except Exception as exc:  # a bug or a full disk: the first process says it in one line
            text = " ".join(str(exc).split())[:200] or type(exc).__name__
            reply("failed", table, Failure("crash", text))
        finally:
            await pages[table].close()

    async def await_book() -> None:
        message = await inbox.get()
        if message[0] == "book":
            for into in staged.values():
                into.groups = Groups(message[1], job.group_key)
            book.set_result(message[1])

    work = [answer(s.table, whole(s.table)) for s in job.tables]
    listening = asyncio.ensure_future(await_book())
    try:
        await asyncio.gather(*work)
    finally:
        listening.cancel()
        for source in pages.values():
            await source.close()
        await client.aclose()
    reply("done", client.requests)


def main() -> int:
    """Serve one pull, then exit."""
    import gc

    gc.disable()  # as in the first process during a sync: nothing it builds is a cycle
    requests, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        kind, job = pickle.load(requests)
    except Exception:
        return 1
    if kind != "start":
        return 1

    def reply(*message: Any) -> None:
        with contextlib.suppress(OSError, ValueError):
            send(out, message)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        def listen() -> None:  # the first process's later messages (the book)
            while True:
                try:
                    message = pickle.load(requests)
                except Exception:
                    # The first process is done with us, or died (even killed: its end of the
                    # pipe closes): nothing more is wanted, and nothing must be written.
                    os._exit(0)
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(inbox.put_nowait, message)

        threading.Thread(target=listen, daemon=True).start()
        await _serve(job, inbox, reply)

    asyncio.run(run())
    # Done: leave without tearing down what it built (the first process waits for the end).
    os._exit(0)


if __name__ == "__main__":
    # Run as the module itself, not as __main__: the answers it pickles (Outcome, Failure) must
    # name a module the first process can import.
    from csm_tui.sync import analytics_helper

    raise SystemExit(analytics_helper.main())
