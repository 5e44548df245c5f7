"""Does the health score predict? Separation of leavers from stayers, by band and per component.

Plain data in, plain data out. An *outcome* is what happened to an account at one moment:

- **churned**: the account's ``churned_on`` day (the CRM's churn date);
- at a **renewal** that has passed (an anniversary of the renewal date, after the contract
  start) at least ``SETTLE_DAYS`` ago, the ARR in force the day before compared with the ARR
  ``SETTLE_DAYS`` later: **contracted** when it went down, **flat** when it stayed, **grew**
  when it rose. (A renewal of the last ``SETTLE_DAYS`` days waits: its new ARR may not be in.)

Churned and contracted accounts *left* (in whole or in part); flat and grown ones *stayed*. Each
account counts once, with its latest outcome in the period looked at.

The score of an outcome is the health the account had ``horizon`` days before it. How well the
scores separate the two groups is the ROC AUC: the chance that a stayer had the higher score than
a leaver, a tie counting half (the Mann-Whitney U statistic divided by the number of pairs). It is
computed from midranks in O(n log n). Its 95% interval is DeLong's (DeLong, DeLong and
Clarke-Pearson, 1988): nonparametric, it assumes nothing about the shape of the scores (Hanley and
McNeil's formula assumes exponential-like score distributions, which bounded 0-100 scores with many
ties are not), and its variance comes from the same midranks (Sun and Xu, 2014), so it costs no
more than the AUC; the interval is AUC ± 1.96 standard errors, clipped to [0, 1].

With fewer than ``MIN_EACH`` leavers or ``MIN_EACH`` stayers the figures are still given but
marked as too few to tell: the interval is then too wide to mean anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from csm_tui.domain.metrics import AccountArr
from csm_tui.domain.vocabulary import COMPONENTS, GREEN, RED, YELLOW

MIN_EACH = 10  # fewer leavers or stayers than this: too few outcomes to tell
SETTLE_DAYS = 30  # a renewal's new ARR is read this many days after it (the paperwork lands late)
Z_95 = 1.959964  # the normal quantile of a two-sided 95% interval
BANDS = (RED, YELLOW, GREEN)

CHURNED, CONTRACTED, FLAT, GREW = "churned", "contracted", "flat", "grew"
LEFT_KINDS = frozenset({CHURNED, CONTRACTED})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one account on ``day`` (``kind``: churned, contracted, flat, grew)."""

    account_id: str
    day: date
    kind: str

    @property
    def left(self) -> bool:
        """Churned or contracted: the account left, in whole or in part."""
        return self.kind in LEFT_KINDS


@dataclass(frozen=True, slots=True)
class Observation:
    """One outcome with the score to check (and, from the cache, the band and components)."""

    left: bool
    score: float
    band: str | None = None
    components: Mapping[str, float | None] = field(default_factory=dict)
    account_id: str = ""


@dataclass(frozen=True, slots=True)
class Separation:
    """How well a score separates stayers (higher is better) from leavers."""

    auc: float | None  # None without at least one leaver and one stayer
    low: float | None  # the 95% interval (DeLong)
    high: float | None
    leavers: int
    stayers: int

    @property
    def enough(self) -> bool:
        """At least MIN_EACH leavers and MIN_EACH stayers."""
        return self.leavers >= MIN_EACH and self.stayers >= MIN_EACH

    def to_json(self) -> dict[str, object]:
        """Plain JSON data."""
        return {
            "auc": self.auc,
            "ci95": None if self.low is None else [self.low, self.high],
            "leavers": self.leavers,
            "stayers": self.stayers,
            "enough": self.enough,
        }


@dataclass(frozen=True, slots=True)
class BandRate:
    """The accounts of one band and how many of them left."""

    band: str
    accounts: int
    leavers: int

    @property
    def rate(self) -> float | None:
        """Leavers / accounts, or None for an empty band."""
        return self.leavers / self.accounts if self.accounts else None

    def to_json(self) -> dict[str, object]:
        """Plain JSON data."""
        return {
            "band": self.band,
            "accounts": self.accounts,
            "leavers": self.leavers,
            "rate": self.rate,
        }


@dataclass(frozen=True, slots=True)
class ComponentCheck:
    """One component's sub-score as a predictor (accounts without its data left out)."""

    component: str
    separation: Separation


