"""The demo portfolio generator: deterministic, realistic, and its stories show in the numbers."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date, datetime

import pytest

from csm_tui.fakes.portfolio import (
    HOSTILE_STRINGS,
    STORIES,
    USAGE_WEEKS,
    Portfolio,
    generate_portfolio,
)

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def book() -> Portfolio:
    return generate_portfolio(300, seed=7, today=TODAY)


def _by_story(p: Portfolio) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for company in p.companies:
        out[p.stories[company["id"]]].append(company)
    return out


def _weekly_events(p: Portfolio, domain: str) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for _, week, _, events, _ in p.usage_for(domain):
        totals[week] += events
    return totals


def test_same_seed_same_book_and_another_seed_another_book(book: Portfolio) -> None:
    again = generate_portfolio(300, seed=7, today=TODAY)
    other = generate_portfolio(300, seed=8, today=TODAY)
    assert again.companies == book.companies
    assert again.contacts == book.contacts
    assert again.usage_weekly == book.usage_weekly
    assert again.user_activity == book.user_activity
    assert again.stories == book.stories
    assert [c["properties"]["name"] for c in other.companies] != [
        c["properties"]["name"] for c in book.companies
    ]
    assert other.usage_weekly != book.usage_weekly


def test_names_and_emails_look_real_and_are_unique(book: Portfolio) -> None:
    names = [c["properties"]["name"] for c in book.companies]
    domains = [c["properties"]["domain"] for c in book.companies]
    assert len(set(names)) == len(names) == 300
    assert len(set(domains)) == 300
    assert all(len(n.split()) >= 2 and n[0].isupper() for n in names)
    company_domain = {c["id"]: c["properties"]["domain"] for c in book.companies}
    for contact in book.contacts:
        props = contact["properties"]
        domain = company_domain[contact["associations"]["companies"][0]]
        local = f"{props['firstname'].lower()}."
        assert props["email"].startswith(local) and props["email"].endswith("@" + domain)
    for text in HOSTILE_STRINGS:  # the default demo stays clean
        assert text not in names


def test_shape_of_the_book(book: Portfolio) -> None:
    owners = Counter(c["properties"]["hubspot_owner_id"] for c in book.companies)
    demo_owner = next(o for o in book.owners if o["email"] == book.demo_owner_email)
    assert 4 <= len(book.owners) <= 6
    assert 0.7 <= owners[demo_owner["id"]] / 300 <= 0.9
    arr = sorted(int(c["properties"]["arr"]) for c in book.companies)
    assert arr[0] >= 5_000 and arr[-1] <= 400_000
    assert arr[len(arr) // 2] < sum(arr) / len(arr)  # skewed: median below the mean
    assert set(Counter(book.stories.values())) == set(STORIES)
    assert 4.5 <= len(book.contacts) / 300 <= 5.5
    optout = sum(c["properties"]["hs_email_optout"] == "true" for c in book.contacts)
    assert 0.01 <= optout / len(book.contacts) <= 0.06
    renewals = [date.fromisoformat(c["properties"]["renewal_date"]) for c in book.companies]
    assert sum(0 <= (r - TODAY).days <= 30 for r in renewals) >= 5
    assert all(r <= TODAY.replace(year=TODAY.year + 1) for r in renewals)
    # 26 weeks of each story, and a year before them for the past renewals' signals
    assert len(book.weeks) == USAGE_WEEKS == 78 and book.weeks[-1] < TODAY.isoformat()
    assert book.usage_weekly == sorted(book.usage_weekly, key=lambda r: r[:3])


def test_sudden_drop_accounts_fall_far_below_their_baseline(book: Portfolio) -> None:
    for company in _by_story(book)["sudden_drop"]:
        totals = _weekly_events(book, company["properties"]["domain"])
        last4 = sum(totals[w] for w in book.weeks[-4:]) / 4
        prior8 = sum(totals[w] for w in book.weeks[-12:-4]) / 8
        assert last4 < 0.6 * prior8, company["properties"]["name"]


def test_expansion_ready_accounts_use_nearly_every_seat_and_grow(book: Portfolio) -> None:
    for company in _by_story(book)["expansion_ready"]:
        domain = company["properties"]["domain"]
        seats = int(company["properties"]["seats"])
        login_users = max(
            u for _, w, e, _, u in book.usage_for(domain) if e == "login" and w in book.weeks[-4:]
        )
        assert login_users >= 0.9 * seats
        totals = _weekly_events(book, domain)
        assert (
            sum(totals[w] for w in book.weeks[-4:]) / 4
            >= 1.3 * sum(totals[w] for w in book.weeks[-12:-4]) / 8
        )
        nps = [
            f
            for f in book.feedback_submissions
            if f["associations"]["companies"] == [company["id"]]
        ]
        assert (
            nps
            and int(
                max(nps, key=lambda f: f["properties"]["hs_submission_timestamp"])["properties"][
                    "hs_response_value"
                ]
            )
            >= 9
        )


def test_quiet_champions_have_not_been_seen_for_weeks(book: Portfolio) -> None:
    roles = {c["properties"]["email"]: c["properties"]["cs_role"] for c in book.contacts}
    for company in _by_story(book)["champion_quiet"]:
        domain = company["properties"]["domain"]
        leaders = [
            r
            for r in book.user_activity
            if r[0] == domain and roles.get(r[2]) in ("admin", "champion")
        ]
        assert leaders
        for _, _, _, last_seen, _ in leaders:
            assert 20 <= (book.now - datetime.fromisoformat(last_seen)).days <= 45


def test_churned_accounts_stopped_and_lost_their_renewal(book: Portfolio) -> None:
    for company in _by_story(book)["churned"]:
        churn = company["properties"]["churn_date"]
        assert all(w <= churn for _, w, _, _, _ in book.usage_for(company["properties"]["domain"]))
        lost = [
            d
            for d in book.deals
            if d["associations"]["companies"] == [company["id"]]
            and d["properties"]["dealstage"] == "closedlost"
        ]
        assert lost and lost[0]["properties"]["dealtype"] == "renewal"


def test_renewal_at_risk_renews_soon_with_an_escalation(book: Portfolio) -> None:
    for company in _by_story(book)["renewal_at_risk"]:
        assert 0 < (date.fromisoformat(company["properties"]["renewal_date"]) - TODAY).days <= 60
        open_escalated = [
            t
            for t in book.tickets
            if t["associations"]["companies"] == [company["id"]]
            and t["properties"]["escalated"] == "true"
            and t["properties"]["hs_pipeline_stage"] != "4"
        ]
        assert open_escalated


def test_arr_history_moves_so_retention_metrics_mean_something(book: Portfolio) -> None:
    changed = [h for h in book.arr_history.values() if len(h) > 1]
    assert len(changed) >= 30
    ups = downs = 0
    for company in book.companies:
        history = book.arr_history[company["id"]]
        assert history[0]["value"] == company["properties"]["arr"]  # newest first
        assert [h["timestamp"] for h in history] == sorted(
            (h["timestamp"] for h in history), reverse=True
        )
        for newer, older in itertools.pairwise(history):
            ups += int(newer["value"]) > int(older["value"])
            downs += int(newer["value"]) < int(older["value"])
    assert ups > 0 and downs > 0


def test_hostile_option_plants_every_hostile_string() -> None:
    p = generate_portfolio(40, seed=3, today=TODAY, hostile=True)
    names = {c["properties"]["name"] for c in p.companies}
    assert set(HOSTILE_STRINGS) <= names
    assert any(c["properties"]["firstname"] in HOSTILE_STRINGS for c in p.contacts)
    assert any(n["properties"]["hs_note_body"] in HOSTILE_STRINGS for n in p.notes)


def test_past_renewals_follow_months_of_fading_use_often_but_not_always(book: Portfolio) -> None:
    """The demo's past outcomes (csm-tui score-check): enough contractions, and the use in the
    months before one fell more often than before a renewal that kept or grew the ARR."""
    contracted: list[float] = []
    kept: list[float] = []
    for company in book.companies:
        if "churn_date" in company["properties"]:
            continue
        history = sorted(
            (h["timestamp"][:10], int(h["value"])) for h in book.arr_history[company["id"]]
        )
        start = date.fromisoformat(company["properties"]["contract_start_date"])
        renewals = [start.replace(year=start.year + k) for k in range(1, 5)]
        last = max((d for d in renewals if d < TODAY), default=None)
        if last is None or not 120 <= (TODAY - last).days <= 400:
            continue
        before = [v for d, v in history if d < last.isoformat()][-1]
        after = [v for d, v in history if d <= last.isoformat()][-1]
        # use in the 12 weeks up to 90 days before the renewal, vs the 12 weeks before those
        totals = _weekly_events(book, company["properties"]["domain"])
        ahead = [
            w for w in book.weeks if date.fromisoformat(w).toordinal() <= last.toordinal() - 90
        ]
        if len(ahead) < 24:
            continue
        ratio = sum(totals[w] for w in ahead[-12:]) / (sum(totals[w] for w in ahead[-24:-12]) or 1)
        (contracted if after < before else kept).append(ratio)
    assert len(contracted) >= 15
    faded = sum(r < 0.85 for r in contracted) / len(contracted)
    faded_kept = sum(r < 0.85 for r in kept) / len(kept)
    assert faded > faded_kept + 0.2, (faded, faded_kept)  # a signal...
    assert faded < 1.0 and faded_kept > 0.0  # ...not a rule
