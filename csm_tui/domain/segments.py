"""Segments: saved dynamic filters over stage, tier, band, renewal, inactivity, drops, owner, text.

Every criterion left out matches everything; the ones given must all hold. Built-in segments come
first; one from the settings with the same name replaces the built-in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from csm_tui.domain.vocabulary import RED, YELLOW


@dataclass(frozen=True, slots=True)
class Segment:
    """A saved dynamic filter (mirrors config's SegmentSetting)."""

    name: str
    stage: tuple[str, ...] = ()
    tier: tuple[str, ...] = ()
    band: tuple[str, ...] = ()
    renewal_within_days: int | None = None
    inactive_days: int | None = None  # no touch for at least this many days
    health_dropped: bool | None = None
    opportunity: bool | None = None
    owner: str = ""
    text: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class SegmentView:
    """What a segment looks at of one scored account."""

    name: str
    domain: str
    owner: str
    stage: str
    tier: str
    band: str | None
    renewal_date: date | None
    last_touch: date | None
    dropped: bool
    opportunity: bool


BUILT_IN: tuple[Segment, ...] = (
    Segment(
        "Renewals at risk",
        band=(YELLOW, RED),
        renewal_within_days=90,
        description="renewing within 90 days with health below green",
    ),
    Segment(
        "Going dark",
        health_dropped=True,
        inactive_days=30,
        description="health fell over 4 weeks and no touch for 30+ days",
    ),
    Segment(
        "Expansion-ready",
        opportunity=True,
        description="seats nearly full or usage up 30%, with green health",
    ),
    Segment(
        "Onboarding stalled",
        stage=("Onboarding",),
        band=(YELLOW, RED),
        description="not activated yet and health below green",
    ),
)


def all_segments(custom: Iterable[Segment] = ()) -> list[Segment]:
    """Built-in segments, then custom ones; a custom one replaces a built-in of the same name."""
    found: dict[str, Segment] = {s.name.casefold(): s for s in BUILT_IN}
    for seg in custom:
        found[seg.name.casefold()] = seg
    return list(found.values())


def find_segment(name: str, segments: Sequence[Segment]) -> Segment | None:
    """The segment called ``name`` (case-insensitive), or None."""
    wanted = name.strip().casefold()
    return next((s for s in segments if s.name.casefold() == wanted), None)


def _casefold_in(value: str | None, options: Sequence[str]) -> bool:
    return (value or "").casefold() in {o.casefold() for o in options}


def segment_matches(segment: Segment, view: SegmentView, today: date) -> bool:
    """Does the account meet every criterion the segment sets?"""
    if segment.stage and not _casefold_in(view.stage, segment.stage):
        return False
    if segment.tier and not _casefold_in(view.tier, segment.tier):
        return False
    if segment.band and not _casefold_in(view.band, segment.band):
        return False
    if segment.renewal_within_days is not None:
        if view.renewal_date is None:
            return False
        days = (view.renewal_date - today).days
        if not 0 <= days <= segment.renewal_within_days:
            return False
    if (
        segment.inactive_days is not None
        and view.last_touch is not None
        and (today - view.last_touch).days < segment.inactive_days
    ):
        return False
    if segment.health_dropped is not None and view.dropped != segment.health_dropped:
        return False
    if segment.opportunity is not None and view.opportunity != segment.opportunity:
        return False
    if segment.owner and segment.owner.casefold() not in view.owner.casefold():
        return False
    if segment.text:
        needle = segment.text.casefold()
        if needle not in view.name.casefold() and needle not in view.domain.casefold():
            return False
    return True
