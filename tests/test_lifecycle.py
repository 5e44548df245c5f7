"""Lifecycle stage: the first rule that holds wins, the CRM overrides, and each says why."""

from __future__ import annotations

from datetime import date, timedelta

from csm_tui.domain.lifecycle import expansion_strength, lifecycle_stage, stage_from_crm
from csm_tui.domain.models import Account

TODAY = date(2026, 11, 23)


def account(**fields) -> Account:
    base = dict(
        id="a1",
        name="Acme",
        seats=50,
        contract_start=TODAY - timedelta(days=400),
        renewal_date=TODAY + timedelta(days=200),
    )
    base.update(fields)
    return Account(**base)


def stage(acc: Account, **facts):
    base = dict(
        activated=True,
        features_used=4,
        seats_used=20,
        usage_ratio=1.0,
        band="green",
        health=80,
    )
    base.update(facts)
    return lifecycle_stage(acc, TODAY, **base)


def test_a_churned_account_is_win_back_even_when_renewing_soon() -> None:
    s = stage(account(churned_on=TODAY - timedelta(days=20), renewal_date=TODAY))
    assert (s.name, s.reason) == ("Win-back", "churned on 2026-11-03")


def test_a_lost_renewal_is_win_back() -> None:
    s = stage(account(renewal_lost_on=TODAY - timedelta(days=3)))
    assert s.name == "Win-back" and "renewal lost" in s.reason


def test_renewal_within_90_days_wins_over_onboarding_and_expansion() -> None:
    s = stage(
        account(renewal_date=TODAY + timedelta(days=47), contract_start=TODAY - timedelta(days=10)),
        activated=False,
        seats_used=50,
    )
    assert (s.name, s.reason) == ("Renewal", "renews in 47 days")
    assert stage(account(renewal_date=TODAY + timedelta(days=91))).name != "Renewal"


def test_onboarding_until_the_activation_event_within_90_days() -> None:
    new = account(contract_start=TODAY - timedelta(days=34))
    s = stage(new, activated=False)
    assert (s.name, s.reason) == ("Onboarding", "started 34 days ago, no project created yet")
    assert stage(new, activated=True).name != "Onboarding"
    old = account(contract_start=TODAY - timedelta(days=120))
    assert stage(old, activated=False).name != "Onboarding"


def test_expansion_needs_full_seats_or_growth_and_green_health() -> None:
    full = stage(account(seats=50), seats_used=46)
    assert full.name == "Expansion" and "46 of 50 seats in use (92%)" in full.reason
    growing = stage(account(), usage_ratio=1.35)
    assert growing.name == "Expansion" and "usage up 35%" in growing.reason
    assert stage(account(seats=50), seats_used=46, band="yellow", health=60).name != "Expansion"
    assert stage(account(seats=50), seats_used=40).name == "Retention"


def test_adoption_when_fewer_than_half_the_key_features_are_used() -> None:
    s = stage(account(), features_used=2)
    assert (s.name, s.reason) == ("Adoption", "2 of 5 key features used in 30 days")
    assert stage(account(), features_used=3).name == "Retention"


def test_retention_says_when_the_renewal_is() -> None:
    s = stage(account())
    assert (s.name, s.reason) == ("Retention", "adopted; renews in 200 days")


def test_the_crm_stage_overrides_every_rule() -> None:
    s = stage(account(cs_stage="win_back", renewal_date=TODAY + timedelta(days=5)))
    assert (s.name, s.reason) == ("Win-back", "set in the CRM (cs_stage)")
    assert stage_from_crm("ONBOARDING") == "Onboarding"
    assert stage_from_crm("Custom \x1b[31mstage") == "Custom stage"
    assert stage_from_crm("  ") is None


def test_usage_growth_in_the_first_90_days_is_a_ramp_up_not_expansion() -> None:
    young = account(contract_start=TODAY - timedelta(days=80))
    assert stage(young, usage_ratio=1.8).name == "Retention"
    assert stage(young, seats_used=48).name == "Expansion"  # full seats still count


def test_expansion_strength_orders_full_growing_large_accounts_first() -> None:
    today = date(2026, 3, 2)
    acc = Account(id="a", name="A", seats=10, contract_start=date(2024, 1, 1))
    full = expansion_strength(acc, seats_used=10, usage_ratio=2.0, arr_share=1.0, today=today)
    assert full == 100
    weak = expansion_strength(acc, seats_used=2, usage_ratio=1.3, arr_share=0.1, today=today)
    assert 1 <= weak < full
    # Growth in the first 90 days of a contract is ramp-up: it adds nothing.
    new = Account(id="n", name="N", seats=10, contract_start=today - timedelta(days=30))
    ramp = expansion_strength(new, seats_used=2, usage_ratio=3.0, arr_share=0.1, today=today)
    assert ramp == expansion_strength(new, seats_used=2, usage_ratio=None, arr_share=0.1)
