"""CRM records (HubSpot's shapes, every property a string) -> cache rows (store/schema.py).

Pure functions: no I/O. Dates become ISO days, instants become UTC ISO strings with
microseconds, so rows compare and sort the same however HubSpot spelled them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal

# The marker csm-tui puts in what it creates, so a retry finds the record instead of
# creating it twice. The outbox id is 32 hex characters.
MARKER_PROPERTY = "csm_tui_id"
MARKER_RE = re.compile(r"\[csm-tui ([0-9a-f]{32})\]")

# HubSpot keeps a contact's current sequence on the contact itself; when a portal returns these,
# no per-contact enrollment read is needed.
ENROLLMENT_PROPERTIES = (
    "hs_sequences_is_enrolled",
    "hs_latest_sequence_enrolled",
    "hs_latest_sequence_enrolled_date",
)
ENGAGEMENT_KIND = {"notes": "note", "calls": "call", "meetings": "meeting", "emails": "email"}
DEAL_KIND = {"newbusiness": "new", "existingbusiness": "expansion", "renewal": "renewal"}
CLOSED_TICKET_STAGES = {"4", "closed", "CLOSED", "Closed"}
ROLES = {"admin", "champion", "user"}
_TAG = re.compile(r"<[^>]+>")
_EPOCH = re.compile(r"-?\d+(\.\d+)?")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SCHEME = re.compile(r"^[a-z]+://")
_UTC_ISO = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)", re.ASCII
)


def marker_text(outbox_id: str) -> str:
    """The marker written into a pushed record's body."""
    return f"[csm-tui {outbox_id}]"


def find_marker(*texts: str | None) -> str | None:
    """The outbox id a record was pushed with, if it carries our marker."""
    for text in texts:
        if text:
            found = MARKER_RE.search(text)
            if found:
                return found.group(1)
    return None


def strip_marker(text: str) -> str:
    """The text without our marker (and the space around it)."""
    return MARKER_RE.sub("", text).strip()


def _moment(value: Any) -> datetime | None:
    """An aware datetime from epoch ms or an ISO string; None when empty or unreadable."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        if _EPOCH.fullmatch(text):
            return datetime.fromtimestamp(float(text) / 1000, tz=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def instant(value: Any) -> str | None:
    """An ISO instant in UTC from epoch ms or an ISO string; None when empty or unreadable."""
    if isinstance(value, str):
        found = _UTC_ISO.fullmatch(value)
        if found is not None:
            # Already UTC (what HubSpot and PostHog send): validate the calendar, then spell it
            # the way isoformat would, without its cost (a sync reads a few hundred thousand).
            try:
                datetime.fromisoformat(found.group(1))
            except ValueError:
                return None
            return f"{found.group(1)}.{(found.group(2) or '').ljust(6, '0')}+00:00"
    moment = _moment(value)
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    except (ValueError, OverflowError):
        return None


def epoch_ms(value: Any) -> int | None:
    """Epoch milliseconds from epoch ms or an ISO string."""
    moment = _moment(value)
    if moment is None:
        return None
    try:
        return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        return None


def day(value: Any) -> str | None:
    """An ISO day from '2026-03-01', an ISO instant or epoch ms."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if _DAY.fullmatch(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    moment = instant(text)
    return moment[:10] if moment else None


def number(value: Any) -> float | None:
    """A float from a property string; None when empty or not a number."""
    if value in (None, ""):
        return None
    try:
        found = float(str(value).replace(",", ""))
    except ValueError:
        return None
    return found if found == found else None  # NaN is not a number here


def whole(value: Any) -> int | None:
    """An int from a property string."""
    found = number(value)
    return round(found) if found is not None else None


def flag(value: Any) -> int:
    """1 for HubSpot's "true", else 0."""
    return 1 if str(value).strip().lower() == "true" else 0


def plain(value: Any) -> str:
    """Text without HTML tags (notes bodies are HTML) and with collapsed whitespace."""
    if value in (None, ""):
        return ""
    return " ".join(_TAG.sub(" ", str(value)).split())


def domain(value: Any) -> str | None:
    """A company domain as analytics groups use it: lower case, no scheme, no www."""
    if value in (None, ""):
        return None
    return _domain(str(value))


@lru_cache(maxsize=65_536)
def _domain(value: str) -> str | None:
    """Cached: an analytics pull maps the same few thousand groups a million times."""
    text = value.strip().lower()
    text = _SCHEME.sub("", text).split("/")[0]
    return text.removeprefix("www.") or None


