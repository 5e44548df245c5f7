"""A second Python process that does part of a long job on the machine's second core: the full
rescore's other half (store/rescore_worker.py).

It runs this very code, installed or not (the package's folder goes first on its path), speaks
in pickles on its stdin and stdout, and never writes to the terminal (its stderr is discarded:
the TUI owns the screen; failures come back as messages).
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # subprocess is imported only by the process that starts a helper (~5 ms)
    import subprocess


def second_core() -> bool:
    """Whether this process may use two or more cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2 and bool(sys.executable)


def start_helper(module: str, *args: str) -> subprocess.Popen[bytes] | None:
    """``python -m module args...`` with pipes on stdin and stdout; None when this machine has
    no second core for it or it could not start."""
    if not second_core():
        return None
    here = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p),
    }
    import subprocess

    try:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def send(stream: IO[bytes] | None, message: Any) -> None:
    """Write one message (raises OSError, ValueError or PickleError when the other end is gone)."""
    if stream is None:
        raise ValueError("no pipe")
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def end_helper(process: subprocess.Popen[bytes], *, wait: float = 5.0) -> None:
    """Close its pipes, let it finish for up to ``wait`` seconds (0: not at all), then end it
    and reap it."""
    import subprocess

    for stream in (process.stdin, process.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
