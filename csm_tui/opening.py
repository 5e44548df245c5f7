"""What the app's first screen needs of the settings, remembered from the last validated start.

Validating the settings means importing pydantic and pydantic-settings (~150 ms), more than half
of what a bare Textual app takes to show its first rows. The first screen needs only four
values: the data dir, the workspace, the theme and the key map. So every successful start
remembers them under a fingerprint of everything the settings are computed from (the config
file's bytes, every ``CSM_TUI_*`` variable, the variables that place the user's folders, the
``--workspace`` flag, and the settings code itself). When the next start's fingerprint is the
same, the settings would validate to the same values, and the app opens on the remembered
ones; it validates the whole settings right after the first screen is drawn. Anything else
(a new config file, a changed variable, an upgrade) starts the slow, fully checked way, which
is also how a bad config is still a one-line error before any screen.

The memo is in the user cache dir and holds no secrets: tokens are only hashed, inside the
config file's fingerprint. The fingerprint is two zlib checksums (64 bits), not a cryptographic
hash: hashlib costs ~6 ms to import, and a collision is caught anyway, as the app compares the
opening values with the validated settings and reopens on the validated ones if they differ.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csm_tui.paths import ENV_PREFIX, WorkspacePaths, config_path, user_cache_dir

if TYPE_CHECKING:
    from csm_tui.config import Settings

MEMO_NAME = "opening.json"
MEMO_ENTRIES = 16  # distinct set-ups remembered (workspaces, config files)
# Variables besides CSM_TUI_* that change where the defaults put the config and data dirs.
PLACE_VARIABLES = ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "APPDATA", "LOCALAPPDATA")
SETTINGS_CODE = Path(__file__).with_name("config.py")


@dataclass(frozen=True)
class Opening(WorkspacePaths):
    """The settings the first screen reads: where the cache is, its theme and key map."""

    data_dir: Path
    workspace: str
    theme: str
    keymap: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings) -> Opening:
        """The opening values of validated settings."""
        return cls(settings.data_dir, settings.workspace, settings.theme, dict(settings.keymap))


def fingerprint(workspace_flag: str | None) -> str:
    """A digest of every input the settings are computed from (see the module's docstring)."""
    path = config_path()
    try:
        content = path.read_bytes()
    except OSError:
        content = b"<no config file>"
    code = SETTINGS_CODE.stat()
    env = sorted(
        (key, value)
        for key, value in os.environ.items()
        if key.upper().startswith(ENV_PREFIX) or key in PLACE_VARIABLES
    )
    inputs = b"\0".join(
        part.encode("utf-8", "surrogateescape")
        for part in (str(path), json.dumps(env), workspace_flag or "", str(code.st_mtime_ns))
    )
    data = inputs + b"\0" + content
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"


def _memo_path() -> Path:
    return user_cache_dir() / MEMO_NAME


def _read_memo() -> dict[str, Any]:
    try:
        found = json.loads(_memo_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def remembered(workspace_flag: str | None) -> Opening | None:
    """The opening values of the last start with the same inputs, or None."""
    entry = _read_memo().get(fingerprint(workspace_flag))
    if not isinstance(entry, dict):  # none remembered (or not an entry)
        return None
    try:
        keymap = entry["keymap"]
        if not (isinstance(keymap, dict) and all(isinstance(v, str) for v in keymap.values())):
            return None
        return Opening(
            Path(entry["data_dir"]), str(entry["workspace"]), str(entry["theme"]), keymap
        )
    except (KeyError, TypeError):
        return None


def remember(settings: Settings, workspace_flag: str | None) -> None:
    """Remember the opening values of ``settings`` for the next start; never fails the caller."""
    memo = _read_memo()
    key = fingerprint(workspace_flag)
    memo.pop(key, None)
    memo[key] = {
        "data_dir": str(settings.data_dir),
        "workspace": settings.workspace,
        "theme": settings.theme,
        "keymap": dict(settings.keymap),
    }
    while len(memo) > MEMO_ENTRIES:  # dicts keep insertion order: drop the oldest
        memo.pop(next(iter(memo)))
    path = _memo_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(memo), encoding="utf-8")
        os.replace(partial, path)  # whole or not at all: a reader never sees half a memo
    except OSError:
        pass  # only a speed-up: the next start validates the slow way
