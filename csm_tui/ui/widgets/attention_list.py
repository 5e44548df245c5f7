"""The ranked attention list: a Line API widget that renders only the lines on screen.

Ten thousand accounts cost ten thousand small tuples, never ten thousand widgets. A sticky header
is line 0; row ``i`` is drawn at virtual line ``i + 1``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from csm_tui.store.search import match_parts
from csm_tui.store.views import AttentionItem
from csm_tui.ui.keymap import LIST_BINDINGS
from csm_tui.ui.safe_text import clean, fit
from csm_tui.ui.widgets.formats import (
    BAND_SYMBOL,
    money,
    renews_days,
    renews_in,
    stage_title,
    trend_arrow,
)

OPPORTUNITY_CHIP = "★ Opportunity"
# Chips that repeat a column of the row: the list shows what they add, the detail pane all of it.
_HEALTH_CHIP = re.compile(r"^Health \d+(?: \((.+)\))?$")
_RENEWS_CHIP = re.compile(r"^Renews in ")


def list_chip(chip: str) -> str | None:
    """A reason chip as the list shows it: None when it only repeats the health or renewal column."""
    if _RENEWS_CHIP.match(chip):
        return None
    found = _HEALTH_CHIP.match(chip)
    if found:
        return found.group(1)  # "(−14 in 4 wk)" -> "−14 in 4 wk"; a bare "Health 46" -> None
    return chip


def name_width_of(rows: list[AttentionItem]) -> int:
    """The name column these rows want: as wide as the longest name needs (within limits)."""
    return 1 + max(
        (cell_len(clean(r.name)) + (2 if r.opportunity else 0) for r in rows), default=10
    )


def rank_key(item: AttentionItem) -> tuple[float, str, str]:
    """The list's order, as views.attention_rows sorts: priority down, then name, then id."""
    return (-item.priority, item.name, item.account_id)


# The orders ``S`` cycles through, each with what the view bar says of it. Ties keep the
# priority order; accounts without the value come last (never touched: first, the most neglected).
SORTS = ("priority", "arr", "renewal", "health", "last_touch")
SORT_TITLES = {
    "priority": "priority",
    "arr": "ARR ↓",
    "renewal": "renewal ↑",
    "health": "health ↑",
    "last_touch": "last touch ↑",
    # Not in the cycle: the order of a segment of opportunities (Expansion-ready), which rank
    # among themselves by their strength, not by risk (the weakest would come first).
    "expansion": "expansion strength ↓",
}
SortKey = tuple[object, ...]


def sort_key(sort: str) -> Callable[[AttentionItem], SortKey]:
    """The key of the list order ``sort`` (one of SORTS)."""
    if sort == "arr":
        return lambda i: (-(i.arr or 0.0), *rank_key(i))
    if sort == "renewal":
        return lambda i: (i.renewal_date is None, i.renewal_date or "", *rank_key(i))
    if sort == "health":
        return lambda i: (i.health is None, i.health or 0, *rank_key(i))
    if sort == "last_touch":
        return lambda i: (i.last_touch is not None, i.last_touch or "", *rank_key(i))
    if sort == "expansion":
        return lambda i: (-i.expansion, *rank_key(i))
    return rank_key


def short_day(day: str | None) -> str:
    """An ISO day as the list shows it: 12/15."""
    return f"{day[5:7]}/{day[8:10]}" if day and len(day) >= 10 else (day or "")


def snoozed_chip(item: AttentionItem) -> str | None:
    """'snoozed to 12/15' for a snoozed account."""
    return f"snoozed to {short_day(item.snoozed_until)}" if item.snoozed_until else None


@dataclass(frozen=True)
class Columns:
    """Column widths for one widget width (0 = column hidden)."""

    rank: int
    mark: int
    name: int
    health: int
    arr: int
    renews: int
    stage: int
    chips: int


