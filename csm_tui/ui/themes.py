"""Themes from TOML files (shipped ones and the user's own), and the saved theme choice.

A theme file has ``name``, ``dark``, a ``[colors]`` table of Textual theme colours and a
``[variables]`` table of our own (``band-green`` ...), which the .tcss uses as ``$band-green``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from textual.theme import Theme

from csm_tui.errors import CsmError

DEFAULT_THEME = "csm-dark"
STATE_FILE = "ui-state.json"
COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
# Fallbacks for our own variables, so any theme (even a built-in Textual one) can be used.
VARIABLE_DEFAULTS: dict[str, str] = {
    "band-green": "ansi_green",
    "band-yellow": "ansi_yellow",
    "band-red": "ansi_red",
    "trend-up": "ansi_green",
    "trend-down": "ansi_red",
    "opportunity": "ansi_magenta",
    "chip": "ansi_bright_black",
    "mark": "ansi_cyan",
}


class ThemeError(CsmError):
    """A theme file cannot be used; one line naming the file and the problem."""


def shipped_themes_dir() -> Path | None:
    """The themes that come with csm-tui: inside the package (wheel) or the repository's top level."""
    here = Path(__file__).resolve().parent.parent  # csm_tui/
    for candidate in (here / "themes", here.parent / "themes"):
        if candidate.is_dir():
            return candidate
    return None


def user_themes_dir(config_file: Path) -> Path:
    """The user's own themes: ``themes/`` beside the config file."""
    return config_file.parent / "themes"


def load_theme_file(path: Path) -> Theme:
    """Read one TOML theme file; raise ThemeError with one line when it is not usable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"Theme {path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"Theme {path}: TOML syntax error: {exc}") from None
    name = data.get("name") or path.stem
    colors = data.get("colors", {})
    variables = data.get("variables", {})
    if not isinstance(colors, dict) or not isinstance(variables, dict):
        raise ThemeError(f"Theme {path}: [colors] and [variables] must be tables")
    unknown = set(colors) - set(COLOR_KEYS)
    if unknown:
        raise ThemeError(f"Theme {path}: unknown colour {sorted(unknown)[0]!r}")
    if "primary" not in colors:
        raise ThemeError(f"Theme {path}: [colors] needs at least 'primary'")
    from textual.color import Color, ColorParseError

    for key, value in {**colors, **variables}.items():
        try:
            Color.parse(str(value))
        except ColorParseError:
            raise ThemeError(f"Theme {path}: {key} = {value!r} is not a colour") from None
    # Theme's colour keyword arguments (the keys are COLOR_KEYS, checked above).
    colour_args: dict[str, Any] = {k: str(v) for k, v in colors.items()}
    return Theme(
        name=str(name),
        dark=bool(data.get("dark", True)),
        variables={str(k): str(v) for k, v in variables.items()},
        **colour_args,
    )


def load_themes(dirs: list[Path]) -> tuple[list[Theme], list[str]]:
    """Every ``*.toml`` theme in ``dirs`` (later dirs override same-named themes), and warnings."""
    found: dict[str, Theme] = {}
    warnings: list[str] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                warnings.append(str(exc))
                continue
            found[theme.name] = theme
    return list(found.values()), warnings


def _state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def saved_theme(data_dir: Path, config_theme: str) -> str | None:
    """The theme the user chose last time with `t`, unless the config's theme changed since
    (a new ``theme =`` in the config file is a newer wish than an old key press)."""
    try:
        state = json.loads(_state_path(data_dir).read_text(encoding="utf-8"))
        value, under = state.get("theme"), state.get("config_theme")
    except (OSError, ValueError, AttributeError):
        return None
    if under is not None and under != config_theme:
        return None
    return value if isinstance(value, str) else None


def save_theme(data_dir: Path, name: str, config_theme: str) -> None:
    """Remember the theme choice (a small JSON state file in the data dir)."""
    path = _state_path(data_dir)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict):
            state = {}
    except (OSError, ValueError):
        state = {}
    state["theme"] = name
    state["config_theme"] = config_theme
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)
