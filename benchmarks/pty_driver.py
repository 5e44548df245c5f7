"""Drive a terminal app black-box: spawn it in a pseudo-terminal of a fixed size, send keys, and
wait until a text appears on its output; read its peak memory from /proc."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

# Escape sequences (CSI, OSC, single-character) removed before looking for text.
_ESCAPES = re.compile(
    rb"\x1b(?:\[[0-9;?<>=$ ]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-B]|[=>78MDEc])"
)

KEYS = {"pagedown": b"\x1b[6~", "pageup": b"\x1b[5~", "end": b"\x1b[F", "home": b"\x1b[H"}


class PtyApp:
    """One child process on a pty (a context manager that kills it on exit)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        size: tuple[int, int] = (160, 48),
        cwd: str | None = None,
    ) -> None:
        master, slave = os.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = dict(os.environ)
        full_env.update({"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)})
        full_env.pop("TEXTUAL", None)
        full_env.update(env or {})
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.seen = b""  # the output since the last mark() (its last 64 KB)
        self.total = 0

    def _read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master, 1 << 16)
        except OSError:
            return b""

    def mark(self) -> None:
        """Forget the output seen so far: wait_for looks only at what comes after."""
        self.seen = b""

    def _take(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.seen = (self.seen + chunk)[-65536:]

    def wait_for(self, text: str, timeout: float = 60.0) -> float:
        """Read output until ``text`` appears (since the last mark); seconds since the start."""
        needle = text.encode()
        deadline = time.perf_counter() + timeout
        chunk = b""
        while time.perf_counter() < deadline:
            if needle in _ESCAPES.sub(b"", self.seen):
                return time.perf_counter() - self.started
            chunk = self._read(0.05)
            if chunk:
                self._take(chunk)
            elif self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.proc.args} exited ({self.proc.returncode}) before showing {text!r}: "
                    f"{_ESCAPES.sub(b'', self.seen)[-400:]!r}"
                )
        raise TimeoutError(
            f"{text!r} not seen in {timeout} s: {_ESCAPES.sub(b'', self.seen)[-400:]!r}"
        )

    def drain(self, quiet: float = 0.3, timeout: float = 30.0) -> None:
        """Read until the output has been quiet for ``quiet`` seconds."""
        deadline = time.perf_counter() + timeout
        last = time.perf_counter()
        while time.perf_counter() < deadline:
            chunk = self._read(0.05)
            if chunk:
                self._take(chunk)
                last = time.perf_counter()
            elif time.perf_counter() - last > quiet:
                return

    def send(self, keys: bytes | str) -> None:
        """Type ``keys`` (a name of KEYS, or raw text)."""
        data = KEYS.get(keys, keys.encode()) if isinstance(keys, str) else keys
        os.write(self.master, data)

    def peak_rss_mb(self) -> float:
        """The child's peak resident memory (VmHWM) in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmHWM not found")

    def close(self) -> None:
        """Stop the child (its whole session) and release the pty."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        os.close(self.master)

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
