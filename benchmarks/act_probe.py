"""B4 probe: in the real app (headless, Textual's run_test), log a touch on an account and time
from the save key (ctrl+s) to the first frame rendered with the list row at its new rank and the
detail pane showing the new score.

Run by run.py in its own process: `python benchmarks/act_probe.py <rounds>` with the benchmark
workspace in the environment (CSM_TUI_DATA_DIR, CSM_TUI_WORKSPACE, CSM_TUI_CONFIG). Prints one
JSON line: {"ms": [...], "rows": N, "changed": [...]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable

from csm_tui.config import load_settings
from csm_tui.ui.app import CsmApp
from csm_tui.ui.screens.main import MainScreen


async def _until(check: object, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not check():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.005)


async def probe(rounds: int) -> dict[str, object]:
    """Log ``rounds`` touches on neglected accounts near the top; the milliseconds of each."""
    app = CsmApp(load_settings(), auto_sync=False)
    times: list[float] = []
    changed: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(lambda: isinstance(app.screen, MainScreen) and bool(app.main.attention.rows))
        await app.workers.wait_for_complete()  # the whole list, not only its first page
        await pilot.pause()
        attention = app.main.attention
        total = len(attention.rows)
        # The end of a round is the first frame rendered with the saved result in it: the app's
        # _display is wrapped to look at each frame's widgets as it is rendered (headless, the
        # frame is not written to a terminal; that write is the same for any app).
        watch: list[Callable[[], bool]] = []
        painted: list[float] = []
        display = app._display

        def display_and_watch(screen: object, renderable: object) -> None:
            display(screen, renderable)  # type: ignore[arg-type]
            if renderable is not None and watch and isinstance(screen, MainScreen) and watch[0]():
                painted.append(time.perf_counter())
                watch.clear()

        app._display = display_and_watch  # type: ignore[method-assign]
        done: set[str] = set()
        for _ in range(rounds):
            # As a CSM works the list: the first account near the top that has gone without a
            # touch; the touch raises its health (relationship), so it drops down the ranking.
            await pilot.press("home")
            index = next(
                i
                for i, row in enumerate(attention.rows)
                if row.account_id not in done and any(r.startswith("No touch") for r in row.reasons)
            )
            for _ in range(index):
                await pilot.press("j")
            target = attention.current
            assert target is not None and target.account_id == attention.rows[index].account_id
            done.add(target.account_id)
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

            painted.clear()
            watch.append(shown)
            started = time.perf_counter()
            await pilot.press("ctrl+s")
            await _until(lambda: bool(painted))

            times.append((painted[0] - started) * 1000)
            row = attention.current
            changed.append(
                f"{target.name}: health {target.health} -> {row.health if row else '?'}, "
                f"rank {index + 1} -> {attention.cursor + 1}"
            )
            await app.workers.wait_for_complete()
            await pilot.pause()
    return {"ms": times, "rows": total, "changed": changed}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(int(sys.argv[1]) if len(sys.argv) > 1 else 3))))
