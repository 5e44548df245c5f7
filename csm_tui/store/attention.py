"""The attention list: the book ranked by priority, snoozed and archived accounts left out.

Read from the precomputed `scores` rows (rescore writes them) in a few set-based queries, filtered
by a segment and free text, ranked with deterministic ties (priority, then ARR, then name).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from csm_tui.config import Settings
from csm_tui.domain.history import health_dropped
from csm_tui.domain.models import week_start
from csm_tui.domain.segments import (
    Segment,
    SegmentView,
    all_segments,
    find_segment,
    segment_matches,
)
from csm_tui.errors import CsmError
from csm_tui.store.scoring_inputs import day


class UnknownSegmentError(CsmError):
    """The segment asked for does not exist; the message lists the known ones."""

    exit_code = 2


@dataclass(frozen=True)
class AttentionRow:
    """One account of the ranked list, with everything the list and its JSON show."""

    rank: int
    account_id: str
    name: str
    domain: str
    health: int | None
    band: str | None
    trend: int | None
    priority: float
    reasons: list[str]
    drivers: list[dict[str, Any]]
    stage: str | None
    stage_reason: str | None
    tier: str | None
    arr: float
    renewal_date: str | None
    owner: str
    opportunity: bool
    last_touch: str | None
    dropped: bool

    def as_json(self) -> dict[str, Any]:
        """The shape `csm-tui today --json` prints."""
        return {
            "rank": self.rank,
            "account_id": self.account_id,
            "name": self.name,
            "health": self.health,
            "band": self.band,
            "trend": self.trend,
            "priority": self.priority,
            "reasons": self.reasons,
            "drivers": self.drivers,
            "stage": self.stage,
            "stage_reason": self.stage_reason,
            "tier": self.tier,
            "arr": self.arr,
            "renewal_date": self.renewal_date,
            "owner": self.owner,
            "opportunity": self.opportunity,
        }


def segments_of(settings: Settings) -> list[Segment]:
    """Built-in segments and the ones in the settings."""
    return all_segments(
        Segment(
            name=s.name,
            stage=tuple(s.stage),
            tier=tuple(s.tier),
            band=tuple(s.band),
            renewal_within_days=s.renewal_within_days,
            inactive_days=s.inactive_days,
            health_dropped=s.health_dropped,
            opportunity=s.opportunity,
            owner=s.owner,
            text=s.text,
        )
        for s in settings.segments
    )


def resolve_segment(settings: Settings, name: str) -> Segment:
    """The segment called ``name``, or UnknownSegmentError listing the known ones."""
    known = segments_of(settings)
    found = find_segment(name, known)
    if found is None:
        names = ", ".join(s.name for s in known)
        raise UnknownSegmentError(f"Unknown segment {name!r}. Known segments: {names}")
    return found


def attention_list(
    db: sqlite_utils.Database,
    settings: Settings,
    today: date,
    segment: str | None = None,
    text: str | None = None,
    limit: int | None = None,
) -> list[AttentionRow]:
    """The ranked list as of ``today``: snoozed (until after today) and archived accounts out."""
    chosen = resolve_segment(settings, segment) if segment else None
    current = week_start(today)
    drop_weeks = settings.scoring.drop_weeks
    weeks = [current - timedelta(weeks=k) for k in (0, 1, drop_weeks)]
    history: dict[str, dict[date, int]] = {}
    for acc, week, health in db.conn.execute(
        "SELECT account_id, week, health FROM score_history WHERE week IN (?, ?, ?)",
        [w.isoformat() for w in weeks],
    ):
        when = day(week)
        if when is not None:
            history.setdefault(acc, {})[when] = int(health)
    rows = db.conn.execute(
        "SELECT s.account_id, a.name, COALESCE(a.domain, ''), s.health, s.band, s.trend, "
        "s.priority, s.reasons, s.drivers, s.stage, s.stage_reason, s.tier, COALESCE(a.arr, 0), "
        "a.renewal_date, COALESCE(o.email, ''), COALESCE(o.first_name, '') || ' ' || "
        "COALESCE(o.last_name, ''), s.opportunity, t.last_touch "
        "FROM scores s JOIN accounts a ON a.id = s.account_id "
        "LEFT JOIN owners o ON o.id = a.owner_id "
        "LEFT JOIN snoozes z ON z.account_id = s.account_id AND z.until > ? "
        "LEFT JOIN (SELECT account_id, MAX(occurred_at) AS last_touch FROM touches "
        "GROUP BY account_id) t ON t.account_id = s.account_id "
        "WHERE a.archived = 0 AND z.account_id IS NULL",
        [today.isoformat()],
    ).fetchall()
    rows.sort(key=lambda r: (-(r[6] or 0.0), -(r[12] or 0.0), (r[1] or "").casefold(), r[0]))
    if chosen is not None and chosen.opportunity:
        # Opportunities rank among themselves, by their strength (scores.opportunity, 1-100):
        # by risk, the weakest opportunity would come first. Stable: ties keep the risk order.
        rows.sort(key=lambda r: -(r[16] or 0))
    needle = (text or "").strip().casefold()
    result: list[AttentionRow] = []
    for r in rows:
        owner_text = f"{r[14]} {r[15].strip()}".strip()
        if needle and not any(needle in (v or "").casefold() for v in (r[1], r[2], owner_text)):
            continue
        last_touch = day(r[17])
        dropped = health_dropped(
            history.get(r[0], {}),
            current,
            r[3],
            drop_weeks,
            settings.scoring.drop_points,
        )
        if chosen is not None:
            view = SegmentView(
                name=r[1] or "",
                domain=r[2],
                owner=owner_text,
                stage=r[9] or "",
                tier=r[11] or "",
                band=r[4],
                renewal_date=day(r[13]),
                last_touch=last_touch,
                dropped=dropped,
                opportunity=bool(r[16]),
            )
            if not segment_matches(chosen, view, today):
                continue
        result.append(
            AttentionRow(
                rank=len(result) + 1,
                account_id=r[0],
                name=r[1] or "",
                domain=r[2],
                health=r[3],
                band=r[4],
                trend=r[5],
                priority=float(r[6] or 0.0),
                reasons=list(json.loads(r[7] or "[]")),
                drivers=list(json.loads(r[8] or "[]")),
                stage=r[9],
                stage_reason=r[10],
                tier=r[11],
                arr=float(r[12] or 0.0),
                renewal_date=r[13],
                owner=r[14] or r[15].strip(),
                opportunity=bool(r[16]),
                last_touch=last_touch.isoformat() if last_touch else None,
                dropped=dropped,
            )
        )
        if limit is not None and len(result) >= limit:
            break
    return result
