"""Every key binding, each with an id so ``settings.keymap`` ({binding_id: "keys"}) can remap it.

The lists are used as the BINDINGS of the app, the main screen, the attention list and the account
screen; `help_rows` builds the help from the same lists, so help never disagrees with the keys.
"""

from __future__ import annotations

from textual.binding import Binding

APP_BINDINGS: list[Binding] = [
    Binding("q", "quit", "Quit", id="quit"),
    Binding("question_mark", "help", "Help", id="help", key_display="?"),
    Binding("t", "next_theme", "Theme", id="next-theme", show=False),
    Binding("r", "sync", "Sync", id="sync"),
    Binding("u", "undo", "Undo", id="undo", show=False),
    Binding("p", "portfolio", "Portfolio", id="portfolio", show=False),
    Binding("ctrl+p", "command_palette", "Commands", id="command-palette", show=False),
]

LIST_BINDINGS: list[Binding] = [
    Binding("j,down", "cursor_down", "Down", id="cursor-down", show=False),
    Binding("k,up", "cursor_up", "Up", id="cursor-up", show=False),
    Binding("pagedown", "page_down", "Page down", id="page-down", show=False),
    Binding("pageup", "page_up", "Page up", id="page-up", show=False),
    Binding("home", "first", "First", id="first", show=False),
    Binding("end", "last", "Last", id="last", show=False),
    Binding("space", "toggle_mark", "Mark", id="mark"),
    Binding("a", "mark_all", "Mark all in view", id="mark-all", show=False),
]

MAIN_BINDINGS: list[Binding] = [
    Binding("enter", "open_account", "Open", id="open-account", show=False),
    Binding("l", "log_touch", "Log", id="log-touch"),
    Binding("n", "next_step", "Next step", id="next-step"),
    Binding("z", "snooze", "Snooze", id="snooze"),
    Binding("s", "enroll", "Enroll", id="enroll"),
    Binding("slash", "filter", "Filter", id="filter", key_display="/"),
    Binding("f", "segment", "Segment", id="segment"),
    Binding("escape", "clear_filter", "Clear filter", id="clear-filter", show=False),
]

ACCOUNT_BINDINGS: list[Binding] = [
    Binding("escape,backspace", "back", "Back", id="back"),
    Binding("l", "log_touch", "Log", id="log-touch"),
    Binding("n", "next_step", "Next step", id="next-step"),
    Binding("z", "snooze", "Snooze", id="snooze"),
    Binding("s", "enroll", "Enroll", id="enroll"),
    Binding("j,down", "scroll_down", "Down", id="cursor-down", show=False),
    Binding("k,up", "scroll_up", "Up", id="cursor-up", show=False),
]

ALL_BINDINGS: list[Binding] = [*LIST_BINDINGS, *MAIN_BINDINGS, *APP_BINDINGS, *ACCOUNT_BINDINGS]


def known_ids() -> set[str]:
    """Every binding id the keymap may name."""
    return {b.id for b in ALL_BINDINGS if b.id}


def check_keymap(keymap: dict[str, str]) -> list[str]:
    """Warnings for keymap entries that name no binding (they would silently do nothing)."""
    known = known_ids()
    return [
        f"keymap: no binding with id {key!r} (known: {', '.join(sorted(known))})"
        for key in sorted(keymap)
        if key not in known
    ]


def _display(keys: str, key_display: str | None) -> str:
    from textual.keys import format_key

    if key_display:
        return key_display
    return "/".join(format_key(k.strip()) for k in keys.split(",") if k.strip())


def help_rows(keymap: dict[str, str]) -> list[tuple[str, str]]:
    """(keys, what they do) for every binding, with the user's remapping applied."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for binding in ALL_BINDINGS:
        if binding.id in seen:
            continue
        seen.add(binding.id or binding.action)
        if binding.id and binding.id in keymap:
            keys = _display(keymap[binding.id], None)
        else:
            keys = _display(binding.key, binding.key_display)
        rows.append((keys, binding.description))
    return rows