@dataclass(frozen=True, slots=True)
class ScoreCheck:
    """The whole check: the score, its bands and each component."""

    overall: Separation
    bands: tuple[BandRate, ...] = ()
    components: tuple[ComponentCheck, ...] = ()  # strongest (highest AUC) first

    @property
    def enough(self) -> bool:
        """Enough outcomes to tell (see MIN_EACH)."""
        return self.overall.enough

    def verdict(self) -> str:
        """One plain sentence about what the figures allow one to say."""
        s = self.overall
        if not s.enough:
            return (
                f"Too few outcomes to tell: {s.leavers} left and {s.stayers} stayed "
                f"(at least {MIN_EACH} of each needed)."
            )
        assert s.auc is not None and s.low is not None and s.high is not None
        if s.low > 0.5:
            strength = "strongly" if s.auc >= 0.8 else "usefully" if s.auc >= 0.7 else "weakly"
            return f"The score {strength} separates leavers (lower) from stayers."
        if s.high < 0.5:
            return "Leavers scored higher than stayers: the score points the wrong way."
        return "The score does not separate leavers from stayers better than chance."

    def to_json(self) -> dict[str, object]:
        """Plain JSON data."""
        return {
            **self.overall.to_json(),
            "verdict": self.verdict(),
            "bands": [b.to_json() for b in self.bands],
            "components": [
                {"component": c.component, **c.separation.to_json()} for c in self.components
            ],
        }


# -- outcomes -------------------------------------------------------------------------------


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def account_outcome(
    account: AccountArr,
    renewal_date: date | None,
    since: date,
    today: date,
) -> Outcome | None:
    """The account's latest outcome in ``[since, today]``, or None (see the module docstring).

    Past renewals are the yearly anniversaries before ``renewal_date`` (the next one the CRM
    holds); without a renewal date, the anniversaries of the contract start.
    """
    churned = account.churned_on
    if churned is not None:
        return Outcome(account.account_id, churned, CHURNED) if since <= churned <= today else None
    started = account.started
    anchor = renewal_date
    if anchor is None:
        if started is None:
            return None
        anchor = _years_before(started, started.year - today.year - 1)  # a year after today's
    while anchor <= today:  # a renewal date the CRM did not roll forward: its anniversaries
        anchor = _years_before(anchor, -1)
    settled = today - timedelta(days=SETTLE_DAYS)  # a later renewal's ARR may not be in yet
    years = 1
    while True:
        day = _years_before(anchor, years)
        if day < since or (started is not None and day <= started):
            return None
        if day <= settled:
            break
        years += 1
    before = account.arr_on(day - timedelta(days=1))
    after = account.arr_on(day + timedelta(days=SETTLE_DAYS))
    if before is None or after is None:
        return None
    if after < before:
        kind = CONTRACTED
    elif after > before:
        kind = GREW
    else:
        kind = FLAT
    return Outcome(account.account_id, day, kind)


# -- the statistics -------------------------------------------------------------------------


def midranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of ``values`` with ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        i = j + 1
    return ranks


def separation(stayers: Sequence[float], leavers: Sequence[float]) -> Separation:
    """AUC (stayer above leaver, ties half) with DeLong's 95% interval."""
    m, n = len(stayers), len(leavers)
    if not m or not n:
        return Separation(None, None, None, n, m)
    together = midranks([*stayers, *leavers])
    within_stay, within_leave = midranks(stayers), midranks(leavers)
    # Per stayer: the share of leavers it beats (ties half); per leaver: the share of stayers
    # that beat it. The AUC is the mean of either.
    v10 = [(together[i] - within_stay[i]) / n for i in range(m)]
    v01 = [1 - (together[m + j] - within_leave[j]) / m for j in range(n)]
    auc = sum(v10) / m
    variance = _sample_variance(v10) / m + _sample_variance(v01) / n
    half = Z_95 * math.sqrt(max(variance, 0.0))
    return Separation(auc, max(0.0, auc - half), min(1.0, auc + half), n, m)


def _sample_variance(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def separation_of(observations: Iterable[tuple[float, bool]]) -> Separation:
    """``separation`` of (score, left) pairs."""
    stay: list[float] = []
    leave: list[float] = []
    for score, left in observations:
        (leave if left else stay).append(score)
    return separation(stay, leave)


def band_rates(observations: Iterable[Observation]) -> tuple[BandRate, ...]:
    """Accounts and leavers per band (red, yellow, green), observations without a band left out."""
    accounts = dict.fromkeys(BANDS, 0)
    leavers = dict.fromkeys(BANDS, 0)
    for o in observations:
        if o.band in accounts:
            accounts[o.band] += 1
            leavers[o.band] += o.left
    return tuple(BandRate(b, accounts[b], leavers[b]) for b in BANDS)


def score_check(observations: Sequence[Observation]) -> ScoreCheck:
    """The check of the score and of each component over ``observations``."""
    overall = separation_of((o.score, o.left) for o in observations)
    components: list[ComponentCheck] = []
    for name in COMPONENTS:
        pairs = [
            (value, o.left) for o in observations if (value := o.components.get(name)) is not None
        ]
        if pairs:
            components.append(ComponentCheck(name, separation_of(pairs)))
    components.sort(key=lambda c: (-(c.separation.auc or 0.0), c.component))
    return ScoreCheck(overall, band_rates(observations), tuple(components))
