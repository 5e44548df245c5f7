"""Tiers by share of ARR (or ARR amounts), cadences, and heavy users kept out of tech-touch."""

from __future__ import annotations

from csm_tui.domain.tiers import (
    TierInput,
    TierRules,
    assign_tiers,
    cadence_for,
    tier_for_arr,
)


def book(n: int = 10) -> list[TierInput]:
    return [TierInput(f"a{i}", f"Account {i:02d}", arr=1_000.0 * (i + 1)) for i in range(n)]


def test_top_20_percent_by_arr_high_touch_next_50_pooled_rest_tech_touch() -> None:
    tiers = {k: t for k, (t, _) in assign_tiers(book()).items()}
    assert [tiers[f"a{i}"] for i in range(9, -1, -1)] == (
        ["high-touch"] * 2 + ["pooled"] * 5 + ["tech-touch"] * 3
    )


def test_arr_amounts_from_the_settings_replace_the_shares() -> None:
    rules = TierRules(high_touch_min_arr=8_000, pooled_min_arr=5_000)
    tiers = {k: t for k, (t, _) in assign_tiers(book(), rules).items()}
    assert tiers["a9"] == tiers["a7"] == "high-touch"
    assert tiers["a4"] == "pooled" and tiers["a3"] == "tech-touch"


def test_top_decile_usage_per_seat_is_never_left_in_tech_touch() -> None:
    accounts = book(20)
    accounts[0] = TierInput("a0", "Account 00", arr=1_000.0, per_seat=99.0)  # smallest ARR
    for i in range(1, 20):
        accounts[i] = TierInput(f"a{i}", f"Account {i:02d}", 1_000.0 * (i + 1), per_seat=5.0)
    tier, reason = assign_tiers(accounts)["a0"]
    assert (tier, reason) == ("pooled", "top-decile use per seat")
    assert assign_tiers(accounts)["a1"][0] == "tech-touch"


def test_equal_arr_ties_break_by_name() -> None:
    accounts = [TierInput(f"x{i}", name, 500.0) for i, name in enumerate("edcba")]
    tiers = assign_tiers(accounts)
    assert tiers["x4"][0] == "high-touch"  # "a" first by name


def test_cadences_default_to_14_30_90_and_follow_the_settings() -> None:
    assert [cadence_for(t) for t in ("high-touch", "pooled", "tech-touch")] == [14, 30, 90]
    assert cadence_for("pooled", {"pooled": 21}) == 21


def test_one_new_account_is_placed_among_the_book() -> None:
    others = [1_000.0 * (i + 1) for i in range(9)]
    assert tier_for_arr(50_000, others) == "high-touch"
    assert tier_for_arr(500, others) == "tech-touch"