@dataclass(frozen=True)
class PropertyNames:
    """The CRM property names in force (settings.crm.properties); "" means not used."""

    arr: str = "arr"
    renewal_date: str = "renewal_date"
    contract_start: str = "contract_start_date"
    seats: str = "seats"
    cs_stage: str = "cs_stage"
    churn_date: str = "churn_date"
    contact_role: str = "cs_role"
    unsubscribed: str = "hs_email_optout"
    bounced: str = "hs_email_hard_bounce_reason"
    ticket_escalated: str = ""
    ticket_csat: str = ""

    @classmethod
    def from_settings(cls, props: Any) -> PropertyNames:
        """From settings.crm.properties (any object with those attributes)."""
        names: dict[str, Any] = {f.name: getattr(props, f.name, f.default) for f in fields(cls)}
        return cls(**names)

    def without(self, missing: Iterable[tuple[str, str, str]]) -> PropertyNames:
        """These names with the ``missing_properties`` found blanked: what the portal lacks is
        then read as unknown, never as zero or false."""
        return replace(self, **{setting.rsplit(".", 1)[-1]: "" for _, setting, _ in missing})


# Which object each configurable property is read from.
PROPERTY_OBJECT = {
    "arr": "companies",
    "renewal_date": "companies",
    "contract_start": "companies",
    "seats": "companies",
    "cs_stage": "companies",
    "churn_date": "companies",
    "contact_role": "contacts",
    "unsubscribed": "contacts",
    "bounced": "contacts",
    "ticket_escalated": "tickets",
    "ticket_csat": "tickets",
}


def missing_properties(
    available: Mapping[str, set[str]], names: PropertyNames
) -> list[tuple[str, str, str]]:
    """The configured properties the portal lacks: (object type, setting, property name).

    ``available`` maps an object type to the property names the portal has (the properties
    API); object types it leaves out were not checked and count as fine. Unused ("") names
    are never missing. HubSpot ignores unknown names on reads (csm_tui/fakes/CONTRACT.md), so
    this is the only way to tell a missing property from an empty one.
    """
    found: list[tuple[str, str, str]] = []
    for f in fields(names):
        prop = getattr(names, f.name)
        obj_type = PROPERTY_OBJECT[f.name]
        if prop and obj_type in available and prop not in available[obj_type]:
            found.append((obj_type, f"crm.properties.{f.name}", prop))
    return found


_DEFAULT_NAMES = PropertyNames()


def properties_for(obj_type: str, names: PropertyNames) -> list[str]:
    """Which properties to ask for, per object type."""
    base = {
        "companies": [
            "name",
            "domain",
            "hubspot_owner_id",
            names.arr,
            names.seats,
            names.contract_start,
            names.renewal_date,
            names.cs_stage,
            names.churn_date,
            "industry",
            "createdate",
            "hs_lastmodifieddate",
        ],
        "contacts": [
            "firstname",
            "lastname",
            "email",
            "jobtitle",
            "phone",
            "mobilephone",
            names.contact_role,
            names.unsubscribed,
            names.bounced,
            "createdate",
            "lastmodifieddate",
            *ENROLLMENT_PROPERTIES,
        ],
        "deals": [
            "dealname",
            "dealstage",
            "amount",
            "closedate",
            "dealtype",
            "hs_lastmodifieddate",
        ],
        "tickets": [
            "subject",
            "content",  # the ticket's description: searched (store/search.py)
            "hs_pipeline_stage",
            "hs_ticket_priority",
            "createdate",
            "closed_date",
            names.ticket_escalated,
            names.ticket_csat,
            "hs_lastmodifieddate",
        ],
        "feedback_submissions": [
            "hs_survey_type",
            "hs_response_value",
            "hs_submission_timestamp",
            "hs_content",
            "hs_lastmodifieddate",
        ],
        "notes": ["hs_timestamp", "hs_note_body"],
        "calls": ["hs_timestamp", "hs_call_title", "hs_call_body"],
        "meetings": ["hs_timestamp", "hs_meeting_title", "hs_meeting_body"],
        "emails": ["hs_timestamp", "hs_email_subject", "hs_email_text"],
        "tasks": ["hs_timestamp", "hs_task_subject", "hs_task_status", "hs_task_body"],
    }[obj_type]
    if obj_type in ENGAGEMENT_KIND or obj_type == "tasks":
        base = [*base, "hubspot_owner_id", "hs_lastmodifieddate"]
    return [name for name in dict.fromkeys(base) if name]  # "" is a property not used


