"""The status line: online or offline, when the cache was last synced, the outbox, sync progress."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ProgressBar, Static

from csm_tui.store.views import StatusInfo, parse_instant
from csm_tui.ui.safe_text import clean
from csm_tui.ui.widgets.formats import ago


def status_content(
    info: StatusInfo | None, now: datetime, network: str, error: str | None, marked: int
) -> Content:
    """'● online · synced 7 min ago · 2 waiting · 1 failed · 3 marked · <error>'."""
    symbol, style = {
        "online": ("●", "$band-green"),
        "offline": ("○", "$band-red"),
    }.get(network, ("◌", "$text-muted"))
    parts: list[str | tuple[str, str]] = [(f"{symbol} {network}", f"bold {style}")]
    if info is not None:
        synced = parse_instant(info.last_synced)
        parts.append((" · ", "$text-muted"))
        if info.accounts and not info.scored:
            # The app opened while a first sync fills the cache: rows without scores yet.
            parts.append(("book not scored yet: the first sync is still running", "bold $warning"))
        else:
            parts.append(f"synced {ago(synced, now)}" if synced else ("never synced", "$warning"))
        parts.append((" · ", "$text-muted"))
        parts.append(
            (f"{info.waiting} waiting", "bold $warning") if info.waiting else ("outbox empty", "")
        )
        if info.failed:
            parts.append((" · ", "$text-muted"))
            parts.append((f"{info.failed} failed pushes", "bold $error"))
    if marked:
        parts.append((" · ", "$text-muted"))
        parts.append((f"{marked} marked", "bold $mark"))
    if error:
        parts.append((" · ", "$text-muted"))
        parts.append((clean(error, 160), "$error"))
    return Content.assemble(*parts)


class StatusLine(Horizontal):
    """Sync state on the left, a progress bar on the right while a sync runs."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info: StatusInfo | None = None
        self.network = "cache"
        self.error: str | None = None
        self.marked = 0

    def compose(self) -> ComposeResult:
        # The sync's label and bar (four widgets with the bar's parts) are mounted by the first
        # sync: styling them cost the first frame some 5 ms, for a bar most opens never show.
        yield Static(id="status-text")

    def redraw(self, now: datetime) -> None:
        """Render the current state."""
        self.query_one("#status-text", Static).update(
            status_content(self.info, now, self.network, self.error, self.marked)
        )

    def show_progress(self, label: str, done: int, total: int | None) -> None:
        """Show the sync progress (total None: indeterminate)."""
        if self.query_one_optional("#sync-progress") is None:
            self.mount(Static(id="sync-label"), ProgressBar(id="sync-progress", show_eta=False))
        bar = self.query_one("#sync-progress", ProgressBar)
        text = self.query_one("#sync-label", Static)
        bar.display = True
        text.display = True
        text.update(Content(clean(label, 40)))
        bar.update(total=total, progress=done)

    def hide_progress(self) -> None:
        """The sync is over."""
        for widget in self.query("#sync-progress, #sync-label"):
            widget.display = False
