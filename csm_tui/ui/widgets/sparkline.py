"""A one-line sparkline of weekly numbers (usage, health history)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from csm_tui.ui.widgets.content_updates import update_if_changed

BLOCKS = "▁▂▃▄▅▆▇█"


def spark(values: Sequence[float], low: float | None = None, high: float | None = None) -> str:
    """Block characters scaled between ``low`` and ``high`` (default: the values' range)."""
    if not values:
        return ""
    lo = min(values) if low is None else low
    hi = max(values) if high is None else high
    if hi <= lo:
        return BLOCKS[len(BLOCKS) // 2 if hi > 0 else 0] * len(values)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[max(0, min(top, round((v - lo) / (hi - lo) * top)))] for v in values)


def sparkline_content(
    label: str,
    values: Sequence[float],
    suffix: str = "",
    style: str = "$primary",
    low: float | None = None,
    high: float | None = None,
) -> Content:
    """'label ▁▂▅▇ suffix' as Content."""
    if not values:
        return Content.assemble((f"{label} ", "bold"), ("no data yet", "$text-muted"))
    return Content.assemble(
        (f"{label} ", "bold"), (spark(values, low, high), style), (f" {suffix}", "$text-muted")
    )


class Sparkline(Static):
    """A labelled sparkline."""

    def show(
        self,
        label: str,
        values: Sequence[float],
        suffix: str = "",
        low: float | None = None,
        high: float | None = None,
    ) -> None:
        """Render the values (scaled between ``low`` and ``high``, as ``spark`` does)."""
        update_if_changed(self, sparkline_content(label, values, suffix, low=low, high=high))
