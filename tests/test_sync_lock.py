"""Two syncs never run at once on one workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from csm_tui.sync.lock import SyncBusyError, lock_path, sync_lock


def test_a_second_sync_on_the_same_workspace_is_refused_in_one_line(tmp_path: Path) -> None:
    cache = tmp_path / "ws" / "cache.db"
    with sync_lock(cache, "ws"):
        with pytest.raises(SyncBusyError) as info, sync_lock(cache, "ws", wait_seconds=0.05):
            pass
        assert str(info.value).startswith("Another sync is running for workspace ws")
    assert lock_path(cache).parent == cache.parent
    with sync_lock(cache, "ws", wait_seconds=0):  # released: the next sync runs
        pass


def test_other_workspaces_sync_at_the_same_time(tmp_path: Path) -> None:
    with sync_lock(tmp_path / "a" / "cache.db", "a"), sync_lock(tmp_path / "b" / "cache.db", "b"):
        pass