def columns_for(width: int, rows: int, name_wanted: int = 28) -> Columns:
    """Lay the columns out in ``width`` cells: narrow screens drop reasons, then stage."""
    rank = max(3, len(str(rows))) + 1
    mark, health, arr, renews, stage = 2, 8, 7, 10, 11
    rest = width - (rank + mark + health + arr + renews)
    if rest >= 16 + stage + 16:
        name = max(16, min(name_wanted, 32, rest - stage - 16))
        return Columns(rank, mark, name, health, arr, renews, stage, rest - stage - name)
    if rest >= 16 + stage:
        return Columns(rank, mark, rest - stage, health, arr, renews, stage, 0)
    return Columns(rank, mark, max(4, rest), health, arr, renews, 0, 0)


class AttentionList(ScrollView, can_focus=True):
    """Ranked accounts with a cursor and marks; posts Highlighted / Selected / MarksChanged."""

    BINDINGS: ClassVar[list[BindingType]] = [*LIST_BINDINGS]
    COMPONENT_CLASSES = {
        "attention-list--header",
        "attention-list--cursor",
        "attention-list--marked",
        "attention-list--band-green",
        "attention-list--band-yellow",
        "attention-list--band-red",
        "attention-list--trend-up",
        "attention-list--trend-down",
        "attention-list--opportunity",
        "attention-list--chip",
        "attention-list--soon",
        "attention-list--muted",
        "attention-list--match",
    }

    # repaint=False: watch_cursor repaints the two rows that change, not the whole list.
    cursor: reactive[int] = reactive(0, always_update=True, init=False, repaint=False)

    @dataclass
    class Highlighted(Message):
        """The cursor is on ``item`` (None when the list is empty)."""

        item: AttentionItem | None

    @dataclass
    class Selected(Message):
        """Enter (or a double click) on ``item``."""

        item: AttentionItem

    @dataclass
    class MarksChanged(Message):
        """The set of marked accounts changed."""

        count: int

    def __init__(self, today: date, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.today = today
        self._pass: tuple[int, Style] | None = None  # (width, base style) while rendering
        self._paints: dict[tuple[str, ...], Style] = {}  # resolved styles of one render pass
        self.rows: list[AttentionItem] = []
        self.marked: set[str] = set()
        self._index: dict[str, int] = {}
        self._name_wanted = 28
        # Rendered lines, keyed by everything that changes them (Toolong keeps a small cache too).
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(256)
        self._version = 0
        self.empty_text = "No accounts to show."
        self.sort = "priority"  # one of SORTS

    # -- data -----------------------------------------------------------------------------

    def set_rows(
        self,
        rows: list[AttentionItem],
        keep: str | None = None,
        name_width: int | None = None,
        announce: bool = True,
    ) -> None:
        """Replace the rows; keep the cursor on account ``keep`` when it is still listed.

        ``name_width`` is ``name_width(rows)`` when the caller measured it already (in a worker:
        ten thousand names take a tenth of a second). ``announce=False``: the rows are the same
        data, only more of it, so the cursor staying on its account is not news.
        """
        previous = self.current.account_id if self.current else None
        if self.sort != "priority":  # the rows come ranked: a stable sort keeps ties so
            rows = sorted(rows, key=sort_key(self.sort))
        self.rows = rows
        self._version += 1
        self._index = {row.account_id: i for i, row in enumerate(rows)}
        self._name_wanted = name_width_of(rows) if name_width is None else name_width
        target = keep or previous
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        new_cursor = max(
            0, self._index.get(target, min(self.cursor, len(rows) - 1)) if target else 0
        )
        if not announce and new_cursor < len(rows) and rows[new_cursor].account_id == previous:
            # The same account under the cursor, its data unchanged: no Highlighted message.
            self.set_reactive(AttentionList.cursor, new_cursor)
            self._scroll_cursor_into_view()
        else:
            self.cursor = new_cursor
        self.refresh()

    def replace_row(self, account_id: str, row: AttentionItem | None) -> None:
        """Update one account's row in place (None removes it, e.g. after a snooze)."""
        i = self._index.get(account_id)
        if i is None:
            return
        self._version += 1
        if row is None:
            del self.rows[i]
            self.marked.discard(account_id)
            self._index = {r.account_id: n for n, r in enumerate(self.rows)}
            self.virtual_size = Size(self.size.width, len(self.rows) + 1)
            self.cursor = min(self.cursor, max(0, len(self.rows) - 1))
        else:
            self.rows[i] = row
        self.refresh()

    def rerank_row(self, account_id: str, row: AttentionItem | None) -> bool:
        """Move one account's fresh row to its ranked place (None removes it), the cursor
        staying on the account it was on; False when the account is not listed."""
        i = self._index.get(account_id)
        if i is None:
            return False
        if row is None:
            self.replace_row(account_id, None)
            return True
        previous = self.current.account_id if self.current else None
        del self.rows[i]
        key = sort_key(self.sort)
        j = bisect.bisect_left(self.rows, key(row), key=key)
        self.rows.insert(j, row)
        # Only the rows from the old place to the new one changed: re-index and repaint those
        # (the whole book's index and the whole list took milliseconds of UI thread each).
        first, last = min(i, j), max(i, j)
        for n in range(first, last + 1):
            self._index[self.rows[n].account_id] = n
        if previous is not None:
            # Same account under the cursor: no Highlighted message, no second detail read.
            self.set_reactive(AttentionList.cursor, self._index.get(previous, self.cursor))
            self._scroll_cursor_into_view()
        self._refresh_rows(first, last)
        return True

    def set_sort(self, sort: str) -> None:
        """Order the rows by ``sort`` (one of SORTS), the cursor staying on its account."""
        self.sort = sort
        previous = self.current.account_id if self.current else None
        self.rows.sort(key=sort_key(sort))
        self._version += 1
        self._index = {row.account_id: i for i, row in enumerate(self.rows)}
        if previous is not None:
            # The same account under the cursor: no Highlighted message, no detail read.
            self.set_reactive(AttentionList.cursor, self._index[previous])
            self._scroll_cursor_into_view()
        self.refresh()

    @property
    def current(self) -> AttentionItem | None:
        """The highlighted row."""
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    def marked_ids(self) -> list[str]:
        """Marked accounts in rank order."""
        return [r.account_id for r in self.rows if r.account_id in self.marked]

    def index_of(self, account_id: str) -> int | None:
        """The row index of an account, if listed."""
        return self._index.get(account_id)

    # -- cursor ---------------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.rows) - 1)) if self.rows else 0

    def watch_cursor(self, old: int, new: int) -> None:
        top = self.scroll_offset.y
        self._scroll_cursor_into_view()
        if self.scroll_offset.y == top:  # not scrolled: only the two cursor rows changed
            self._refresh_rows(old, old)
            self._refresh_rows(new, new)
        else:
            self.refresh()
        self.post_message(self.Highlighted(self.current))

    def _refresh_rows(self, first: int, last: int) -> None:
        """Repaint rows ``first``..``last`` (row i is virtual line i + 1, under the header)."""
        self.refresh_lines(first + 1, last - first + 1)

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self._scroll_cursor_into_view()

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_page_down(self) -> None:
        self.cursor += self._page

    def action_page_up(self) -> None:
        self.cursor -= self._page

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = len(self.rows) - 1

    def action_toggle_mark(self) -> None:
        item = self.current
        if item is None:
            return
        if item.account_id in self.marked:
            self.marked.discard(item.account_id)
        else:
            self.marked.add(item.account_id)
        self.post_message(self.MarksChanged(len(self.marked)))
        self.cursor += 1

    def action_mark_all(self) -> None:
        """Mark every row in view (the current filter/segment); again to unmark them all."""
        ids = {r.account_id for r in self.rows}
        if ids and ids <= self.marked:
            self.marked -= ids
        else:
            self.marked |= ids
        self.refresh()
        self.post_message(self.MarksChanged(len(self.marked)))

    def clear_marks(self) -> None:
        """Forget every mark."""
        self.marked.clear()
        self.refresh()
        self.post_message(self.MarksChanged(0))

    async def _on_click(self, event: Click) -> None:
        index = round(self.scroll_y) + event.y - 1
        if event.y == 0 or not 0 <= index < len(self.rows):
            return
        if index == self.cursor and event.chain >= 2:
            self.post_message(self.Selected(self.rows[index]))
        self.cursor = index

    # -- rendering ------------------------------------------------------------------------

    def _style(self, *names: str) -> Style:
        """The style of text drawn with these components, later ones on top of earlier ones.

        Every colour is resolved as Textual resolves a widget's own: a translucent background
        (Textual's default unfocused cursor, primary at 30%) is blended over the list's
        background and a translucent or ``auto`` text colour (its ``$text-muted``, "auto 60%")
        over the background it lands on. Textual's partial component styles pass such colours
        through opaque, which drew the cursor in full primary and muted text in white.
        """
        if self._pass is None:  # outside a render pass: nothing to share
            return self._resolve(names)
        style = self._paints.get(names)
        if style is None:
            style = self._paints[names] = self._resolve(names)
        return style

    def _resolve(self, names: tuple[str, ...]) -> Style:
        _, _, background, color = self.colors
        auto_alpha: float | None = None
        text_style = Style()
        for name in names:
            styles = self.get_component_styles(f"attention-list--{name}")
            if styles.has_rule("background"):
                background += styles.background
            if styles.has_rule("color"):
                color = styles.color
                auto_alpha = color.a if styles.auto_color else None
            text_style += styles.text_style
        if auto_alpha is not None:
            color = background.get_contrast_text(auto_alpha)
        return text_style + Style(
            color=(background + color).rich_color, bgcolor=background.rich_color
        )

    def render_lines(self, crop: Region) -> list[Strip]:
        # The width and base style are the same for every line of one pass; read per line,
        # they cost ~0.5 ms each (scrollbar gutter and style lookups), half of a line's time.
        self._pass = (self.scrollable_content_region.width, self.rich_style)
        self._paints = {}  # a pass sees the styles (theme, focus) of its moment
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    def render_line(self, y: int) -> Strip:
        width, base = self._pass or (self.scrollable_content_region.width, self.rich_style)
        cols = columns_for(width, len(self.rows), self._name_wanted)
        if y == 0:
            return self._header(cols, width, base)
        index = round(self.scroll_y) + y - 1
        if not self.rows:
            if y == 1:
                text = fit("  " + self.empty_text, width)
                return Strip([Segment(text, base + self._style("muted"))], width)
            return Strip.blank(width, base)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        item = self.rows[index]
        key = (
            self._version,
            index,
            item,  # a row reranked in place is a new item at its index
            index == self.cursor,
            item.account_id in self.marked,
            width,
            self.has_focus,
            self.app.theme,
        )
        strip = self._lines.get(key)
        if strip is None:
            strip = self._lines[key] = self._row(index, cols, width, base)
        return strip

    def _header(self, cols: Columns, width: int, base: Style) -> Strip:
        arrow = {"arr": "↓", "renewal": "↑", "health": "↑", "last_touch": "↑"}.get(self.sort, "")
        on = self.sort
        parts = [
            "#".rjust(cols.rank - 1) + " ",
            " " * cols.mark,
            fit("Account" + (" · touch↑" if on == "last_touch" else ""), cols.name),
            fit("Health" + (arrow if on == "health" else ""), cols.health),
            fit("ARR" + (arrow if on == "arr" else ""), cols.arr - 1).rjust(cols.arr - 1) + " ",
            fit(" Renews" + (arrow if on == "renewal" else ""), cols.renews),
        ]
        if cols.stage:
            parts.append(fit("Stage", cols.stage))
        if cols.chips:
            parts.append(fit("Why", cols.chips))
        style = base + self._style("header")
        return Strip([Segment(fit("".join(parts), width), style)], width)

    def _row(self, index: int, cols: Columns, width: int, base: Style) -> Strip:
        item = self.rows[index]
        is_cursor = index == self.cursor
        is_marked = item.account_id in self.marked
        # The row's layers, bottom up; each piece of text adds its own colour on top.
        layers: tuple[str, ...] = ()
        if is_marked:
            layers += ("marked",)
        if is_cursor:
            layers += ("cursor",)

        def paint(*names: str) -> Style:
            return base + self._style(*layers, *names)

        row_style = paint()
        muted = paint("muted")
        segs: list[Segment] = [
            Segment(f"{index + 1}".rjust(cols.rank - 1) + " ", muted),
            Segment("✓ " if is_marked else "  ", paint("marked")),
        ]
        name = clean(item.name) or clean(item.domain) or item.account_id
        if item.opportunity:
            segs.append(Segment("★ ", paint("opportunity")))
            segs.append(Segment(fit(name, cols.name - 3) + " ", row_style))
        else:
            segs.append(Segment(fit(name, cols.name - 1) + " ", row_style))
        band = item.band or ""
        band_style = paint(f"band-{band}") if band else muted
        symbol = BAND_SYMBOL.get(band, "·")
        health = "—" if item.health is None else str(item.health)
        segs.append(Segment(f"{symbol} {health:>3} ", band_style))
        arrow = trend_arrow(item.trend)
        trend_style = row_style
        if arrow == "↑":
            trend_style = paint("trend-up")
        elif arrow == "↓":
            trend_style = paint("trend-down")
        segs.append(Segment(fit(arrow, cols.health - 6), trend_style))
        segs.append(Segment(money(item.arr).rjust(cols.arr - 1)[: cols.arr - 1] + " ", row_style))
        days = renews_days(item.renewal_date, self.today)
        soon = days is not None and days <= 60
        segs.append(
            Segment(
                fit(" " + renews_in(item.renewal_date, self.today), cols.renews),
                paint("soon") if soon else row_style,
            )
        )
        if cols.stage:
            segs.append(Segment(fit(stage_title(item.stage), cols.stage), row_style))
        if cols.chips:
            segs.extend(self._chips(item, cols.chips, paint))
        return Strip(segs).crop_extend(0, width, row_style)

    def _chips(self, item: AttentionItem, width: int, paint: Callable[..., Style]) -> list[Segment]:
        # Each chip is one or more pieces (a filter's match picks out the matched words).
        chips: list[list[tuple[str, Style]]] = []
        chip_style = paint("chip")
        snoozed = snoozed_chip(item)
        if snoozed:
            chips.append([(snoozed, paint("soon"))])
        if item.match:
            match = paint("match")
            chips.append(
                [
                    (clean(piece, 80), match if hit else chip_style)
                    for piece, hit in match_parts(item.match)
                ]
            )
        if item.opportunity:
            chips.append([(OPPORTUNITY_CHIP, paint("opportunity"))])
        for chip in item.reasons:
            shown = list_chip(clean(chip, 60))
            if shown:
                chips.append([(shown, chip_style)])
        segs: list[Segment] = []
        used = 0
        pieces = [
            (" · " + text if n and not k else text, style)
            for n, chip in enumerate(chips)
            for k, (text, style) in enumerate(chip)
        ]
        for piece, style in pieces:
            if used + cell_len(piece) > width:
                room = width - used
                if room > 1:
                    segs.append(Segment(fit(piece, room), style))
                    used = width
                break
            segs.append(Segment(piece, style))
            used += cell_len(piece)
        if used < width:
            segs.append(Segment(" " * (width - used), paint()))
        return segs