def account_row(record: Mapping[str, Any], names: PropertyNames) -> dict[str, Any]:
    """A company -> an `accounts` row."""
    p = record.get("properties") or {}
    return {
        "id": str(record["id"]),
        "name": str(p.get("name") or ""),
        "domain": domain(p.get("domain")),
        "owner_id": p.get("hubspot_owner_id") or None,
        "arr": number(p.get(names.arr)),
        "seats": whole(p.get(names.seats)),
        "contract_start": day(p.get(names.contract_start)),
        "renewal_date": day(p.get(names.renewal_date)),
        "cs_stage": p.get(names.cs_stage) or None,
        "churned_on": day(p.get(names.churn_date)),
        "industry": p.get("industry") or None,
        "archived": 1 if record.get("archived") else 0,
        "created_at": instant(p.get("createdate") or record.get("createdAt")),
        "updated_at": instant(p.get("hs_lastmodifieddate") or record.get("updatedAt")),
    }


def arr_history_rows(record: Mapping[str, Any], names: PropertyNames) -> list[dict[str, Any]]:
    """A company's ARR history (propertiesWithHistory) -> `arr_history` rows, last value per day."""
    history = (record.get("propertiesWithHistory") or {}).get(names.arr) or []
    by_day: dict[str, tuple[str, float]] = {}
    for entry in history:
        when = instant(entry.get("timestamp"))
        value = number(entry.get("value"))
        if when is None or value is None:
            continue
        key = when[:10]
        if key not in by_day or when >= by_day[key][0]:
            by_day[key] = (when, value)
    return [
        {"account_id": str(record["id"]), "date": key, "arr": value}
        for key, (_, value) in sorted(by_day.items())
    ]


def text_or_none(value: Any) -> str | None:
    """A text property as stored: trimmed, None when empty (HubSpot sends "" or null)."""
    text = str(value or "").strip()
    return text or None


def contact_row(
    record: Mapping[str, Any], names: PropertyNames, account_id: str | None
) -> dict[str, Any]:
    """A contact -> a `contacts` row (last_active is left to analytics)."""
    p = record.get("properties") or {}
    role = str(p.get(names.contact_role) or "").strip().lower()
    email = str(p.get("email") or "").strip().lower() or None
    return {
        "id": str(record["id"]),
        "account_id": account_id,
        "first_name": p.get("firstname") or None,
        "last_name": p.get("lastname") or None,
        "email": email,
        "title": p.get("jobtitle") or None,
        "phone": text_or_none(p.get("phone")),
        "mobile_phone": text_or_none(p.get("mobilephone")),
        "role": role if role in ROLES else "user",
        "unsubscribed": flag(p.get(names.unsubscribed)),
        "bounced": 1 if str(p.get(names.bounced) or "").strip() else 0,
        "archived": 1 if record.get("archived") else 0,
        "updated_at": instant(p.get("lastmodifieddate") or record.get("updatedAt")),
    }


def enrollment_from_properties(
    record: Mapping[str, Any], account_id: str | None
) -> dict[str, Any] | Literal[False] | None:
    """The contact's current enrollment from its own properties: a row, None when it is in no
    sequence, or False when the CRM did not say (then it has to be read per contact)."""
    p = record.get("properties") or {}
    state = p.get("hs_sequences_is_enrolled")
    if state in (None, ""):
        return False
    sequence = p.get("hs_latest_sequence_enrolled")
    if str(state).lower() != "true" or not sequence or record.get("archived"):
        return None
    return {
        "id": f"crm:enrollment:{record['id']}",
        "contact_id": str(record["id"]),
        "sequence_id": str(sequence),
        "account_id": account_id,
        "state": "active",
        "enrolled_at": instant(p.get("hs_latest_sequence_enrolled_date")),
        "remote_id": None,
        "origin": "crm",
    }


def deal_row(record: Mapping[str, Any], account_id: str | None) -> dict[str, Any]:
    """A deal -> a `deals` row."""
    p = record.get("properties") or {}
    kind = str(p.get("dealtype") or "")
    return {
        "id": str(record["id"]),
        "account_id": account_id,
        "name": p.get("dealname") or None,
        "stage": p.get("dealstage") or None,
        "kind": DEAL_KIND.get(kind, kind or None),
        "amount": number(p.get("amount")),
        "close_date": day(p.get("closedate")),
        "archived": 1 if record.get("archived") else 0,
        "updated_at": instant(p.get("hs_lastmodifieddate") or record.get("updatedAt")),
    }


