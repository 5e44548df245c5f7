"""B4 probe: in the real app (headless, Textual's run_test), log a touch on an account and time
from the save key (ctrl+s) to the list row and the detail pane both showing the new score.

Run by run.py in its own process: `python benchmarks/act_probe.py <rounds>` with the benchmark
workspace in the environment (CSM_TUI_DATA_DIR, CSM_TUI_WORKSPACE, CSM_TUI_CONFIG). Prints one
JSON line: {"ms": [...], "rows": N, "changed": [...]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from csm_tui.config import load_settings
from csm_tui.ui.app import CsmApp
from csm_tui.ui.screens.main import MainScreen


async def _until(check: object, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not check():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.005)


async def _when(check: object) -> float:
    await _until(check)
    return time.perf_counter()


async def probe(rounds: int) -> dict[str, object]:
    """Log ``rounds`` touches on the lowest-ranked rows in turn; the milliseconds of each."""
    app = CsmApp(load_settings(), auto_sync=False)
    times: list[float] = []
    changed: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(lambda: isinstance(app.screen, MainScreen) and bool(app.main.attention.rows))
        await app.workers.wait_for_complete()  # the whole list, not only its first page
        await pilot.pause()
        attention = app.main.attention
        total = len(attention.rows)
        for n in range(rounds):
            # A neglected account deep in the list: a touch changes its health, hence its rank.
            await pilot.press("end")
            for _ in range(n * 3):
                await pilot.press("k")
            target = attention.current
            assert target is not None
            await _until(lambda t=target: app.main.detail.account_id == t.account_id)
            await pilot.press("l")
            await _until(lambda: not isinstance(app.screen, MainScreen))
            await pilot.pause()
            await pilot.click("#summary")
            await pilot.press(*"Benchmark call")
            old_detail = app.main.detail._shown

            def shown(target=target, old_detail=old_detail) -> bool:  # type: ignore[no-untyped-def]
                i = attention.index_of(target.account_id)
                detail = app.main.detail._shown
                return (
                    i is not None
                    and attention.rows[i] is not target  # a new row object: read after the save
                    and attention.current is not None
                    and attention.current.account_id == target.account_id
                    and detail is not None
                    and detail is not old_detail
                    and detail[0].account_id == target.account_id
                )

            # Polled by a task of its own: pilot.press returns only once the app is idle again.
            watcher = asyncio.create_task(_when(shown))
            started = time.perf_counter()
            await pilot.press("ctrl+s")
            finished = await watcher

            times.append((finished - started) * 1000)
            row = attention.current
            changed.append(
                f"{target.name}: health {target.health} -> {row.health if row else '?'}, "
                f"rank {total - n * 3} -> {attention.cursor + 1}"
            )
            await app.workers.wait_for_complete()
            await pilot.pause()
    return {"ms": times, "rows": total, "changed": changed}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(int(sys.argv[1]) if len(sys.argv) > 1 else 3))))
