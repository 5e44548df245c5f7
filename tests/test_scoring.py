"""The health score: bounded, explained in points that add up, monotone, and fair to missing data."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from csm_tui.domain.models import (
    BAND_SYMBOLS,
    COMPONENTS,
    Account,
    AccountInputs,
    BookContext,
    Driver,
    NextStep,
    Person,
    ProductUser,
    ScoringRules,
    Survey,
    Ticket,
    Touch,
    WeekUsage,
    week_start,
)
from csm_tui.domain.scoring import driver_text, health, largest_remainder, percentile_rank

TODAY = date(2026, 11, 25)  # a Wednesday
WEEK = week_start(TODAY)
RULES = ScoringRules()
KEYS = RULES.key_features
EMAILS = st.sampled_from(["jane@acme.com", "bob@acme.com", "ops@acme.com", "x@y.io"])


def weeks_ago(n: int) -> date:
    return WEEK - timedelta(weeks=n)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


# -- strategies ------------------------------------------------------------------------------

week_usage = st.builds(
    lambda ago, points, users, features: WeekUsage(weeks_ago(ago), points, users, features),
    st.integers(1, 16),
    st.floats(0, 2_000, allow_nan=False),
    st.integers(0, 40),
    st.frozensets(st.sampled_from([*KEYS, "project_created"]), max_size=6),
)


@st.composite
def account_inputs(draw: st.DrawFn) -> AccountInputs:
    usage = {w.week: w for w in draw(st.lists(week_usage, max_size=16))}
    ordered = tuple(sorted(usage.values(), key=lambda w: w.week))
    used = [w.week for w in ordered if w.points > 0]
    people = draw(
        st.lists(
            st.builds(
                Person,
                EMAILS,
                st.sampled_from(["admin", "champion", "user"]),
                st.none() | st.integers(0, 90).map(days_ago),
            ),
            max_size=3,
        )
    )
    users = draw(
        st.lists(
            st.builds(
                ProductUser,
                EMAILS,
                st.integers(0, 500),
                st.none() | st.integers(0, 60).map(days_ago),
            ),
            max_size=4,
        )
    )
    touches = draw(
        st.lists(
            st.builds(
                Touch,
                st.integers(0, 300).map(days_ago),
                st.none() | st.sampled_from(["positive", "neutral", "negative"]),
            ),
            max_size=4,
        )
    )
    steps = draw(
        st.lists(
            st.builds(NextStep, st.text(max_size=10), st.integers(-20, 30).map(days_ago)),
            max_size=2,
        )
    )
    tickets = draw(
        st.lists(
            st.builds(
                lambda opened, closed_after, esc, prio, csat: Ticket(
                    created=days_ago(opened),
                    closed=None if closed_after is None else days_ago(opened) + closed_after,
                    is_closed=closed_after is not None,
                    priority=prio,
                    escalated=esc,
                    csat=csat,
                ),
                st.integers(0, 120),
                st.none() | st.integers(0, 20).map(lambda d: timedelta(days=d)),
                st.booleans(),
                st.sampled_from(["LOW", "MEDIUM", "HIGH", "URGENT"]),
                st.none() | st.integers(1, 5),
            ),
            max_size=3,
        )
    )
    surveys = draw(
        st.lists(
            st.one_of(
                st.builds(
                    Survey, st.just("nps"), st.integers(0, 10), st.integers(0, 300).map(days_ago)
                ),
                st.builds(
                    Survey, st.just("csat"), st.integers(1, 5), st.integers(0, 300).map(days_ago)
                ),
            ),
            max_size=3,
        )
    )
    return AccountInputs(
        account=Account("a1", "Acme", seats=draw(st.none() | st.integers(1, 100))),
        usage=ordered,
        first_usage_week=min(used) if used else None,
        first_activation=draw(st.none() | st.integers(0, 200).map(days_ago)),
        people=tuple(people),
        product_users=tuple(users),
        touches=tuple(touches),
        next_steps=tuple(steps),
        tickets=tuple(tickets),
        surveys=tuple(surveys),
    )


contexts = st.builds(
    BookContext,
    tier=st.sampled_from(["high-touch", "pooled", "tech-touch"]),
    cadence_days=st.sampled_from([14, 30, 90]),
    usage_peers=st.lists(st.floats(0, 200, allow_nan=False), max_size=12).map(sorted),
    has_usage=st.booleans(),
    has_touches=st.booleans(),
    has_tickets=st.booleans(),
)


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(account_inputs(), contexts)
def test_the_score_is_within_0_100_and_the_drivers_add_up_to_it(
    inputs: AccountInputs, ctx: BookContext
) -> None:
    h = health(inputs, ctx, TODAY)
    if h.score is None:  # nothing at all to score on
        assert all(d.points == 0 and d.max == 0 for d in h.drivers)
        return
    assert 0 <= h.score <= 100
    assert sum(d.points for d in h.drivers) == h.score
    assert sum(d.max for d in h.drivers) == 100
    assert all(0 <= d.points <= d.max for d in h.drivers)
    assert {d.component for d in h.drivers} == set(COMPONENTS)
    assert h.band == ("green" if h.score >= 70 else "yellow" if h.score >= 40 else "red")


def _recent_scaled(inputs: AccountInputs, factor: float) -> AccountInputs:
    recent = {weeks_ago(k) for k in range(1, 5)}
    usage = tuple(
        dataclasses.replace(w, points=w.points * factor) if w.week in recent else w
        for w in inputs.usage
    )
    used = [w.week for w in usage if w.points > 0]
    return dataclasses.replace(inputs, usage=usage, first_usage_week=min(used) if used else None)


def _not_higher(worse: AccountInputs, inputs: AccountInputs, ctx: BookContext) -> None:
    before, after = health(inputs, ctx, TODAY), health(worse, ctx, TODAY)
    if before.exact is None:
        return
    assert after.exact is not None
    assert after.exact <= before.exact + 1e-9
    assert after.score <= before.score


@settings(max_examples=120, deadline=None)
@given(account_inputs(), contexts, st.floats(0, 0.99))
def test_less_recent_usage_never_raises_the_score(
    inputs: AccountInputs, ctx: BookContext, factor: float
) -> None:
    _not_higher(_recent_scaled(inputs, factor), inputs, ctx)


@settings(max_examples=120, deadline=None)
@given(account_inputs(), contexts, st.integers(1, 200))
def test_an_older_last_touch_never_raises_the_score(
    inputs: AccountInputs, ctx: BookContext, older: int
) -> None:
    worse = dataclasses.replace(
        inputs,
        touches=tuple(
            dataclasses.replace(t, occurred=t.occurred - timedelta(days=older))
            for t in inputs.touches
        ),
    )
    _not_higher(worse, inputs, ctx)


@settings(max_examples=120, deadline=None)
@given(account_inputs(), contexts, st.integers(0, 30))
def test_a_new_escalated_ticket_never_raises_the_score(
    inputs: AccountInputs, ctx: BookContext, opened: int
) -> None:
    ctx = dataclasses.replace(ctx, has_tickets=True)  # the book has tickets once this one exists
    ticket = Ticket(created=days_ago(opened), escalated=True, priority="HIGH")
    _not_higher(dataclasses.replace(inputs, tickets=(*inputs.tickets, ticket)), inputs, ctx)


@settings(max_examples=120, deadline=None)
@given(account_inputs(), contexts, st.integers(0, 6))
def test_a_detractor_answer_never_raises_the_score(
    inputs: AccountInputs, ctx: BookContext, score: int
) -> None:
    answer = Survey("nps", score, TODAY)
    _not_higher(dataclasses.replace(inputs, surveys=(*inputs.surveys, answer)), inputs, ctx)


def _without(component: str, inputs: AccountInputs, ctx: BookContext):
    """Remove every piece of data one component reads."""
    if component == "sentiment":
        touches = tuple(dataclasses.replace(t, sentiment=None) for t in inputs.touches)
        return dataclasses.replace(inputs, surveys=(), touches=touches), ctx
    if component == "support":
        return dataclasses.replace(inputs, tickets=()), dataclasses.replace(ctx, has_tickets=False)
    if component == "people":
        return dataclasses.replace(inputs, people=(), product_users=()), ctx
    raise AssertionError(component)


@settings(max_examples=150, deadline=None)
@given(account_inputs(), contexts, st.sampled_from(["sentiment", "support", "people"]))
def test_a_component_without_data_changes_no_other_component_but_its_share(
    inputs: AccountInputs, ctx: BookContext, component: str
) -> None:
    before = health(inputs, ctx, TODAY)
    less, less_ctx = _without(component, inputs, ctx)
    after = health(less, less_ctx, TODAY)
    gone = {c.name: c for c in after.components}[component]
    assert gone.subscore is None
    assert component not in after.shares
    others = [n for n in after.shares if n in before.shares]
    if not others:
        return
    for name in others:
        if (
            component == "sentiment"
            and name == "relationship"
            and any(t.sentiment == "negative" for t in inputs.touches)
        ):
            continue  # a negative touch is no relationship credit: relationship reads it too
        sub_before = {c.name: c.subscore for c in before.components}[name]
        sub_after = {c.name: c.subscore for c in after.components}[name]
        assert sub_after == sub_before  # the other components' own scores are untouched
    # ...and their shares grow in proportion (the freed weight is shared pro rata).
    ratios = {round(after.shares[n] / before.shares[n], 9) for n in others}
    assert len(ratios) == 1
    driver = {d.component: d for d in after.drivers}[component]
    assert (driver.points, driver.max) == (0, 0)


# -- concrete stories ------------------------------------------------------------------------


def steady(points: float = 100.0, users: int = 10, weeks: int = 16) -> tuple[WeekUsage, ...]:
    return tuple(
        WeekUsage(weeks_ago(k), points, users, frozenset(KEYS)) for k in range(weeks, 0, -1)
    )


def story(**fields) -> AccountInputs:
    base = dict(
        account=Account("a1", "Acme", seats=20),
        usage=steady(),
        first_usage_week=weeks_ago(16),
        first_activation=days_ago(100),
        people=(Person("jane@acme.com", "admin", days_ago(1)),),
        touches=(Touch(days_ago(3), "positive"),),
        surveys=(Survey("nps", 9, days_ago(12)),),
    )
    base.update(fields)
    return AccountInputs(**base)


def drivers_of(inputs: AccountInputs, ctx: BookContext | None = None) -> dict[str, Driver]:
    return {d.component: d for d in health(inputs, ctx or BookContext(), TODAY).drivers}


def test_a_healthy_account_is_green_and_every_driver_says_why() -> None:
    h = health(story(), BookContext(usage_peers=[1.0, 2.0, 3.0]), TODAY)
    assert h.band == "green" and h.score >= 90
    reasons = {d.component: d.reason for d in h.drivers}
    assert reasons["sentiment"].startswith("NPS 9 (promoter, 12 days ago)")
    assert reasons["adoption"] == "5 of 5 key features used in 30 days"
    assert reasons["relationship"] == "Last touch 3 days ago (cadence 30 days)"


def test_usage_trend_compares_the_last_4_weeks_with_the_prior_8() -> None:
    def usage_score(recent_share: float) -> float:
        usage = tuple(
            dataclasses.replace(w, points=w.points * recent_share) if w.week >= weeks_ago(4) else w
            for w in steady()
        )
        ctx = BookContext(usage_peers=[5.0, 5.0])  # level: same as the two peers -> 50th pct
        h = health(story(usage=usage), ctx, TODAY)
        return {c.name: c.subscore for c in h.components}["usage"]

    # Half level, half trend; ratio 1.0 -> trend 100, 0.7 -> 50, 0.4 -> 0.
    peers_level = percentile_rank(10.0, [5.0, 5.0])
    assert usage_score(1.0) == (peers_level + 100) / 2
    assert abs(usage_score(0.7) - (percentile_rank(7.0, [5.0, 5.0]) + 50) / 2) < 1e-6
    assert usage_score(0.3) == percentile_rank(3.0, [5.0, 5.0]) / 2


def test_usage_is_per_seat_so_volume_alone_does_not_look_healthy() -> None:
    peers = sorted([3.0, 5.0, 8.0, 12.0])
    big = story(usage=steady(points=2_000, users=400))  # 5 points per seat
    small = story(usage=steady(points=120, users=6))  # 20 points per seat
    ctx = BookContext(usage_peers=peers)
    big_usage = drivers_of(big, ctx)["usage"]
    small_usage = drivers_of(small, ctx)["usage"]
    assert small_usage.points > big_usage.points


def test_a_usage_fall_names_the_event_that_fell() -> None:
    usage = tuple(
        dataclasses.replace(w, points=w.points * 0.4) if w.week >= weeks_ago(4) else w
        for w in steady()
    )
    inputs = story(usage=usage, event_windows={"export_run": (8, 40), "login": (190, 400)})
    usage_driver = drivers_of(inputs)["usage"]
    assert usage_driver.reason.startswith("Exports down 60% vs prior 8 weeks")
    assert driver_text(usage_driver).startswith("−")


def test_a_quiet_admin_is_named_with_the_days() -> None:
    inputs = story(people=(Person("jane@acme.com", "admin", days_ago(14)),))
    people = drivers_of(inputs)["people"]
    assert people.reason == "Admin jane@acme.com inactive 14 days"
    assert people.points < people.max
    # 14 days sits 7/23 of the way from active (7 d) to gone (30 d): 70% of 15 points kept.
    assert (people.points, people.max) == (10, 15)
    assert driver_text(people) == "+10 Admin jane@acme.com inactive 14 days"
    two_gone = story(
        people=(
            Person("jane@acme.com", "admin", days_ago(28)),
            Person("bob@acme.com", "champion", days_ago(40)),
        )
    )
    people = drivers_of(two_gone)["people"]
    assert people.reason == "Champion bob@acme.com inactive 40 days (+1 more)"
    assert driver_text(people) == f"−{people.max - people.points} {people.reason}"


def test_no_nps_is_said_and_its_weight_goes_to_the_rest() -> None:
    inputs = story(surveys=(), touches=(Touch(days_ago(3)),))
    drivers = drivers_of(inputs)
    assert drivers["sentiment"].max == 0 and "no NPS yet" in drivers["sentiment"].reason
    # 15 points of weight shared by the 85 left: usage's 30 becomes 30/85 of 100.
    assert drivers["usage"].max in (35, 36)
    assert sum(d.max for d in drivers.values()) == 100


def test_support_loses_points_per_aged_and_escalated_ticket_and_bad_csat() -> None:
    inputs = story(
        tickets=(
            Ticket(created=days_ago(9), escalated=True),
            Ticket(created=days_ago(5)),
            Ticket(created=days_ago(40), closed=days_ago(10), is_closed=True, csat=1),
            Ticket(created=days_ago(1)),  # open one day: not aged yet
        )
    )
    support = {c.name: c for c in health(inputs, BookContext(), TODAY).components}["support"]
    assert support.subscore == 100 - 30 - 15 - 20
    assert "1 escalated/urgent ticket open" in support.reason


def test_relationship_follows_the_cadence_and_overdue_steps() -> None:
    def sub(days: int, steps: tuple[NextStep, ...] = ()) -> float:
        inputs = story(touches=(Touch(days_ago(days)),), next_steps=steps)
        comps = {c.name: c for c in health(inputs, BookContext(cadence_days=30), TODAY).components}
        return comps["relationship"].subscore

    assert sub(30) == 100 and sub(45) == 50 and sub(60) == 0
    assert sub(10, (NextStep("Send deck", days_ago(2)),)) == 75


def test_a_negative_touch_never_raises_health() -> None:
    quiet = story(touches=(Touch(days_ago(70), "positive"),))
    after_a_bad_call = story(
        touches=(Touch(days_ago(70), "positive"), Touch(days_ago(0), "negative"))
    )
    before = health(quiet, BookContext(cadence_days=30), TODAY)
    after = health(after_a_bad_call, BookContext(cadence_days=30), TODAY)
    assert after.score is not None and before.score is not None
    assert after.score <= before.score
    relationship = {c.name: c for c in after.components}["relationship"]
    assert relationship.subscore == 0  # the last good touch is 70 days old
    good_call = story(touches=(Touch(days_ago(70), "positive"), Touch(days_ago(0), "positive")))
    assert (health(good_call, BookContext(cadence_days=30), TODAY).score or 0) > before.score


def test_largest_remainder_keeps_the_total_and_the_caps() -> None:
    shown = largest_remainder({"a": 10.6, "b": 10.6, "c": 10.8}, 32, {"a": 11, "b": 11, "c": 11})
    assert sum(shown.values()) == 32 and shown["c"] == 11


def test_bands_have_symbols_that_differ_without_colour() -> None:
    assert set(BAND_SYMBOLS) == {"green", "yellow", "red"}
    assert len(set(BAND_SYMBOLS.values())) == 3


def test_an_admin_never_seen_in_the_product_counts_once_analytics_is_synced() -> None:
    inputs = story(people=(Person("jane@acme.com", "admin", None),))
    people = drivers_of(inputs)["people"]
    assert (people.points, people.reason) == (0, "Admin jane@acme.com never seen in the product")
    no_analytics = drivers_of(inputs, BookContext(has_usage=False))["people"]
    assert no_analytics.max == 0  # nothing to judge by yet: left out, not zero


def test_usage_without_a_complete_week_is_left_out_and_none_at_all_scores_zero() -> None:
    this_week = (WeekUsage(WEEK, 50.0, 3, frozenset()),)
    started = drivers_of(story(usage=this_week, first_usage_week=WEEK))["usage"]
    assert started.max == 0 and "too early" in started.reason
    never = drivers_of(story(usage=(), first_usage_week=None))["usage"]
    assert (never.points, never.reason) == (0, "No product use yet") and never.max > 0
