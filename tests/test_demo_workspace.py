"""`csm-tui demo` again keeps what the CSM logged in the demo workspace; --fresh starts over."""

from __future__ import annotations

from csm_tui.cli import main
from csm_tui.config import load_settings
from csm_tui.store.db import open_cache


def demo_rows(sql: str) -> list[tuple]:
    settings = load_settings(workspace="demo")
    db = open_cache(settings.cache_path, create=False)
    try:
        return [tuple(r) for r in db.execute(sql).fetchall()]
    finally:
        db.conn.close()


def test_running_the_demo_again_keeps_a_logged_call_and_pushes_it(capsys) -> None:
    assert main(["demo", "--no-open", "--accounts", "30"]) == 0
    account = demo_rows("SELECT id FROM accounts ORDER BY id LIMIT 1")[0][0]
    assert (
        main(["log", account, "--workspace", "demo", "--kind", "call", "--summary", "Kept?"]) == 0
    )
    capsys.readouterr()

    assert main(["demo", "--no-open", "--accounts", "30"]) == 0
    said = capsys.readouterr().out
    assert "Keeping the demo workspace" in said
    assert demo_rows("SELECT COUNT(*) FROM touches WHERE summary = 'Kept?'") == [(1,)]
    assert demo_rows("SELECT state FROM outbox") == [("done",)], "pushed by the demo's sync"

    assert main(["demo", "--no-open", "--accounts", "30", "--fresh"]) == 0
    assert demo_rows("SELECT COUNT(*) FROM touches WHERE summary = 'Kept?'") == [(0,)]
