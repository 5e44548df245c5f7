"""The command palette's provider: every action of the app, each segment and each theme, and
"Open <account>" for the accounts whose name or domain holds every word typed.

A command posts a message (csm_tui.ui.messages) to the app, which routes it; the palette calls
nothing of the app's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.message import Message

from csm_tui.ui.messages import (
    AppAction,
    AppActionRequested,
    MoveSpanRequested,
    OpenAccountRequested,
    ScreenAction,
    ScreenActionRequested,
    ThemeRequested,
    ViewRequested,
)
from csm_tui.ui.safe_text import clean

if TYPE_CHECKING:
    from csm_tui.opening import Opening

ACCOUNT_HITS = 20  # at most this many accounts offered for one query


@runtime_checkable
class PaletteSource(Protocol):
    """What the palette reads of the app: where to post, the segments, the themes, the cache."""

    csm_theme_names: list[str]
    opening: Opening

    def segment_names(self) -> list[str]: ...

    def post_message(self, message: Message) -> bool: ...


def palette_commands(app: PaletteSource) -> list[tuple[str, str, Callable[[], object]]]:
    """(name, help, callback) for everything the palette offers."""

    def send(message: Callable[[], Message]) -> Callable[[], object]:
        return lambda: app.post_message(message())  # a new message each time: one post each

    def run(action: ScreenAction) -> Callable[[], object]:
        return send(partial(ScreenActionRequested, action))

    def app_action(action: AppAction) -> Callable[[], object]:
        return send(partial(AppActionRequested, action))

    commands: list[tuple[str, str, Callable[[], object]]] = [
        ("Log a touch", "Record a call, email, meeting or note (l)", run("log_touch")),
        ("Plan a next step", "Add a next step with a due date (n)", run("next_step")),
        ("Snooze account", "Hide the account until a date (z)", run("snooze")),
        ("Enroll in a sequence", "Marked accounts, or the highlighted one (s)", run("enroll")),
        ("Open account", "Everything about the highlighted account (enter)", run("open_account")),
        (
            "Mark / unmark account",
            "Toggle the mark on the highlighted account (space)",
            run("toggle_mark"),
        ),
        ("Mark all in view", "Mark every listed account (a)", run("mark_all")),
        ("Clear marks", "Unmark every account", run("clear_marks")),
        (
            "Filter",
            "Words from names, domains, contacts, notes, surveys, tickets (/)",
            run("filter"),
        ),
        (
            "Clear filter and segment",
            "Show every account",
            send(partial(ViewRequested, None, None)),
        ),
        ("Choose segment", "Show one saved segment (f)", run("segment")),
        (
            "Why the health moved: next span",
            "Compare with 1, 4 or 13 weeks back (m)",
            send(MoveSpanRequested),
        ),
        ("Due queue", "Every next step due today or overdue (d)", run("due_queue")),
        ("Open in HubSpot", "The highlighted account, its link copied too (o)", run("open_in_crm")),
        ("Export as CSV", "The list as filtered, or the due queue (x)", run("export")),
        (
            "Snoozed accounts",
            "Show the snoozed accounts, or the list again (Z)",
            run("snoozed_view"),
        ),
        ("Unsnooze account", "Bring the snoozed account back now (z)", run("unsnooze")),
        (
            "Sort the list",
            "By priority, ARR, renewal, health, last touch, in turn (S)",
            run("cycle_sort"),
        ),
        ("Portfolio", "Book metrics and cohorts (p)", app_action("portfolio")),
        ("Sync now", "Push the outbox and pull the CRM and analytics (r)", app_action("sync")),
        ("Undo last action", "Take back the last action not yet pushed (u)", app_action("undo")),
        ("Next theme", "Cycle the csm-tui themes (t)", app_action("next_theme")),
        ("Help", "Every key (?)", app_action("help")),
        ("Quit", "Leave csm-tui (q)", app_action("quit")),
    ]
    for name in app.segment_names():
        view = send(partial(ViewRequested, name, None))
        commands.append((f"Segment: {name}", "Show only this segment", view))
    for theme in app.csm_theme_names:
        chosen = send(partial(ThemeRequested, theme))
        commands.append((f"Theme: {theme}", "Switch to this theme", chosen))
    return commands


def read_accounts(opening: Opening) -> list[tuple[str, str, str]]:
    """(id, name, domain) of every account in the cache (a thread's read)."""
    from csm_tui.store.views import account_names
    from csm_tui.ui.threads import reader

    try:
        with reader(opening.cache_path) as db:
            return account_names(db)
    except Exception:  # no cache yet, or it cannot be read: no accounts to offer, no crash
        return []


def matching_accounts(
    accounts: list[tuple[str, str, str]], query: str, limit: int = ACCOUNT_HITS
) -> list[tuple[str, str, str]]:
    """The accounts whose name or domain holds every word of ``query`` (at most ``limit``)."""
    words = query.casefold().split()
    if not words or len(query.strip()) < 2:
        return []
    found = []
    for account in accounts:
        hay = f"{account[1]} {account[2]}".casefold()
        if all(word in hay for word in words):
            found.append(account)
            if len(found) >= limit:
                break
    return found


class CsmCommands(Provider):
    """Offers every csm-tui action in the command palette, and the accounts to open."""

    _accounts: list[tuple[str, str, str]] = []

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        return palette_commands(app) if isinstance(app, PaletteSource) else []

    async def startup(self) -> None:
        """Read the accounts' names in a thread, once per opening of the palette."""
        app = self.app
        if isinstance(app, PaletteSource):
            self._accounts = await asyncio.to_thread(read_accounts, app.opening)

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
        for account_id, raw_name, domain in matching_accounts(self._accounts, query):
            name = clean(raw_name, 80) or clean(domain, 80) or account_id
            opened = partial(self.app.post_message, OpenAccountRequested(account_id))
            # Every word is in the name or domain: scored at least as a fair command match.
            score = max(matcher.match(name), 0.5)
            shown = Content("Open ") + matcher.highlight(name)
            yield Hit(score, shown, opened, text=f"Open {name}", help=clean(domain, 80))
