"""What the action modals dismiss with: plain values the app turns into local actions.

The modals never write to the cache themselves; the app (which owns the database worker) takes a
draft and calls `csm_tui.store.actions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class TouchDraft:
    """A touch to log: ``occurred_at`` is in UTC; ``next_step_*`` are set together or not at all."""

    kind: str  # call / email / meeting / qbr / note (csm_tui.store.actions.TOUCH_KINDS)
    occurred_at: datetime
    contact_id: str | None
    summary: str
    sentiment: str | None  # positive / neutral / negative, or None
    next_step_title: str | None = None
    next_step_due: date | None = None


@dataclass(frozen=True)
class NextStepDraft:
    """A next step to plan."""

    title: str
    due: date | None


@dataclass(frozen=True)
class SnoozeDraft:
    """Hide an account until ``until`` (it comes back that day), with the reason why."""

    until: date
    reason: str
