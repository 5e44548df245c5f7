"""Attention priority: risk × value × urgency × drop × neglect, with chips naming the biggest."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder

from csm_tui.config import Settings
from csm_tui.domain.ranking import PriorityInput, arr_share, attention, urgency
from csm_tui.store.actions import snooze
from csm_tui.store.attention import attention_list
from csm_tui.store.rescore import rescore

D = date(2026, 11, 23)


def item(**fields) -> PriorityInput:
    base = dict(
        health=80,
        band="green",
        trend=0,
        renewal_date=None,
        last_touch=D - timedelta(days=5),
        cadence_days=30,
        arr_share=0.5,
    )
    base.update(fields)
    return PriorityInput(**base)


def test_priority_follows_the_design_formula() -> None:
    p = attention(
        item(
            health=41,
            band="yellow",
            trend=-17,
            renewal_date=D + timedelta(days=23),
            last_touch=D - timedelta(days=31),
            cadence_days=14,
            arr_share=1.0,
        ),
        D,
    )
    risk, momentum, urgent, neglect = 59, 85, 100, 100 * (31 - 14) / 14
    expected = 1.0 * (0.45 * risk + 0.20 * momentum + 0.20 * urgent + 0.15 * min(100, neglect))
    assert p.value == round(min(100, expected), 2)
    # A renewal within 30 days is always said first; the rest by their weight.
    assert p.chips[:3] == ("Renews in 23 d", "Health 41 (−17 in 4 wk)", "No touch 31 d")


def test_each_worse_factor_raises_priority() -> None:
    base = attention(item(), D).value
    assert attention(item(health=50, band="yellow"), D).value > base
    assert attention(item(trend=-12), D).value > base
    assert attention(item(renewal_date=D + timedelta(days=20)), D).value > base
    assert attention(item(last_touch=D - timedelta(days=50)), D).value > base
    assert attention(item(arr_share=0.9), D).value > base
    overdue = attention(item(overdue_steps=1, oldest_overdue_days=4), D)
    assert overdue.value == round(base + 10, 2) and "Step overdue 4 d" in overdue.chips


def test_urgency_steps_at_30_60_90_days() -> None:
    assert [urgency(D + timedelta(days=d), D) for d in (0, 30, 31, 60, 90, 91, -1)] == [
        100,
        100,
        70,
        70,
        40,
        0,
        0,
    ]


def test_a_win_back_account_is_not_daily_attention() -> None:
    p = attention(item(health=10, band="red", stage="Win-back"), D)
    assert p.value == 0 and p.chips == ("Win-back",)


def test_the_cause_and_opportunity_are_chips_too() -> None:
    p = attention(item(health=35, band="red", cause_chip="Usage −60% vs 8 wk"), D)
    assert "Usage −60% vs 8 wk" in p.chips
    green = attention(item(opportunity=True), D)
    assert green.chips[-1] == "Expansion-ready"


def test_arr_share_is_the_percentile_in_the_book() -> None:
    book = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert arr_share(5.0, book) == 1.0 and arr_share(1.0, book) == 0.0
    assert arr_share(3.0, book) == 0.5


# -- the stored list -------------------------------------------------------------------------


def at_risk(cache: CacheBuilder, account_id: str, **account) -> None:
    cache.account(account_id, renews_in_days=20, **account)
    cache.usage(account_id, scale={1: 0.2, 2: 0.2, 3: 0.3, 4: 0.3})
    cache.touch(account_id, 120)
    cache.survey(account_id, 2, 10)


def test_the_list_ranks_risk_first_breaks_ties_by_arr_then_name_and_hides_snoozed(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    for i in range(4):
        cache.healthy(f"h{i}")
    at_risk(cache, "r1", name="Zeta", arr=20_000)
    at_risk(cache, "r2", name="Alpha", arr=20_000)
    at_risk(cache, "gone", name="Archived Co", archived=1)
    rescore(db, settings, TODAY)
    # Make r1 and r2 exactly equal in priority: ties break by ARR, then by name.
    db.execute("UPDATE scores SET priority = 50 WHERE account_id IN ('r1', 'r2')")

    ranked = attention_list(db, settings, TODAY)
    assert [r.account_id for r in ranked[:2]] == ["r2", "r1"]
    assert "gone" not in {r.account_id for r in ranked}
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))

    db.execute("UPDATE accounts SET arr = 30000 WHERE id = 'r1'")
    assert [r.account_id for r in attention_list(db, settings, TODAY)[:2]] == ["r1", "r2"]

    snooze(db, account_id="r1", until=TODAY + timedelta(days=3))
    assert "r1" not in {r.account_id for r in attention_list(db, settings, TODAY)}
    back = attention_list(db, settings, TODAY + timedelta(days=3))
    assert "r1" in {r.account_id for r in back}


def test_an_at_risk_account_says_why_in_chips(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    for i in range(3):
        cache.healthy(f"h{i}")
    at_risk(cache, "r1")
    rescore(db, settings, TODAY)
    top = attention_list(db, settings, TODAY, limit=1)[0]
    assert top.account_id == "r1" and top.band == "red"
    assert top.reasons[0] == "Renews in 20 d"
    assert any(c.startswith("Usage −") for c in top.reasons)
    assert any(c == "No touch 120 d" for c in top.reasons)


def test_text_filter_matches_name_domain_and_owner(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    cache.healthy("h1", name="Globex")
    cache.healthy("h2", name="Initech", owner_id="o2")
    cache.owner("o2", "sam@example.com")
    rescore(db, settings, TODAY)
    assert [r.name for r in attention_list(db, settings, TODAY, text="glob")] == ["Globex"]
    assert [r.name for r in attention_list(db, settings, TODAY, text="SAM@")] == ["Initech"]
    assert [r.name for r in attention_list(db, settings, TODAY, text="h2.example")] == ["Initech"]


def test_json_rows_carry_the_documented_keys(db: sqlite_utils.Database, settings: Settings) -> None:
    cache = CacheBuilder(db)
    cache.healthy("h1")
    rescore(db, settings, TODAY)
    row = attention_list(db, settings, TODAY)[0].as_json()
    assert set(row) == {
        "rank",
        "account_id",
        "name",
        "health",
        "band",
        "trend",
        "priority",
        "reasons",
        "drivers",
        "stage",
        "stage_reason",
        "tier",
        "arr",
        "renewal_date",
        "owner",
        "opportunity",
    }
    assert set(row["drivers"][0]) == {"component", "points", "max", "reason"}
    assert dataclasses.is_dataclass(attention_list(db, settings, TODAY)[0])


def test_escalations_usage_cliffs_and_near_renewals_are_always_said_first() -> None:
    crowded = item(
        health=30,
        band="red",
        trend=-20,
        renewal_date=D + timedelta(days=12),
        last_touch=D - timedelta(days=90),
        overdue_steps=2,
        oldest_overdue_days=9,
        escalations=1,
        usage_change=-0.82,
        cause_chip="Admin quiet 31 d",
    )
    chips = attention(crowded, D).chips
    assert chips[:3] == ("Renews in 12 d", "Escalation open", "Usage −82%")
    assert len(chips) == 4  # the strongest of the rest fills the last place


def test_a_usage_cliff_or_an_escalation_raises_priority_that_a_touch_cannot_lower() -> None:
    base = attention(item(health=60, band="yellow"), D).value
    cliff = attention(item(health=60, band="yellow", usage_change=-0.82), D).value
    escalated = attention(item(health=60, band="yellow", escalations=1), D).value
    assert cliff > base and escalated == round(base + 10, 2)
    # A touch today (neglect 0) and a health bump do not take the cliff's momentum away.
    touched = attention(item(health=70, band="green", usage_change=-0.82, last_touch=D), D)
    assert "Usage −82%" in touched.chips
    assert touched.value > attention(item(health=70, band="green", last_touch=D), D).value
