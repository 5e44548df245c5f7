"""Updating a Static only when what it shows changes."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


def same_content(old: object, new: Content) -> bool:
    """True when ``old`` is Content with the same text and the same styles as ``new``."""
    # Content's own == compares the text only: a health that changes colour must repaint.
    return isinstance(old, Content) and old.plain == new.plain and old.spans == new.spans


def update_if_changed(widget: Static, content: Content) -> None:
    """Give ``widget`` this content unless it already shows it.

    Every Static.update lays out and repaints the screen around it; after an action only a few
    of the detail pane's parts change, and the others need not cost the UI thread anything.
    """
    if not same_content(widget.content, content):
        widget.update(content)
