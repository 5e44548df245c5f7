"""Ticket escalation and CSAT come from properties most portals do not have: they are settings
(off unless named), and a property that is not used or not there is unknown, never "no" or 0."""

from __future__ import annotations

import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder

from csm_tui.config import Settings, load_settings
from csm_tui.domain.models import BookContext
from csm_tui.domain.scoring import health
from csm_tui.store.scoring_inputs import load_book
from csm_tui.sync import mapping
from csm_tui.sync.mapping import PropertyNames, missing_properties

TICKET = {
    "id": "901",
    "properties": {
        "subject": "Exports fail",
        "hs_pipeline_stage": "1",
        "createdate": "2026-11-20T08:00:00Z",
        "escalated": "true",
        "csat_score": "2",
    },
}
NAMED = PropertyNames(ticket_escalated="escalated", ticket_csat="csat_score")


def test_by_default_no_ticket_property_is_asked_for_and_both_signals_are_unknown() -> None:
    names = PropertyNames.from_settings(load_settings().crm.properties)
    asked = mapping.properties_for("tickets", names)
    assert "escalated" not in asked and "csat_score" not in asked and "" not in asked
    # Even when a record happens to carry a property of that name, it is not read.
    row = mapping.ticket_row(TICKET, "a1", names)
    assert row["escalated"] is None and row["csat"] is None


def test_named_ticket_properties_are_asked_for_and_read() -> None:
    settings = load_settings(
        crm={"properties": {"ticket_escalated": "escalated", "ticket_csat": "csat_score"}}
    )
    names = PropertyNames.from_settings(settings.crm.properties)
    assert names == NAMED
    assert {"escalated", "csat_score"} <= set(mapping.properties_for("tickets", names))
    row = mapping.ticket_row(TICKET, "a1", names)
    assert (row["escalated"], row["csat"]) == (1, 2)
    quiet = {**TICKET, "properties": {**TICKET["properties"], "escalated": None}}
    assert mapping.ticket_row(quiet, "a1", names)["escalated"] == 0  # there, and not set: no


def test_missing_properties_names_each_configured_property_the_portal_lacks() -> None:
    names = PropertyNames(arr="annual_revenue", ticket_escalated="escalated", ticket_csat="")
    available = {
        "companies": {"name", "domain", "renewal_date", "seats", "cs_stage", "churn_date"},
        "tickets": {"subject", "csat_score"},  # no "escalated"
        # contacts were not checked (say the token may not read them): nothing is claimed
    }
    missing = missing_properties(available, names)
    assert missing == [
        ("companies", "crm.properties.arr", "annual_revenue"),
        ("companies", "crm.properties.contract_start", "contract_start_date"),
        ("tickets", "crm.properties.ticket_escalated", "escalated"),
    ]
    # The pull reads what is missing as unknown: the name is blanked, nothing is asked for it.
    blanked = names.without(missing)
    assert (blanked.arr, blanked.contract_start, blanked.ticket_escalated) == ("", "", "")
    assert blanked.seats == "seats"
    assert "escalated" not in mapping.properties_for("tickets", blanked)
    assert mapping.ticket_row(TICKET, "a1", blanked)["escalated"] is None


def test_a_ticket_of_unknown_escalation_costs_nothing_and_the_reason_says_it_is_unknown(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    cache.account("a1")
    cache.account("a2")
    cache.ticket("a1", opened_days_ago=1)
    cache.ticket("a2", opened_days_ago=1, escalated=True)
    # The sync stores NULL when the portal has no escalation property (the cache accepts it).
    db.execute("UPDATE tickets SET escalated = NULL WHERE account_id = 'a1'")
    book = load_book(db, settings, TODAY)
    (unknown,) = book.inputs["a1"].tickets
    (escalated,) = book.inputs["a2"].tickets
    assert unknown.escalated is None and escalated.escalated is True

    def support(account: str) -> tuple[float | None, str]:
        comps = health(book.inputs[account], BookContext(has_tickets=True), TODAY).components
        found = next(c for c in comps if c.name == "support")
        return found.subscore, found.reason

    assert support("a1") == (100.0, "No aged or urgent tickets (escalation not known)")
    assert support("a2")[0] == 100.0 - settings.scoring.ticket_escalated_penalty
