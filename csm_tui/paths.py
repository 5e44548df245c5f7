"""Where csm-tui's files are: the config file, the data dir; no pydantic, so it is cheap to import.

The app's start reads these before (and, when it can, instead of) validating the settings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

APP_NAME = "csm-tui"
ENV_PREFIX = "CSM_TUI_"


def user_config_dir() -> Path:
    """The platformdirs user config dir (imported lazily: platformdirs is cheap but not free)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def user_cache_dir() -> Path:
    """The platformdirs user cache dir: files that are only a speed-up and may be deleted."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def config_path() -> Path:
    """The config file in force: ``CSM_TUI_CONFIG`` or ``<user config dir>/config.toml``."""
    override = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if override:
        return Path(override).expanduser()
    return user_config_dir() / "config.toml"


def default_data_dir() -> Path:
    """The platformdirs user data dir."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


class WorkspacePaths:
    """The files of a workspace, for anything with a ``data_dir`` and a ``workspace``."""

    data_dir: Path
    workspace: str

    @property
    def workspace_dir(self) -> Path:
        """The folder of the workspace."""
        return self.data_dir / "workspaces" / self.workspace

    @property
    def cache_path(self) -> Path:
        """The workspace's SQLite cache."""
        return self.workspace_dir / "cache.db"

    @property
    def config_file(self) -> Path:
        """The config file in force (it may not exist)."""
        return config_path()


def config_warnings(path: Path) -> list[str]:
    """Warnings about the config file at ``path``, e.g. a token in a file other users can read."""
    warnings: list[str] = []
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return warnings
    if mode & 0o077 and re.search(r"^\s*(token|slack_webhook_url)\s*=", text, re.MULTILINE):
        warnings.append(
            f"warning: {path} holds a token and other users can read it; run: chmod 600 {path}"
        )
    return warnings
