"""The detail's "Why it moved" section: the health's change over a span, component by component.

Each line is one component whose points moved, the largest first, with its cause now and what
it was (``−10 Relationship  Last touch 41 days ago · was: Last touch 19 days ago``); the points
add up to the change in the heading line. The span (1, 4 or 13 weeks back) is cycled with m (the title's "(m)").
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from textual.content import Content

from csm_tui.ui.safe_text import clean

if TYPE_CHECKING:
    from csm_tui.domain.score_change import ScoreChange

INDENT = 6  # cells before a reason's second line and before what it was


def _title(weeks: int) -> Content:
    span = "1 week" if weeks == 1 else f"{weeks} weeks"
    return Content.assemble(
        ("Why it moved", "bold $secondary"), (f" · last {span} (m)", "$text-muted")
    )


def _signed(n: int) -> str:
    return f"−{-n}" if n < 0 else f"+{n}"


def _wrapped(text: str, width: int, first: int, indent: int) -> list[str]:
    """``text`` in lines of ``width`` cells: the first after ``first`` cells already used, the
    others after ``indent`` spaces (the indent included)."""
    lines = textwrap.wrap(
        text,
        width=max(width, first + 12),
        initial_indent="x" * first,
        subsequent_indent=" " * indent,
        break_on_hyphens=False,
    )
    if not lines:
        return [""]
    return [lines[0][first:], *lines[1:]]


def moves_content(
    change: ScoreChange | None,
    weeks: int,
    rows: int,
    width: int = 80,
    *,
    reading: bool = False,
) -> Content:
    """The section for ``change`` in ``width`` cells (None: nothing to explain, or not read yet
    when ``reading``): the change, then each component that moved, its words now and before."""
    lines: list[Content] = [_title(weeks)]
    if change is None:
        text = "  reading…" if reading else "  no score to compare with"
        lines.append(Content.styled(text, "$text-muted"))
        return Content("\n").join(lines)
    before = "—" if change.before is None else str(change.before)
    after = "—" if change.after is None else str(change.after)
    since = change.since.isoformat()
    if change.change == 0 and change.before == change.after:
        head = f"  Health {after}, unchanged since {since}"
    else:
        head = f"  Health {before} → {after} ({_signed(change.change)}) since {since}"
    lines.append(Content.styled(head, "bold"))
    moved = change.moved()
    for d in moved[:rows]:
        colour = "$band-red" if d.delta < 0 else "$band-green"
        why = clean(d.reason, 200) or "no reason recorded"
        if d.component == "unexplained":
            why = "the stored drivers do not add up to the health"
        points = f"  {_signed(d.delta):>3} "
        label = f"{d.label}: "
        first, *rest = _wrapped(why, width, len(points) + len(label), INDENT)
        parts: list[str | tuple[str, str]] = [
            (points, f"bold {colour}"),
            (label, "bold"),
            first,
        ]
        parts += [f"\n{line}" for line in rest]
        was = []
        if d.was:
            was.append(f"was: {clean(d.was, 160)}")
        if d.max_before != d.max_after:
            was.append(f"weight {d.max_before} → {d.max_after} of 100")
        if was:
            first_was, *more = _wrapped("; ".join(was), width, INDENT, INDENT)
            for line in [" " * INDENT + first_was, *more]:
                parts.append(("\n" + line, "$text-muted"))
        lines.append(Content.assemble(*parts))
    if len(moved) > rows:
        lines.append(Content.styled(f"  … {len(moved) - rows} more", "$text-muted"))
    if not moved:
        lines.append(Content.styled("  no component's points moved", "$text-muted"))
    return Content("\n").join(lines)
