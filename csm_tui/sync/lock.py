"""One sync at a time per workspace: an advisory lock file next to cache.db (fcntl.flock)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from csm_tui.errors import CsmError


class SyncBusyError(CsmError):
    """Another sync holds the workspace's lock."""

    exit_code = 75  # EX_TEMPFAIL: try again later


def lock_path(cache_path: Path) -> Path:
    """The lock file of the workspace whose cache is ``cache_path``."""
    return cache_path.with_name("sync.lock")


@contextlib.contextmanager
def sync_lock(cache_path: Path, workspace: str, *, wait_seconds: float = 2.0) -> Iterator[None]:
    """Hold the workspace's sync lock for the block; wait briefly, then raise SyncBusyError.

    The kernel drops a flock when its process dies, so a crashed sync never leaves it stuck.
    """
    path = lock_path(cache_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncBusyError(
                        f"Another sync is running for workspace {workspace}; try again when it ends."
                    ) from None
                time.sleep(0.1)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
