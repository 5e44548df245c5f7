"""Cohort retention matrices: by contract-start month (logo and revenue), or from activity rows.

A matrix has one row per cohort (a month, "YYYY-MM") and one cell per month since: cell ``k`` is
month ``cohort + k``. Month 0 is 100% by definition; cells of months that have not begun yet (or,
for activity data, lie past the last month in the data) are ``None``, never 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from csm_tui.domain.metrics import AccountArr

Cell = float | int | None


def month_index(day: date) -> int:
    """Months since year 0: consecutive months have consecutive indexes."""
    return day.year * 12 + day.month - 1


def month_label(index: int) -> str:
    """ "YYYY-MM" for a month index."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_end(index: int) -> date:
    """The last day of a month index."""
    following = index + 1
    return date(following // 12, following % 12 + 1, 1) - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CohortRow:
    """One cohort: its month, its members, and one cell per month since it began."""

    cohort: str
    size: int
    cells: tuple[Cell, ...]
    starting_arr: float | None = None  # revenue matrices: what 100% stands for

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON data."""
        row: dict[str, Any] = {"cohort": self.cohort, "size": self.size, "cells": list(self.cells)}
        if self.starting_arr is not None:
            row["starting_arr"] = self.starting_arr
        return row


@dataclass(frozen=True, slots=True)
class CohortMatrix:
    """Cohort rows, oldest first, all ``width`` cells long (future cells are ``None``)."""

    rows: tuple[CohortRow, ...] = ()
    counts: bool = False  # cells are counts of members instead of shares

    @property
    def width(self) -> int:
        """How many month columns the matrix has."""
        return max((len(row.cells) for row in self.rows), default=0)

    def to_json(self) -> list[dict[str, Any]]:
        """The rows as plain JSON data."""
        return [row.to_json() for row in self.rows]


def contract_cohorts(
    accounts: Iterable[AccountArr], today: date, since: date | None = None
) -> tuple[CohortMatrix, CohortMatrix]:
    """Logo and revenue retention by the month each contract started.

    Logo cell k: share of the cohort still a customer at the end of month k (or today, for the
    month in progress). Revenue cell k: share of the cohort's starting ARR (each account's ARR
    when its contract started) still kept then; expansion is not counted, so it stays 0..1 like
    GRR. Only cohorts from ``since``'s month to today's are shown.
    """
    current = month_index(today)
    first = month_index(since) if since is not None else None
    cohorts: dict[int, list[tuple[AccountArr, date]]] = defaultdict(list)
    for account in accounts:
        started = account.started
        if started is None or started > today:
            continue
        index = month_index(started)
        if first is None or index >= first:
            cohorts[index].append((account, started))
    if not cohorts:
        return CohortMatrix(), CohortMatrix()
    width = current - min(cohorts) + 1
    logo_rows: list[CohortRow] = []
    revenue_rows: list[CohortRow] = []
    for index in sorted(cohorts):
        members = cohorts[index]
        bases = [account.arr_on(started) or 0.0 for account, started in members]
        starting = sum(bases)
        logo: list[Cell] = []
        revenue: list[Cell] = []
        for k in range(width):
            month = index + k
            if month > current:
                logo.append(None)
                revenue.append(None)
                continue
            if k == 0:
                logo.append(1.0)
                revenue.append(1.0 if starting > 0 else None)
                continue
            seen_on = min(month_end(month), today)
            kept_accounts = 0
            kept_arr = 0.0
            for (account, _), base in zip(members, bases, strict=True):
                if account.churned_on is not None and account.churned_on <= seen_on:
                    continue
                kept_accounts += 1
                kept_arr += min(account.arr_on(seen_on) or 0.0, base)
            logo.append(kept_accounts / len(members))
            revenue.append(kept_arr / starting if starting > 0 else None)
        label = month_label(index)
        logo_rows.append(CohortRow(label, len(members), tuple(logo)))
        revenue_rows.append(CohortRow(label, len(members), tuple(revenue), starting_arr=starting))
    return CohortMatrix(tuple(logo_rows)), CohortMatrix(tuple(revenue_rows))


def activity_cohorts(
    rows: Iterable[tuple[Hashable, date]], *, counts: bool = False, through: date | None = None
) -> CohortMatrix:
    """Logo retention from activity rows ``(id, day)``: who is active in each month since the first.

    Cohort = the month of an id's first row; cell k = share (or count, with ``counts``) of the
    cohort with at least one row in month k. Months after ``through`` (default: the last month in
    the data) are ``None``.
    """
    months: dict[Hashable, set[int]] = defaultdict(set)
    for key, day in rows:
        months[key].add(month_index(day))
    if not months:
        return CohortMatrix(counts=counts)
    last = month_index(through) if through is not None else max(max(m) for m in months.values())
    sizes: Counter[int] = Counter()
    active: dict[int, Counter[int]] = defaultdict(Counter)
    for seen in months.values():
        cohort = min(seen)
        sizes[cohort] += 1
        for month in seen:
            active[cohort][month - cohort] += 1
    cohorts = sorted(c for c in sizes if c <= last)
    if not cohorts:
        return CohortMatrix(counts=counts)
    width = last - cohorts[0] + 1
    out: list[CohortRow] = []
    for cohort in cohorts:
        size = sizes[cohort]
        cells: list[Cell] = []
        for k in range(width):
            if cohort + k > last:
                cells.append(None)
            else:
                n = active[cohort][k]
                cells.append(n if counts else n / size)
        out.append(CohortRow(month_label(cohort), size, tuple(cells)))
    return CohortMatrix(tuple(out), counts=counts)
