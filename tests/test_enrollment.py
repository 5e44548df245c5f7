"""Who a sequence reaches: each exclusion rule, one at a time, and the preview it adds up to."""

from __future__ import annotations

from datetime import date

import pytest

from csm_tui.domain.enrollment import (
    ALREADY_ENROLLED,
    BOUNCED,
    CHURNED,
    NO_EMAIL,
    NO_SENDER,
    OPEN_ESCALATION,
    TYPED_CONFIRMATION_ABOVE,
    UNSUBSCRIBED,
    EnrollAccount,
    EnrollContact,
    PastEnrollment,
    exclusion_reason,
    in_audience,
    needs_typed_confirmation,
    plan_enrollment,
    typed_count_matches,
)
from csm_tui.domain.models import Ticket

TODAY = date(2026, 11, 23)
ACME = EnrollAccount("a1", "Acme", sender_email="csm@us.test", user_id="u1")


def contact(**kw: object) -> EnrollContact:
    base: dict[str, object] = {
        "id": "c1",
        "account_id": "a1",
        "name": "Jane Doe",
        "email": "jane@acme.test",
        "role": "admin",
    }
    base.update(kw)
    return EnrollContact(**base)  # type: ignore[arg-type]


def test_a_reachable_contact_has_no_reason_to_be_left_out() -> None:
    assert exclusion_reason(contact(), ACME, [], TODAY) is None


@pytest.mark.parametrize(
    ("who", "account", "history", "reason"),
    [
        (contact(email=None), ACME, [], NO_EMAIL),
        (contact(email="  "), ACME, [], NO_EMAIL),
        (contact(unsubscribed=True), ACME, [], UNSUBSCRIBED),
        (contact(bounced=True), ACME, [], BOUNCED),
        (contact(), EnrollAccount("a1", "Acme", churned=True, sender_email="x@y", user_id="1"),
         [], CHURNED),
        (contact(), EnrollAccount("a1", "Acme"), [], NO_SENDER),
        (contact(), ACME, [PastEnrollment("c1", "s9", "active", date(2026, 6, 1))],
         ALREADY_ENROLLED),
        (contact(), ACME, [PastEnrollment("c1", "s9", "queued", TODAY)], ALREADY_ENROLLED),
        (contact(), ACME, [PastEnrollment("c1", "s9", "finished", date(2026, 11, 1))],
         "enrolled in the last 30 days"),
    ],
)  # fmt: skip
def test_each_reason_to_leave_a_contact_out(who, account, history, reason) -> None:
    assert exclusion_reason(who, account, history, TODAY) == reason


def test_an_enrollment_finished_more_than_30_days_ago_does_not_count() -> None:
    old = PastEnrollment("c1", "s9", "finished", date(2026, 10, 24))  # 30 days before today
    assert exclusion_reason(contact(), ACME, [old], TODAY) is None


def test_audiences_pick_contacts_by_role() -> None:
    admin, champion, user = contact(role="admin"), contact(role="champion"), contact(role="user")
    assert [in_audience(c, "admins") for c in (admin, champion, user)] == [True, False, False]
    assert [in_audience(c, "champions") for c in (admin, champion, user)] == [False, True, False]
    assert [in_audience(c, "admins_champions") for c in (admin, champion, user)] == [
        True,
        True,
        False,
    ]
    assert all(in_audience(c, "everyone") for c in (admin, champion, user))
    with pytest.raises(ValueError, match="unknown audience"):
        in_audience(admin, "vips")


