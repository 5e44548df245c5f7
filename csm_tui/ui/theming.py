"""csm-tui's themes in the app: registered from their files, chosen, cycled and remembered.

The files and the saved choice are csm_tui/ui/themes.py; this is what the app does with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from csm_tui.ui.themes import (
    DEFAULT_THEME,
    load_themes,
    save_theme,
    saved_theme,
    shipped_themes_dir,
    user_themes_dir,
)

if TYPE_CHECKING:
    from textual.app import App

    from csm_tui.opening import Opening

SHIPPED = ["csm-dark", "csm-light", "csm-high-contrast"]  # first when cycling, in this order


class Theming:
    """Registers csm-tui's themes with ``app`` and switches between them."""

    def __init__(self, app: App[Any], opening: Opening) -> None:
        """Register the shipped themes and the user's own; switch to the saved choice (or the
        settings' theme). ``warnings`` says what could not be loaded or found."""
        self.app = app
        dirs = [d for d in (shipped_themes_dir(),) if d is not None]
        dirs.append(user_themes_dir(opening.config_file))
        themes, self.warnings = load_themes(dirs)
        for theme in themes:
            app.register_theme(theme)
        names = [t.name for t in themes]
        self.names = [n for n in SHIPPED if n in names] + sorted(
            n for n in names if n not in SHIPPED
        )
        wanted = self.wanted(opening)
        if wanted not in app.available_themes:
            self.warnings.append(f"Theme {wanted!r} not found; using {DEFAULT_THEME}.")
            wanted = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
        app.theme = wanted

    @staticmethod
    def wanted(opening: Opening) -> str:
        """The theme last chosen in the app, else the settings' theme."""
        return saved_theme(opening.data_dir, opening.theme) or opening.theme

    def follow(self, opening: Opening) -> None:
        """Switch to the theme ``opening`` wants, when there is such a theme."""
        wanted = self.wanted(opening)
        if wanted in self.app.available_themes:
            self.app.theme = wanted

    def next(self) -> None:
        """Switch to the next csm-tui theme."""
        names = self.names or [self.app.theme]
        index = names.index(self.app.theme) if self.app.theme in names else -1
        self.use(names[(index + 1) % len(names)])

    def use(self, name: str) -> None:
        """Switch to theme ``name`` (the app remembers it: ``remember``)."""
        self.app.theme = name
        self.app.notify(f"Theme {name}", timeout=2)

    def remember(self, opening: Opening, name: str) -> None:
        """Save ``name`` as the choice the next start opens with."""
        try:
            save_theme(opening.data_dir, name, opening.theme)
        except OSError as exc:
            self.app.notify(f"Could not save the theme choice: {exc.strerror}", severity="warning")
