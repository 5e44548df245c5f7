"""Every key binding, each with an id so ``settings.keymap`` ({binding_id: "keys"}) can remap it.

The lists are used as the BINDINGS of the app, the main screen, the attention list and the account
screen; `help_rows` builds the help from the same lists, so help never disagrees with the keys.
"""

from __future__ import annotations

from textual.binding import Binding

# The footer has room for about eighty columns of keys: the ones shown are the daily ones;
# every key (quit, theme, undo, portfolio, segment too) is in the help (?) and the palette.
APP_BINDINGS: list[Binding] = [
    Binding("question_mark", "help", "Help", id="help", tooltip="Show every key", key_display="?"),
    Binding(
        "r",
        "sync",
        "Sync",
        id="sync",
        tooltip="Sync now: push the outbox, pull the CRM and analytics",
    ),
    Binding(
        "ctrl+p",
        "command_palette",
        "Palette",
        id="command-palette",
        tooltip="Command palette: every action by name",
    ),
    Binding("q", "quit", "Quit", id="quit", tooltip="Leave csm-tui", show=False),
    Binding(
        "t",
        "next_theme",
        "Theme",
        id="next-theme",
        tooltip="Next theme (the choice is saved)",
        show=False,
    ),
    Binding(
        "u",
        "undo",
        "Undo",
        id="undo",
        tooltip="Undo the last local action not yet pushed",
        show=False,
    ),
    Binding(
        "p",
        "portfolio",
        "Portfolio",
        id="portfolio",
        tooltip="Portfolio: book metrics and cohorts",
        show=False,
    ),
]

LIST_BINDINGS: list[Binding] = [
    Binding("j,down", "cursor_down", "Down", id="cursor-down", tooltip="Next account", show=False),
    Binding("k,up", "cursor_up", "Up", id="cursor-up", tooltip="Previous account", show=False),
    Binding(
        "pagedown", "page_down", "Page down", id="page-down", tooltip="A page down", show=False
    ),
    Binding("pageup", "page_up", "Page up", id="page-up", tooltip="A page up", show=False),
    Binding("home", "first", "First", id="first", tooltip="First account", show=False),
    Binding("end", "last", "Last", id="last", tooltip="Last account", show=False),
    Binding("space", "toggle_mark", "Mark", id="mark", tooltip="Mark or unmark the account"),
    Binding(
        "a",
        "mark_all",
        "Mark all in view",
        id="mark-all",
        tooltip="Mark every account in view (again: unmark)",
        show=False,
    ),
]

# Acting on one account: the same keys (and binding ids) on the list and the account screen.
ACCOUNT_ACTIONS: list[Binding] = [
    Binding(
        "l",
        "log_touch",
        "Log",
        id="log-touch",
        tooltip="Log a touch (call, email, meeting, QBR, note)",
        # Handled as the key arrives (see "/" below): the keys typed behind it are held for the
        # form (csm_tui/ui/type_ahead.py), not sent to the list before the l is read.
        priority=True,
    ),
    # n and z, like l: handled as the key arrives, the keys typed behind held for the form.
    Binding("n", "next_step", "Step", id="next-step", tooltip="Plan a next step", priority=True),
    Binding(
        "z",
        "snooze",
        "Snooze",
        id="snooze",
        tooltip="Snooze the account until a date",
        priority=True,
    ),
    Binding(
        "o",
        "open_in_crm",
        "HubSpot",
        id="open-in-crm",
        tooltip="Open the account in HubSpot (the link is copied too)",
        show=False,
    ),
    Binding(
        "s",
        "enroll",
        "Enroll",
        id="enroll",
        tooltip="Enroll marked accounts (or this one) in a sequence",
        priority=True,  # as l: the keys typed behind it wait for the form
    ),
    Binding(
        "m",
        "move_span",
        "Why moved",
        id="move-span",
        tooltip="Why the health moved: compare with 1, 4 or 13 weeks back",
        show=False,
    ),
]

