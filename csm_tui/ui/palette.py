"""The command palette's provider: every action of the app, each segment and each theme."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from csm_tui.ui.app import CsmApp


def palette_commands(app: CsmApp) -> list[tuple[str, str, Callable[[], object]]]:
    """(name, help, callback) for everything the palette offers."""
    run = app.run_screen_action
    commands: list[tuple[str, str, Callable[[], object]]] = [
        ("Log a touch", "Record a call, email, meeting or note (l)", partial(run, "log_touch")),
        ("Plan a next step", "Add a next step with a due date (n)", partial(run, "next_step")),
        ("Snooze account", "Hide the account until a date (z)", partial(run, "snooze")),
        (
            "Enroll in a sequence",
            "Marked accounts, or the highlighted one (s)",
            partial(run, "enroll"),
        ),
        (
            "Open account",
            "Everything about the highlighted account (enter)",
            partial(run, "open_account"),
        ),
        (
            "Mark / unmark account",
            "Toggle the mark on the highlighted account (space)",
            partial(run, "toggle_mark"),
        ),
        ("Mark all in view", "Mark every listed account (a)", partial(run, "mark_all")),
        ("Clear marks", "Unmark every account", app.clear_marks),
        ("Filter", "By name, domain or a word from the notes (/)", partial(run, "filter")),
        (
            "Clear filter and segment",
            "Show every account",
            partial(app.set_view, segment=None, text=None),
        ),
        ("Choose segment", "Show one saved segment (f)", partial(run, "segment")),
        ("Portfolio", "Book metrics and cohorts (p)", app.action_portfolio),
        ("Sync now", "Push the outbox and pull the CRM and analytics (r)", app.action_sync),
        ("Undo last action", "Take back the last action not yet pushed (u)", app.action_undo),
        ("Next theme", "Cycle the csm-tui themes (t)", app.action_next_theme),
        ("Help", "Every key (?)", app.action_help),
        ("Quit", "Leave csm-tui (q)", app.action_quit),
    ]
    for name in app.segment_names():
        commands.append(
            (
                f"Segment: {name}",
                "Show only this segment",
                partial(app.set_view, segment=name, text=None),
            )
        )
    for theme in app.csm_theme_names:
        commands.append((f"Theme: {theme}", "Switch to this theme", partial(app.use_theme, theme)))
    return commands


class CsmCommands(Provider):
    """Offers every csm-tui action in the command palette."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return palette_commands(cast("CsmApp", self.app))

    async def discover(self) -> Hits:
        """All commands, before anything is typed."""
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Commands matching ``query``, best first."""
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