def test_the_plan_counts_accounts_and_contacts_and_says_why_each_is_out() -> None:
    globex = EnrollAccount("a2", "Globex", sender_email="csm@us.test", user_id="u1")
    gone = EnrollAccount("a3", "Initech", churned=True, sender_email="csm@us.test", user_id="u1")
    contacts = [
        contact(id="c1"),
        contact(id="c2", name="Bob", email="bob@acme.test", unsubscribed=True),
        contact(id="c3", account_id="a2", name="Ann", email="ann@globex.test"),
        contact(id="c4", account_id="a2", name="Zed", email="zed@globex.test", role="user"),
        contact(id="c5", account_id="a3", name="Ike", email="ike@initech.test"),
        contact(id="c1"),  # listed twice: counted once
    ]
    plan = plan_enrollment([ACME, globex, gone], contacts, [], audience="admins", today=TODAY)
    assert [i.contact.id for i in plan.included] == ["c1", "c3"]
    assert [(e.contact.id, e.reason) for e in plan.excluded] == [
        ("c2", UNSUBSCRIBED),
        ("c5", CHURNED),
    ]
    assert plan.accounts == 3 and plan.accounts_included == 2
    assert [a.name for a in plan.accounts_without_anyone] == ["Initech"]
    assert plan.reason_counts() == {CHURNED: 1, UNSUBSCRIBED: 1}


def test_one_email_is_enrolled_once_even_if_two_contacts_share_it() -> None:
    twins = [contact(id="c1"), contact(id="c2", name="Jane D.", email="JANE@acme.test")]
    plan = plan_enrollment([ACME], twins, [], audience="everyone", today=TODAY)
    assert len(plan.included) == 1
    assert plan.excluded[0].reason == "same email as another contact in this batch"


# -- open escalations and large batches -------------------------------------------------------


def test_an_account_with_an_open_escalation_is_left_out_unless_included() -> None:
    escalated = EnrollAccount("a2", "Globex", sender_email="x@y", user_id="1", open_escalations=2)
    people = [contact(id="c1"), contact(id="c2", account_id="a2", email="ann@globex.test")]

    plan = plan_enrollment([ACME, escalated], people, [], audience="admins", today=TODAY)
    assert [i.contact.id for i in plan.included] == ["c1"]
    assert [(e.contact.id, e.reason) for e in plan.excluded] == [("c2", OPEN_ESCALATION)]
    assert [a.name for a in plan.escalated] == ["Globex"] and not plan.escalated_included

    kept = plan_enrollment(
        [ACME, escalated], people, [], audience="admins", today=TODAY, include_escalated=True
    )
    assert [i.contact.id for i in kept.included] == ["c1", "c2"]
    assert kept.excluded == () and kept.escalated_included
    assert [a.name for a in kept.escalated] == ["Globex"]  # the preview still says so


def test_a_churned_escalated_account_is_left_out_as_churned() -> None:
    gone = EnrollAccount("a1", "Acme", churned=True, sender_email="x", user_id="1",
                         open_escalations=1)  # fmt: skip
    assert exclusion_reason(contact(), gone, [], TODAY) == CHURNED
    plan = plan_enrollment([gone], [contact()], [], audience="admins", today=TODAY)
    assert plan.escalated == ()  # not counted twice in the preview


def test_an_escalation_counts_as_ranking_counts_it_open_escalated_or_urgent() -> None:
    opened = date(2026, 11, 1)
    assert Ticket(opened, escalated=True).escalation_open_on(TODAY)
    assert Ticket(opened, priority="urgent", escalated=None).escalation_open_on(TODAY)
    assert not Ticket(opened, priority="HIGH").escalation_open_on(TODAY)
    assert not Ticket(opened, escalated=None).escalation_open_on(TODAY)  # not known: no
    assert not Ticket(
        opened, closed=date(2026, 11, 20), is_closed=True, escalated=True
    ).escalation_open_on(TODAY)
    assert not Ticket(date(2026, 11, 24), escalated=True).escalation_open_on(TODAY)  # future


def test_more_than_50_contacts_are_confirmed_by_typing_how_many() -> None:
    def plan_of(n: int):  # type: ignore[no-untyped-def]
        people = [contact(id=f"c{i}", email=f"p{i}@acme.test") for i in range(n)]
        return plan_enrollment([ACME], people, [], audience="admins", today=TODAY)

    assert not needs_typed_confirmation(plan_of(TYPED_CONFIRMATION_ABOVE))
    big = plan_of(1110)
    assert needs_typed_confirmation(big)
    assert typed_count_matches(big, "1110") and typed_count_matches(big, " 1,110 ")
    for wrong in ("", "111", "1111", "yes", "-1110", "1110.0"):
        assert not typed_count_matches(big, wrong), wrong
