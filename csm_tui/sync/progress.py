"""What a sync tells its caller while it runs (SyncProgress) and when it ends (SyncReport)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SyncProgress:
    """One step of a sync: ``done`` of ``total`` (None when unknown) items of one object."""

    stage: str  # push / crm / analytics / rescore
    object: str  # notes, companies, usage_weekly, ...
    done: int
    total: int | None
    message: str = ""


ProgressCallback = Callable[[SyncProgress], None]


@dataclass
class SyncReport:
    """What a sync did: pushed and failed outbox items, rows pulled per object, warnings."""

    pushed: int = 0
    push_failed: int = 0
    pulled: dict[str, int] = field(default_factory=dict)
    unmatched_groups: int = 0
    warnings: list[str] = field(default_factory=list)
    push_errors: list[str] = field(default_factory=list)
    already_enrolled: int = 0
    archived: int = 0
    left_book: int = 0
    rescored: bool = False
    requests: int = 0

    def add_pulled(self, obj: str, n: int) -> None:
        """Count ``n`` more rows pulled for ``obj``."""
        self.pulled[obj] = self.pulled.get(obj, 0) + n

    def summary(self) -> str:
        """One line for the command line and the app's status bar."""
        parts = [f"pushed {self.pushed}"]
        if self.push_failed:
            parts.append(f"{self.push_failed} failed to push")
        if self.already_enrolled:
            parts.append(f"{self.already_enrolled} already enrolled")
        rows = sum(self.pulled.values())
        parts.append(f"pulled {rows:,} rows")
        if self.unmatched_groups:
            parts.append(f"{self.unmatched_groups} analytics groups outside the book")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning{'s' if len(self.warnings) > 1 else ''}")
        return "Sync done: " + ", ".join(parts) + "."
