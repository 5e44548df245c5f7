"""Segments: saved dynamic filters, built in and from the settings."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder

from csm_tui.config import SegmentSetting, Settings
from csm_tui.domain.segments import (
    BUILT_IN,
    Segment,
    SegmentView,
    all_segments,
    find_segment,
    segment_matches,
)
from csm_tui.store.attention import UnknownSegmentError, attention_list
from csm_tui.store.rescore import rescore

D = date(2026, 11, 23)


def view(**fields) -> SegmentView:
    base = dict(
        name="Acme",
        domain="acme.com",
        owner="jane@example.com Jane Doe",
        stage="Retention",
        tier="pooled",
        band="green",
        renewal_date=D + timedelta(days=200),
        last_touch=D - timedelta(days=3),
        dropped=False,
        opportunity=False,
    )
    base.update(fields)
    return SegmentView(**base)


def builtin(name: str) -> Segment:
    found = find_segment(name, BUILT_IN)
    assert found is not None
    return found


def test_renewals_at_risk_need_a_near_renewal_and_health_below_green() -> None:
    seg = builtin("Renewals at risk")
    soon = D + timedelta(days=40)
    assert segment_matches(seg, view(renewal_date=soon, band="yellow"), D)
    assert not segment_matches(seg, view(renewal_date=soon, band="green"), D)
    assert not segment_matches(seg, view(renewal_date=D + timedelta(days=120), band="red"), D)
    assert not segment_matches(seg, view(renewal_date=None, band="red"), D)


def test_going_dark_is_a_sustained_drop_with_no_touch_for_30_days() -> None:
    seg = builtin("going dark")  # names are case-insensitive
    assert segment_matches(seg, view(dropped=True, last_touch=D - timedelta(days=45)), D)
    assert segment_matches(seg, view(dropped=True, last_touch=None), D)
    assert not segment_matches(seg, view(dropped=True, last_touch=D - timedelta(days=10)), D)
    assert not segment_matches(seg, view(dropped=False, last_touch=None), D)


def test_expansion_ready_and_onboarding_stalled() -> None:
    assert segment_matches(builtin("Expansion-ready"), view(opportunity=True), D)
    assert not segment_matches(builtin("Expansion-ready"), view(), D)
    stalled = builtin("Onboarding stalled")
    assert segment_matches(stalled, view(stage="Onboarding", band="red"), D)
    assert not segment_matches(stalled, view(stage="Onboarding", band="green"), D)
    assert not segment_matches(stalled, view(stage="Adoption", band="red"), D)


def test_every_criterion_must_hold_and_empty_ones_match_all() -> None:
    seg = Segment("Mine", tier=("high-touch",), owner="jane", text="acm")
    assert segment_matches(Segment("All"), view(), D)
    assert segment_matches(seg, view(tier="high-touch"), D)
    assert not segment_matches(seg, view(tier="pooled"), D)
    assert not segment_matches(dataclasses.replace(seg, owner="sam"), view(tier="high-touch"), D)
    assert not segment_matches(dataclasses.replace(seg, text="globex"), view(tier="high-touch"), D)


def test_a_custom_segment_with_a_built_in_name_replaces_it() -> None:
    mine = Segment("Going dark", inactive_days=14)
    segments = all_segments([mine, Segment("Big ones", tier=("high-touch",))])
    assert find_segment("Going dark", segments) is mine
    assert [s.name for s in segments][-1] == "Big ones"
    assert len(segments) == len(BUILT_IN) + 1


def test_the_list_filters_by_a_segment_from_the_settings(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    cache.healthy("h1", name="Big Co", arr=90_000)
    for i in range(2, 6):
        cache.healthy(f"h{i}", arr=1_000 * i)
    cache.account("r1", name="Renewing Co", renews_in_days=30, arr=1_500)
    cache.usage("r1", scale={1: 0.2, 2: 0.2, 3: 0.2, 4: 0.2})
    rescore(db, settings, TODAY)
    settings.segments = [SegmentSetting(name="Top tier", tier=["high-touch"])]

    top = attention_list(db, settings, TODAY, segment="Top tier")
    assert sorted(r.name for r in top) == ["Account h5", "Big Co"]  # top 20% of 6 by ARR
    at_risk = attention_list(db, settings, TODAY, segment="Renewals at risk")
    assert [r.name for r in at_risk] == ["Renewing Co"]
    with pytest.raises(UnknownSegmentError) as err:
        attention_list(db, settings, TODAY, segment="Nope")
    assert "Known segments: Renewals at risk, Going dark" in str(err.value)
    assert "Top tier" in str(err.value) and err.value.exit_code == 2


def test_opportunities_rank_among_themselves_by_strength(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    # By risk, the small account renewing soon would come first; as an opportunity, the large
    # one with every seat taken and usage doubled is the stronger one.
    cache = CacheBuilder(db)
    growth = {ago: 2.0 for ago in range(1, 5)}
    cache.healthy("big", name="Big Co", arr=90_000, seats=10)
    cache.usage("big", scale=growth)
    cache.healthy("small", name="Small Co", arr=5_000, seats=40, renews_in_days=45)
    cache.usage("small", scale={ago: 1.8 for ago in range(1, 5)})
    for i in range(3):
        cache.healthy(f"h{i}", arr=20_000)
    rescore(db, settings, TODAY)

    everyone = [r.name for r in attention_list(db, settings, TODAY) if r.opportunity]
    assert everyone.index("Small Co") < everyone.index("Big Co")  # risk order
    ready = [r.name for r in attention_list(db, settings, TODAY, segment="Expansion-ready")]
    assert ready[:2] == ["Big Co", "Small Co"]
    strengths = dict(db.conn.execute("SELECT account_id, opportunity FROM scores").fetchall())
    assert 1 <= strengths["small"] < strengths["big"] <= 100
