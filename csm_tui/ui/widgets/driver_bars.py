"""Health drivers as bars of their points, each with its plain-words reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from csm_tui.ui.safe_text import clean
from csm_tui.ui.widgets.content_updates import update_if_changed

if TYPE_CHECKING:
    from csm_tui.store.detail import Driver

BAR_WIDTH = 10


def bar(points: float, maximum: float, width: int = BAR_WIDTH) -> str:
    """A bar of ``width`` cells filled in proportion to points / maximum."""
    if maximum <= 0:
        return "·" * width
    filled = max(0, min(width, round(points / maximum * width)))
    return "█" * filled + "░" * (width - filled)


def band_of_ratio(ratio: float) -> str:
    """The band colour variable for a driver's share of its maximum."""
    if ratio >= 0.7:
        return "$band-green"
    if ratio >= 0.4:
        return "$band-yellow"
    return "$band-red"


def drivers_content(
    drivers: Sequence[Driver], reason_width: int = 60, reason_below: bool = False
) -> Content:
    """Per driver: name, bar, points/max, points lost, and the reason (below it if asked)."""
    if not drivers:
        return Content.styled("No health score yet (run a sync).", "$text-muted")
    lines: list[Content] = []
    for d in drivers:
        ratio = d.points / d.max if d.max else 0.0
        lost = d.max - d.points
        lines.append(
            Content.assemble(
                (f"{clean(d.component, 12).title():<12} ", "bold"),
                (bar(d.points, d.max), band_of_ratio(ratio)),
                (f" {d.points:>3.0f}/{d.max:<3.0f}", ""),
                (f" {'−' + format(lost, '.0f') if lost >= 0.5 else '':>4} ", "$text-muted"),
                "\n  " if reason_below else "",
                (clean(d.reason, reason_width), "$text-muted" if reason_below else ""),
            )
        )
    return Content("\n").join(lines)


class DriverBars(Static):
    """Every health driver and why it scored what it did."""

    def show(
        self, drivers: Sequence[Driver], reason_width: int = 60, reason_below: bool = False
    ) -> None:
        """Render the drivers."""
        update_if_changed(self, drivers_content(drivers, reason_width, reason_below))
