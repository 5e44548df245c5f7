"""CRM records -> cache rows: dates, domains, markers and kinds read the same however sent."""

from __future__ import annotations

from csm_tui.sync import mapping
from csm_tui.sync.mapping import PropertyNames


def test_instants_and_days_are_normalised_from_iso_and_epoch_ms() -> None:
    assert mapping.instant("2026-03-01T14:05:09.123Z") == "2026-03-01T14:05:09.123000+00:00"
    assert mapping.instant("1772373909123") == "2026-03-01T14:05:09.123000+00:00"
    assert mapping.instant("2026-03-01T15:05:09+01:00") == "2026-03-01T14:05:09.000000+00:00"
    assert mapping.instant("") is None and mapping.instant("yesterday") is None
    assert mapping.day("2026-03-01") == "2026-03-01"
    assert mapping.day("2026-03-01T23:30:00.000Z") == "2026-03-01"
    assert mapping.day("2026-02-30") is None
    assert mapping.epoch_ms("2026-03-01T14:05:09.123Z") == 1772373909123


def test_utc_instants_read_fast_the_same_as_any_other_form() -> None:
    # Already-UTC strings (what HubSpot and PostHog send) skip the general conversion.
    assert mapping.instant("2026-11-22T22:47:58.335159Z") == "2026-11-22T22:47:58.335159+00:00"
    assert mapping.instant("2026-11-22T22:47:58Z") == "2026-11-22T22:47:58.000000+00:00"
    assert mapping.instant("2026-11-22T22:47:58.4+00:00") == "2026-11-22T22:47:58.400000+00:00"
    assert mapping.instant("2026-02-30T00:00:00Z") is None, "the calendar is still checked"
    assert mapping.instant("2026-11-22T24:00:00Z") is None
    assert mapping.instant(" 2026-11-22T22:47:58Z ") == "2026-11-22T22:47:58.000000+00:00"
    assert mapping.epoch_ms("1772373909123") == 1772373909123


def test_domains_match_the_way_analytics_groups_name_them() -> None:
    assert mapping.domain("https://www.Acme.com/about") == "acme.com"
    assert mapping.domain("acme.io") == "acme.io"
    assert mapping.domain("") is None


def test_a_meeting_titled_qbr_is_a_qbr_and_our_marker_is_stripped_from_summaries() -> None:
    marker = mapping.marker_text("a" * 32)
    record = {
        "id": "48",
        "createdAt": "2026-03-01T10:00:00.000Z",
        "properties": {
            "hs_timestamp": "2026-03-01T09:00:00.000Z",
            "hs_meeting_title": "QBR",
            "hs_meeting_body": f"<p>Went <b>well</b></p>\n{marker}",
        },
    }
    row = mapping.touch_row("meetings", record, "9", "5")
    assert row["kind"] == "qbr" and row["id"] == "crm:meetings:48"
    assert row["summary"] == "QBR — Went well"
    assert mapping.record_marker("meetings", record) == "a" * 32
    assert mapping.record_marker("notes", {"properties": {"hs_note_body": "plain"}}) is None


def test_arr_history_keeps_the_last_value_of_each_day() -> None:
    record = {
        "id": "9",
        "propertiesWithHistory": {
            "arr": [
                {"value": "1200", "timestamp": "2026-03-02T18:00:00.000Z"},
                {"value": "1100", "timestamp": "2026-03-02T09:00:00.000Z"},
                {"value": "1000", "timestamp": "2025-03-02T09:00:00.000Z"},
                {"value": "", "timestamp": "2024-01-01T00:00:00.000Z"},
            ]
        },
    }
    rows = mapping.arr_history_rows(record, PropertyNames())
    assert rows == [
        {"account_id": "9", "date": "2025-03-02", "arr": 1000.0},
        {"account_id": "9", "date": "2026-03-02", "arr": 1200.0},
    ]


def test_property_names_come_from_settings() -> None:
    names = PropertyNames(arr="annual_revenue__c", contact_role="role__c")
    company = {"id": "1", "properties": {"annual_revenue__c": "50,000", "arr": "1"}}
    assert mapping.account_row(company, names)["arr"] == 50000.0
    assert "annual_revenue__c" in mapping.properties_for("companies", names)
    contact = {"id": "2", "properties": {"role__c": "Champion", "hs_email_optout": "true"}}
    row = mapping.contact_row(contact, names, "1")
    assert row["role"] == "champion" and row["unsubscribed"] == 1 and row["bounced"] == 0


def test_a_contacts_own_sequence_properties_say_its_enrollment_without_another_request() -> None:
    enrolled = {"id": "5", "properties": {"hs_sequences_is_enrolled": "true",
                "hs_latest_sequence_enrolled": "880001",
                "hs_latest_sequence_enrolled_date": "2026-03-01T10:00:00.000Z"}}  # fmt: skip
    row = mapping.enrollment_from_properties(enrolled, "9")
    assert isinstance(row, dict) and row["sequence_id"] == "880001" and row["account_id"] == "9"
    free = {"id": "6", "properties": {"hs_sequences_is_enrolled": "false"}}
    assert mapping.enrollment_from_properties(free, "9") is None
    silent = {"id": "7", "properties": {"hs_sequences_is_enrolled": None}}
    assert mapping.enrollment_from_properties(silent, "9") is False


def test_a_contacts_title_and_phones_are_kept_and_blank_ones_are_none() -> None:
    names = PropertyNames()
    assert {"firstname", "lastname", "jobtitle", "phone", "mobilephone"} <= set(
        mapping.properties_for("contacts", names)
    )
    full = {"id": "5", "properties": {"firstname": "Ana", "lastname": "Lima",
            "jobtitle": "Head of Data", "phone": " +1 415 555 0142 ",
            "mobilephone": "+44 20 7946 0123"}}  # fmt: skip
    row = mapping.contact_row(full, names, "9")
    assert (row["first_name"], row["last_name"], row["title"]) == ("Ana", "Lima", "Head of Data")
    assert (row["phone"], row["mobile_phone"]) == ("+1 415 555 0142", "+44 20 7946 0123")
    bare = {"id": "6", "properties": {"email": "x@y.test", "phone": "", "mobilephone": None}}
    row = mapping.contact_row(bare, names, "9")
    assert (row["title"], row["phone"], row["mobile_phone"]) == (None, None, None)