MAIN_BINDINGS: list[Binding] = [
    Binding(
        "enter",
        "open_account",
        "Open",
        id="open-account",
        tooltip="Open the account screen",
        show=False,
    ),
    *ACCOUNT_ACTIONS,
    Binding(
        "slash",
        "filter",
        "Filter",
        id="filter",
        tooltip="Filter as you type: names, domains, contacts, notes, tickets",
        key_display="/",
        # Handled as the key arrives, not when the list gets to it: the letters typed right
        # behind the / (one burst from a fast typist, or while the app was busy) were already
        # sent to the list by then, and lost.
        priority=True,
    ),
    Binding(
        "f",
        "segment",
        "Segment",
        id="segment",
        tooltip="Choose a segment",
        show=False,
        priority=True,  # as l: the keys typed behind it wait for the chooser
    ),
    Binding(
        "d",
        "due_queue",
        "Due",
        id="due-queue",
        tooltip="Due queue: every next step due today or overdue, across the book",
        show=False,  # the footer is full at 80 columns; d is in the help and the palette
        # Handled as the key arrives (see "/"): the keys typed behind it wait for the queue.
        priority=True,
    ),
    Binding(
        "x",
        "export",
        "Export",
        id="export",
        tooltip="Export the view as CSV (the list as filtered, or the due queue)",
        show=False,
    ),
    Binding(
        "z",
        "unsnooze",
        "Unsnooze",
        id="unsnooze",
        tooltip="Bring the snoozed account back to the list now (u undoes)",
        priority=True,  # as z's snooze is: the two share the key, one enabled at a time
    ),
    Binding(
        "Z",
        "snoozed_view",
        "Snoozed",
        id="snoozed-view",
        tooltip="Show the snoozed accounts (again: back to the list)",
        key_display="Z",
        show=False,  # the footer's eighty columns are full; help, palette and README say it
    ),
    Binding(
        "S",
        "cycle_sort",
        "Sort",
        id="cycle-sort",
        tooltip="Sort by priority, ARR, renewal, health or last touch, in turn",
        key_display="S",
        show=False,
    ),
    Binding(
        "escape",
        "clear_filter",
        "Clear filter",
        id="clear-filter",
        tooltip="Clear the filter and segment",
        show=False,
    ),
]

ACCOUNT_BINDINGS: list[Binding] = [
    Binding("escape,backspace", "back", "Back", id="back", tooltip="Back to the list"),
    *ACCOUNT_ACTIONS,
    Binding("j,down", "scroll_down", "Down", id="cursor-down", show=False),
    Binding("k,up", "scroll_up", "Up", id="cursor-up", show=False),
]

# The due queue (d): every next step due today or overdue, across the book.
DUE_BINDINGS: list[Binding] = [
    Binding(
        "c,space",
        "complete",
        "Done",
        id="due-complete",
        tooltip="Due queue: mark the next step done (u undoes)",
    ),
    Binding("e", "retitle", "Title", id="due-retitle", tooltip="Due queue: retitle the next step"),
    Binding(
        "w",
        "reschedule",
        "When",
        id="due-reschedule",
        tooltip="Due queue: reschedule the next step (fri, +3d, dec 15)",
    ),
    Binding(
        "enter", "open_account", "Account", id="due-open", tooltip="Due queue: open the account"
    ),
    Binding("x", "export", "Export", id="export", tooltip="Export the view as CSV", show=False),
    Binding("escape", "back", "Back", id="due-back", tooltip="Due queue: back to the list"),
    Binding("j", "cursor_down", "Down", id="due-down", show=False, tooltip="Due queue: down"),
    Binding("k", "cursor_up", "Up", id="due-up", show=False, tooltip="Due queue: up"),
]

ALL_BINDINGS: list[Binding] = [
    *LIST_BINDINGS,
    *MAIN_BINDINGS,
    *APP_BINDINGS,
    *ACCOUNT_BINDINGS,
    *DUE_BINDINGS,
]


def known_ids() -> set[str]:
    """Every binding id the keymap may name."""
    return {b.id for b in ALL_BINDINGS if b.id}


_ALIASES = {"slash": "/", "question_mark": "?", "space": " "}


def _keys(text: str) -> list[str]:
    """Keys of a binding string, in one spelling ("question_mark" and "?" are the same key)."""
    from textual.keys import key_to_character

    found = []
    for key in text.split(","):
        key = key.strip()
        if key:
            found.append(_ALIASES.get(key) or key_to_character(key) or key)
    return found


def check_keymap(keymap: dict[str, str]) -> list[str]:
    """Warnings for keymap entries that name no binding, or take a key another action still uses
    on the same screen (the remapped action wins; the other one loses that key)."""
    known = known_ids()
    warnings = [
        f"keymap: no binding with id {key!r} (known: {', '.join(sorted(known))})"
        for key in sorted(keymap)
        if key not in known
    ]
    for group in (APP_BINDINGS, LIST_BINDINGS, MAIN_BINDINGS, ACCOUNT_BINDINGS, DUE_BINDINGS):
        for binding in group:
            if binding.id not in keymap:
                continue
            for other in group:
                if other.id == binding.id or other.id in keymap:
                    continue
                taken = set(_keys(keymap[binding.id])) & set(_keys(other.key))
                for key in sorted(taken):
                    warning = (
                        f"keymap: {key} now does {binding.tooltip or binding.description!r}; "
                        f"{other.tooltip or other.description!r} lost it"
                    )
                    if warning not in warnings:
                        warnings.append(warning)
    return warnings


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
        rows.append((keys, binding.tooltip or binding.description))
    return rows