def ticket_row(
    record: Mapping[str, Any], account_id: str | None, names: PropertyNames | None = None
) -> dict[str, Any]:
    """A ticket -> a `tickets` row; escalated and csat are NULL (unknown) when their property
    is not used or the portal lacks it (``names`` with it blanked: PropertyNames.without)."""
    p = record.get("properties") or {}
    names = names or _DEFAULT_NAMES
    escalated, csat = names.ticket_escalated, names.ticket_csat
    closed_at = instant(p.get("closed_date"))
    stage = str(p.get("hs_pipeline_stage") or "")
    closed = stage in CLOSED_TICKET_STAGES or closed_at is not None
    return {
        "id": str(record["id"]),
        "account_id": account_id,
        "subject": p.get("subject") or None,
        "body": p.get("content") or None,
        "status": "closed" if closed else "open",
        "priority": (p.get("hs_ticket_priority") or None),
        "escalated": flag(p.get(escalated)) if escalated else None,
        "created_at": instant(p.get("createdate") or record.get("createdAt")),
        "closed_at": closed_at,
        "csat": whole(p.get(csat)) if csat else None,
        "archived": 1 if record.get("archived") else 0,
        "updated_at": instant(p.get("hs_lastmodifieddate") or record.get("updatedAt")),
    }


def survey_row(
    record: Mapping[str, Any], account_id: str | None, contact_id: str | None
) -> dict[str, Any] | None:
    """A feedback submission -> a `survey_responses` row; None without a usable score."""
    p = record.get("properties") or {}
    kind = str(p.get("hs_survey_type") or "").strip().lower()
    score = whole(p.get("hs_response_value"))
    if kind not in ("nps", "csat") or score is None:
        return None
    return {
        "id": str(record["id"]),
        "account_id": account_id,
        "contact_id": contact_id,
        "kind": kind,
        "score": score,
        "comment": plain(p.get("hs_content")) or None,
        "submitted_at": instant(p.get("hs_submission_timestamp") or record.get("createdAt")),
        "archived": 1 if record.get("archived") else 0,
        "updated_at": instant(p.get("hs_lastmodifieddate") or record.get("updatedAt")),
    }


def engagement_summary(obj_type: str, p: Mapping[str, Any]) -> str:
    """The one-line summary of an engagement (title and body, without HTML or our marker)."""
    parts = {
        "notes": [p.get("hs_note_body")],
        "calls": [p.get("hs_call_title"), p.get("hs_call_body")],
        "meetings": [p.get("hs_meeting_title"), p.get("hs_meeting_body")],
        "emails": [p.get("hs_email_subject"), p.get("hs_email_text")],
        "tasks": [p.get("hs_task_subject")],
    }[obj_type]
    text = " — ".join(t for t in (strip_marker(plain(x)) for x in parts) if t)
    return text


def touch_row(
    obj_type: str, record: Mapping[str, Any], account_id: str, contact_id: str | None
) -> dict[str, Any]:
    """A note / call / meeting / email -> a `touches` row with origin 'crm'."""
    p = record.get("properties") or {}
    kind = ENGAGEMENT_KIND[obj_type]
    if kind == "meeting" and str(p.get("hs_meeting_title") or "").strip().upper().startswith("QBR"):
        kind = "qbr"
    when = instant(p.get("hs_timestamp")) or instant(record.get("createdAt")) or ""
    return {
        "id": f"crm:{obj_type}:{record['id']}",
        "account_id": account_id,
        "contact_id": contact_id,
        "kind": kind,
        "occurred_at": when,
        "summary": engagement_summary(obj_type, p),
        "sentiment": None,
        "remote_id": str(record["id"]),
        "origin": "crm",
        "created_at": instant(record.get("createdAt")) or when,
    }


def next_step_row(record: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """A task -> a `next_steps` row with origin 'crm' (done when COMPLETED)."""
    p = record.get("properties") or {}
    return {
        "id": f"crm:tasks:{record['id']}",
        "account_id": account_id,
        "touch_id": None,
        "title": strip_marker(plain(p.get("hs_task_subject"))) or "(untitled task)",
        "due_date": day(p.get("hs_timestamp")),
        "done": 1 if str(p.get("hs_task_status") or "").upper() == "COMPLETED" else 0,
        "remote_id": str(record["id"]),
        "origin": "crm",
        "created_at": instant(record.get("createdAt")) or instant(p.get("hs_timestamp")) or "",
    }


def record_marker(obj_type: str, record: Mapping[str, Any]) -> str | None:
    """The outbox id of a record csm-tui pushed (property or body marker), else None."""
    p = record.get("properties") or {}
    value = str(p.get(MARKER_PROPERTY) or "").strip().lower()
    if re.fullmatch(r"[0-9a-f]{32}", value):
        return value
    return find_marker(
        *(
            p.get(k)
            for k in (
                "hs_note_body",
                "hs_call_body",
                "hs_meeting_body",
                "hs_email_text",
                "hs_task_body",
            )
        )
    )
