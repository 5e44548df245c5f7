"""What the fake HubSpot portal holds: its property schema, association types and scopes.

Sources are named beside each table (tags as in the team's shared VENDOR-CONTRACTS.md): HS-spec is
``HubSpot/HubSpot-public-api-spec-collection``, HS-py is ``HubSpot/hubspot-api-python``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

ENGAGEMENTS = ("notes", "calls", "meetings", "emails", "tasks")
SINGULAR = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
    "tickets": "ticket",
    "feedback_submissions": "feedback_submission",
    "notes": "note",
    "calls": "call",
    "meetings": "meeting",
    "emails": "email",
    "tasks": "task",
}
# Object type ids HubSpot accepts in paths in place of names (HS-spec, e.g. deals.json uses 0-3).
OBJECT_TYPE_IDS = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "tickets": "0-5",
    "feedback_submissions": "0-19",
    "notes": "0-46",
    "calls": "0-48",
    "meetings": "0-47",
    "emails": "0-49",
    "tasks": "0-27",
}
TYPE_ALIASES: dict[str, str] = {
    **{t: t for t in SINGULAR},
    **{s: t for t, s in SINGULAR.items()},
    **{i: t for t, i in OBJECT_TYPE_IDS.items()},
}

# -- errors ------------------------------------------------------------------------------------


class ApiError(Exception):
    """Raised inside the fake; becomes a HubSpot error response (HS-spec ``Error``)."""

    def __init__(
        self, status: int, message: str, category: str | None = "VALIDATION_ERROR", **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = extra

    def body(self, correlation_id: str) -> dict[str, Any]:
        """HubSpot's error body: status, message, correlationId, category, then the extras."""
        out: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id,
        }
        if self.category is not None:
            out["category"] = self.category
        out.update(self.extra)
        return out


def new_correlation_id() -> str:
    """A fresh correlation id (a UUID, HS-spec ``Error.correlationId``)."""
    return str(uuid.uuid4())


# -- property schema ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyDef:
    """One property of one object type, as the properties API describes it."""

    name: str
    type: str  # string | number | datetime | date | enumeration | bool
    field_type: str
    label: str = ""
    group: str = "information"
    options: tuple[str, ...] = ()  # enumeration values; empty: not checked (e.g. owners)
    read_only: bool = False
    calculated: bool = False
    unique: bool = False
    hubspot_defined: bool = True

    def describe(self, obj_type: str, created_at: str) -> dict[str, Any]:
        """The property in the properties API's shape (HS-docs "Read all properties")."""
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label or self.name.replace("_", " ").capitalize(),
            "type": self.type,
            "fieldType": self.field_type,
            "description": "",
            "groupName": f"{SINGULAR[obj_type]}{self.group}"
            if self.group == "information"
            else self.group,
            "options": [
                {
                    "label": o.replace("_", " ").title(),
                    "value": o,
                    "displayOrder": i,
                    "hidden": False,
                }
                for i, o in enumerate(self.options)
            ],
            "displayOrder": -1,
            "calculated": self.calculated,
            "externalOptions": self.name == "hubspot_owner_id",
            "hasUniqueValue": self.unique,
            "hidden": False,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            "createdAt": created_at,
            "updatedAt": created_at,
            "archived": False,
        }
        if self.hubspot_defined:
            out["hubspotDefined"] = True
        return out


def _s(name: str, **kw: Any) -> PropertyDef:
    return PropertyDef(name, "string", kw.pop("field_type", "text"), **kw)


def _n(name: str, **kw: Any) -> PropertyDef:
    return PropertyDef(name, "number", "number", **kw)


def _dt(name: str, **kw: Any) -> PropertyDef:
    return PropertyDef(name, "datetime", "date", **kw)


def _d(name: str, **kw: Any) -> PropertyDef:
    return PropertyDef(name, "date", "date", **kw)


def _e(name: str, *options: str, **kw: Any) -> PropertyDef:
    return PropertyDef(name, "enumeration", "select", options=options, **kw)


def _b(name: str, **kw: Any) -> PropertyDef:
    return PropertyDef(name, "bool", "booleancheckbox", options=("true", "false"), **kw)


def _custom(prop: PropertyDef) -> PropertyDef:
    return replace(prop, hubspot_defined=False, group="customer_success")


_OWNER = _e("hubspot_owner_id", label="Owner")
_ID = _n("hs_object_id", label="Record ID", read_only=True, calculated=True)
_MODIFIED = _dt("hs_lastmodifieddate", label="Last Modified Date", read_only=True)

# Default properties of each standard object plus the custom ones the demo portfolio sets
# (csm_tui/fakes/portfolio.py; csm_tui/sync/mapping.py names the ones the client reads).
# Engagement option lists: HS-docs calls, meetings, emails and tasks guides.
# Companies and contacts share HubSpot's lifecycle stages.
_LIFECYCLE = _e(
    "lifecyclestage",
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

_OBJECT_PROPERTIES: dict[str, tuple[PropertyDef, ...]] = {
    "companies": (
        _s("name", label="Company name"),
        _s("domain", label="Company domain name"),
        _s("website"),
        _s("industry"),
        _s("city"),
        _s("country"),
        _s("phone", field_type="phonenumber"),
        _s("description", field_type="textarea"),
        _n("numberofemployees"),
        _n("annualrevenue"),
        _LIFECYCLE,
        _OWNER,
        _dt("createdate", label="Create Date"),
        _MODIFIED,
        _ID,
        _dt("notes_last_updated", read_only=True, calculated=True),
        _dt("hs_last_sales_activity_timestamp", read_only=True, calculated=True),
        _n("num_associated_contacts", read_only=True, calculated=True),
        _n("num_associated_deals", read_only=True, calculated=True),
        _custom(_n("arr", label="ARR")),
        _custom(_n("seats", label="Seats licensed")),
        _custom(_d("contract_start_date", label="Contract start date")),
        _custom(_d("renewal_date", label="Renewal date")),
        _custom(_d("churn_date", label="Churn date")),
        _custom(_s("cs_stage", label="CS stage")),
    ),
    "contacts": (
        _s("firstname", label="First Name"),
        _s("lastname", label="Last Name"),
        _s("email", label="Email", unique=True),
        # Default contact properties the client reads for the people of an account: names, job
        # title, phone and mobile phone (HS-docs contacts guide; HubSpot's default contact
        # properties, knowledge.hubspot.com; CONTRACT.md "Contacts' people fields").
        _s("jobtitle", label="Job Title"),
        _s("phone", label="Phone Number", field_type="phonenumber"),
        _s("mobilephone", label="Mobile Phone Number", field_type="phonenumber"),
        _s("company", label="Company Name"),
        _LIFECYCLE,
        _OWNER,
        _n("associatedcompanyid", read_only=True, calculated=True),
        _b("hs_email_optout", label="Unsubscribed from all email"),
        _s("hs_email_hard_bounce_reason", read_only=True, calculated=True),
        _dt("createdate", label="Create Date"),
        # Contacts keep their modified date in ``lastmodifieddate``; ``hs_lastmodifieddate`` is
        # not a contact property (HS-docs search, contact defaults; amp-labs/connectors PR #45).
        _dt("lastmodifieddate", label="Last Modified Date", read_only=True),
        _ID,
        _dt("notes_last_updated", read_only=True, calculated=True),
        _dt("hs_last_sales_activity_timestamp", read_only=True, calculated=True),
        # Sequence state on the contact (names: n8n-io/n8n Hubspot GenericFunctions.ts).
        _b("hs_sequences_is_enrolled", label="Currently in Sequence", read_only=True),
        _n("hs_sequences_enrolled_count", read_only=True, calculated=True),
        _n("hs_sequences_actively_enrolled_count", read_only=True, calculated=True),
        _n("hs_latest_sequence_enrolled", read_only=True),
        _dt("hs_latest_sequence_enrolled_date", read_only=True),
        _custom(_e("cs_role", "admin", "champion", "user", label="CS role")),
    ),
    "deals": (
        _s("dealname", label="Deal Name"),
        _e(
            "dealstage",
            "appointmentscheduled",
            "qualifiedtobuy",
            "presentationscheduled",
            "decisionmakerboughtin",
            "contractsent",
            "closedwon",
            "closedlost",
        ),
        _e("pipeline", "default"),
        _n("amount"),
        _dt("closedate", label="Close Date"),
        _e("dealtype", "newbusiness", "existingbusiness", "renewal"),
        _s("closed_lost_reason", field_type="textarea"),
        _OWNER,
        _dt("createdate", label="Create Date"),
        _MODIFIED,
        _ID,
        _b("hs_is_closed", read_only=True, calculated=True),
        _b("hs_is_closed_won", read_only=True, calculated=True),
    ),
    "tickets": (
        _s("subject", label="Ticket name"),
        # The ticket's description (HS-docs tickets v1 examples; fakes/CONTRACT.md).
        _s("content", field_type="textarea"),
        _e("hs_pipeline", "0"),
        _e("hs_pipeline_stage", "1", "2", "3", "4"),
        _e("hs_ticket_priority", "LOW", "MEDIUM", "HIGH", "URGENT"),
        _s("hs_ticket_category"),
        _dt("closed_date"),
        _OWNER,
        _dt("createdate", label="Create Date"),
        _MODIFIED,
        _ID,
        # Custom names most portals lack: a test can build a portal without them
        # (``demo_schema(without=...)`` or ``FakeHubSpot.remove_property``).
        _custom(_b("escalated", label="Escalated")),
        _custom(_n("csat_score", label="CSAT score")),
    ),
    "feedback_submissions": (
        _e("hs_survey_type", "NPS", "CSAT", "CES", "CUSTOM", read_only=True),
        _s("hs_survey_name", read_only=True),
        _n("hs_response_value", read_only=True),
        _dt("hs_submission_timestamp", read_only=True),
        _s("hs_content", field_type="textarea", read_only=True),
        _dt("createdate", label="Create Date", read_only=True),
        _MODIFIED,
        _ID,
    ),
}
_ENGAGEMENT_COMMON = (
    _dt("hs_timestamp", label="Activity date"),
    _OWNER,
    _s("hs_attachment_ids"),
    _dt("hs_createdate", label="Create Date", read_only=True),
    _MODIFIED,
    _ID,
)
_ENGAGEMENT_PROPERTIES: dict[str, tuple[PropertyDef, ...]] = {
    "notes": (_s("hs_note_body", field_type="html"),),
    "calls": (
        _s("hs_call_title"),
        _s("hs_call_body", field_type="html"),
        _e("hs_call_direction", "INBOUND", "OUTBOUND"),
        _e(
            "hs_call_status",
            "BUSY",
            "CALLING_CRM_USER",
            "CANCELED",
            "COMPLETED",
            "CONNECTING",
            "FAILED",
            "IN_PROGRESS",
            "MISSED",
            "NO_ANSWER",
            "QUEUED",
            "RINGING",
        ),
        _n("hs_call_duration"),
        _s("hs_call_disposition"),
    ),
    "meetings": (
        _s("hs_meeting_title"),
        _s("hs_meeting_body", field_type="html"),
        _s("hs_internal_meeting_notes", field_type="html"),
        _s("hs_meeting_location"),
        _dt("hs_meeting_start_time"),
        _dt("hs_meeting_end_time"),
        _e("hs_meeting_outcome", "SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
    ),
    "emails": (
        _s("hs_email_subject"),
        _s("hs_email_text", field_type="textarea"),
        _s("hs_email_html", field_type="html"),
        _s("hs_email_headers", field_type="textarea"),
        _e("hs_email_direction", "EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
        _e("hs_email_status", "BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"),
    ),
    "tasks": (
        _s("hs_task_subject"),
        _s("hs_task_body", field_type="html"),
        _e("hs_task_status", "NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        _e("hs_task_priority", "NONE", "LOW", "MEDIUM", "HIGH"),
        _e(
            "hs_task_type",
            "EMAIL",
            "CALL",
            "TODO",
            "LINKED_IN",
            "LINKED_IN_CONNECT",
            "LINKED_IN_MESSAGE",
        ),
        _dt("hs_task_completion_date", read_only=True),
    ),
}

Schema = dict[str, dict[str, PropertyDef]]


def demo_schema(without: Iterable[tuple[str, str]] = ()) -> Schema:
    """The demo portal's properties per object type, less the ``(type, name)`` pairs given."""
    schema: Schema = {t: {p.name: p for p in props} for t, props in _OBJECT_PROPERTIES.items()}
    for obj_type, props in _ENGAGEMENT_PROPERTIES.items():
        schema[obj_type] = {p.name: p for p in (*_ENGAGEMENT_COMMON, *props)}
    for obj_type, name in without:
        schema[TYPE_ALIASES[obj_type]].pop(name, None)
    return schema


def modified_property(obj_type: str) -> str:
    """The last-modified property HubSpot keeps on an object type."""
    return "lastmodifieddate" if obj_type == "contacts" else "hs_lastmodifieddate"


def created_property(obj_type: str) -> str:
    """The created-at property HubSpot returns for an object type."""
    return "hs_createdate" if obj_type in ENGAGEMENTS else "createdate"


# Properties HubSpot returns for a record when the request names none (HS-spec list/GET
# descriptions; contacts: HS-docs contacts guide).
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": ("name", "domain"),
    "contacts": ("firstname", "lastname", "email"),
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage"),
    "tickets": ("subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority"),
    "feedback_submissions": ("hs_survey_type", "hs_response_value", "hs_submission_timestamp"),
    "notes": (),
    "calls": (),
    "meetings": (),
    "emails": (),
    "tasks": (),
}
MAX_TEXT = 65_536  # HS-docs notes guide: hs_note_body holds at most 65,536 characters
_EPOCH_MS = re.compile(r"-?\d+")


def to_ms(text: str) -> int | None:
    """Epoch ms from an epoch-ms string, an ISO instant or an ISO date (midnight UTC)."""
    text = text.strip()
    if _EPOCH_MS.fullmatch(text):
        return int(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def is_epoch_ms(text: str) -> bool:
    """True for an epoch-milliseconds string (the only date form search filters take)."""
    return bool(_EPOCH_MS.fullmatch(text.strip()))


def hs_instant(ms: int) -> str:
    """Epoch ms as HubSpot writes a datetime: ``2026-03-01T14:05:09.123Z``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def check_values(
    obj_type: str,
    values: Mapping[str, Any],
    schema: Schema,
    owner_ids: set[str],
) -> dict[str, str | None]:
    """Validate written property values; return them as stored strings (None clears one).

    Refuses with 400 VALIDATION_ERROR, naming each bad property: a property the portal lacks
    (``PROPERTY_DOESNT_EXIST``), a read-only one, a value of the wrong type, an option not in
    the list, an unknown owner. (Error names: third-party quotes of HubSpot's answers; exact
    body unverified, VENDOR-CONTRACTS 1.5.)
    """
    props = schema[obj_type]
    errors: list[dict[str, Any]] = []
    out: dict[str, str | None] = {}

    def bad(name: str, code: str, message: str) -> None:
        errors.append({"isValid": False, "message": message, "error": code, "name": name})

    for name, raw in values.items():
        prop = props.get(name)
        if prop is None:
            bad(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            continue
        if prop.read_only:
            bad(name, "READ_ONLY_VALUE", f'Property "{name}" is a read only property')
            continue
        if isinstance(raw, (list, dict)):
            bad(name, "INVALID_VALUE", f"{json.dumps(raw)} is not a valid value for {name}")
            continue
        if raw is None or raw == "":
            out[name] = None
            continue
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        stored = _stored_value(prop, text, owner_ids)
        if isinstance(stored, tuple):
            bad(name, *stored)
        else:
            out[name] = stored
    if errors:
        raise ApiError(
            400,
            f"Property values were not valid: {json.dumps(errors)}",
            "VALIDATION_ERROR",
            errors=[
                {
                    "message": e["message"],
                    "code": e["error"],
                    "context": {"propertyName": [e["name"]]},
                }
                for e in errors
            ],
        )
    return out


def _stored_value(prop: PropertyDef, text: str, owner_ids: set[str]) -> str | tuple[str, str]:
    """The stored form of a valid value, or (error code, message)."""
    name = prop.name
    if prop.type == "number":
        try:
            float(text)
        except ValueError:
            return "INVALID_FLOAT", f"{text!r} is not a valid number for {name}"
        return text
    if prop.type == "datetime":
        ms = to_ms(text)
        if ms is None or (len(text) == 10 and not is_epoch_ms(text)):
            return "INVALID_DATETIME", f"{text!r} is not a valid datetime for {name}"
        return hs_instant(ms)
    if prop.type == "date":
        # Date properties hold midnight UTC; any other instant is refused (HS-docs
        # "Properties": "date ... must be set to midnight UTC").
        ms = to_ms(text)
        if ms is None or ms % 86_400_000 != 0 or not (len(text) == 10 or is_epoch_ms(text)):
            return "INVALID_DATE", f"{text!r} is not midnight UTC (a date) for {name}"
        return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()
    if prop.type == "bool":
        if text.lower() not in ("true", "false"):
            return "INVALID_BOOLEAN", f"{text!r} is not a valid boolean for {name}"
        return text.lower()
    if prop.type == "enumeration":
        if name == "hubspot_owner_id":
            if text not in owner_ids:
                return "INVALID_OWNER_ID", f"{text} is not a valid owner id"
            return text
        wanted = text.split(";")
        if prop.options and any(v not in prop.options for v in wanted):
            return (
                "INVALID_OPTION",
                f"{text} was not one of the allowed options: {list(prop.options)}",
            )
        return text
    if len(text) > MAX_TEXT:
        return "INVALID_LENGTH", f"{name} is longer than {MAX_TEXT} characters"
    return text


# -- associations -------------------------------------------------------------------------------

# HUBSPOT_DEFINED association type ids, (from, to) -> (primary id or None, default id).
# HS-py hubspot/crm/association_type.py @ca666c18; feedback <-> company 928/929 from the same
# file @5e24b4c5 (unverified in VENDOR-CONTRACTS 1.5).
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int | None, int]] = {
    ("contacts", "companies"): (1, 279),
    ("companies", "contacts"): (2, 280),
    ("deals", "companies"): (5, 341),
    ("companies", "deals"): (6, 342),
    ("tickets", "companies"): (26, 339),
    ("companies", "tickets"): (25, 340),
    ("deals", "contacts"): (None, 3),
    ("contacts", "deals"): (None, 4),
    ("contacts", "tickets"): (None, 15),
    ("tickets", "contacts"): (None, 16),
    ("deals", "tickets"): (None, 27),
    ("tickets", "deals"): (None, 28),
    ("contacts", "feedback_submissions"): (None, 97),
    ("feedback_submissions", "contacts"): (None, 98),
    ("tickets", "feedback_submissions"): (None, 99),
    ("feedback_submissions", "tickets"): (None, 100),
    ("feedback_submissions", "companies"): (None, 928),
    ("companies", "feedback_submissions"): (None, 929),
    ("companies", "calls"): (None, 181),
    ("calls", "companies"): (None, 182),
    ("companies", "emails"): (None, 185),
    ("emails", "companies"): (None, 186),
    ("companies", "meetings"): (None, 187),
    ("meetings", "companies"): (None, 188),
    ("companies", "notes"): (None, 189),
    ("notes", "companies"): (None, 190),
    ("companies", "tasks"): (None, 191),
    ("tasks", "companies"): (None, 192),
    ("contacts", "calls"): (None, 193),
    ("calls", "contacts"): (None, 194),
    ("contacts", "emails"): (None, 197),
    ("emails", "contacts"): (None, 198),
    ("contacts", "meetings"): (None, 199),
    ("meetings", "contacts"): (None, 200),
    ("contacts", "notes"): (None, 201),
    ("notes", "contacts"): (None, 202),
    ("contacts", "tasks"): (None, 203),
    ("tasks", "contacts"): (None, 204),
    ("deals", "calls"): (None, 205),
    ("calls", "deals"): (None, 206),
    ("deals", "emails"): (None, 209),
    ("emails", "deals"): (None, 210),
    ("deals", "meetings"): (None, 211),
    ("meetings", "deals"): (None, 212),
    ("deals", "notes"): (None, 213),
    ("notes", "deals"): (None, 214),
    ("deals", "tasks"): (None, 215),
    ("tasks", "deals"): (None, 216),
    ("tickets", "calls"): (None, 219),
    ("calls", "tickets"): (None, 220),
    ("tickets", "emails"): (None, 223),
    ("emails", "tickets"): (None, 224),
    ("tickets", "meetings"): (None, 225),
    ("meetings", "tickets"): (None, 226),
    ("tickets", "notes"): (None, 227),
    ("notes", "tickets"): (None, 228),
    ("tickets", "tasks"): (None, 229),
    ("tasks", "tickets"): (None, 230),
}
# (from type, type id) -> (to type, primary?): what an association type id on a create means.
TYPE_ID_TARGET: dict[tuple[str, int], tuple[str, bool]] = {}
for (_from, _to), (_primary, _default) in ASSOCIATION_TYPES.items():
    TYPE_ID_TARGET[(_from, _default)] = (_to, False)
    if _primary is not None:
        TYPE_ID_TARGET[(_from, _primary)] = (_to, True)


def v3_type_names(from_type: str, to_type: str) -> tuple[str, str]:
    """(primary, other) v3 association type strings: ``contact_to_company`` and
    ``contact_to_company_unlabeled`` where the pair has a primary, else the plain name twice
    (HS-spec ``AssociatedId`` example ``deal_to_contact``; public integration fixtures)."""
    plain = f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"
    primary, _ = ASSOCIATION_TYPES.get((from_type, to_type), (None, 0))
    return (plain, f"{plain}_unlabeled") if primary is not None else (plain, plain)


def v4_types(from_type: str, to_type: str, primary: bool) -> list[dict[str, Any]]:
    """The v4 ``associationTypes`` of one link: a primary link carries the Primary label and
    the unlabeled type both (VENDOR-CONTRACTS 1.3)."""
    primary_id, default_id = ASSOCIATION_TYPES.get((from_type, to_type), (None, 0))
    out = []
    if primary and primary_id is not None:
        out.append({"category": "HUBSPOT_DEFINED", "typeId": primary_id, "label": "Primary"})
    out.append({"category": "HUBSPOT_DEFINED", "typeId": default_id, "label": None})
    return out


# -- scopes --------------------------------------------------------------------------------------

# Read scopes per object type (HS-spec ``security`` of each object's list/search/batch read).
# Where the spec offers alternatives the fake takes the stricter reading: feedback submissions
# need their own scope (contacts read alone is not enough); emails need ``sales-email-read``
# as well as contacts read.
READ_SCOPES: dict[str, tuple[str, ...]] = {
    "companies": ("crm.objects.companies.read",),
    "contacts": ("crm.objects.contacts.read",),
    "deals": ("crm.objects.deals.read",),
    "tickets": ("tickets",),
    "feedback_submissions": ("crm.objects.feedback_submissions.read",),
    "notes": ("crm.objects.contacts.read",),
    "calls": ("crm.objects.contacts.read",),
    "meetings": ("crm.objects.contacts.read",),
    "emails": ("crm.objects.contacts.read", "sales-email-read"),
    "tasks": ("crm.objects.contacts.read",),
}
WRITE_SCOPES: dict[str, tuple[str, ...]] = {
    "companies": ("crm.objects.companies.write",),
    "contacts": ("crm.objects.contacts.write",),
    "deals": ("crm.objects.deals.write",),
    "tickets": ("tickets",),
    "notes": ("crm.objects.contacts.write",),
    "calls": ("crm.objects.contacts.write",),
    "meetings": ("crm.objects.contacts.write",),
    "emails": ("crm.objects.contacts.write", "sales-email-read"),
    "tasks": ("crm.objects.contacts.write",),
}
OWNERS_SCOPE = "crm.objects.owners.read"  # HS-spec crmOwners.json
SEQUENCES_READ_SCOPE = "automation.sequences.read"  # HS-spec sequences v4
ENROLL_SCOPE = "automation.sequences.enrollments.write"  # HS-spec sequences v4
# What a csm-tui private app is granted by default: everything the client could need.
DEFAULT_SCOPES: frozenset[str] = frozenset(
    {
        *(s for scopes in READ_SCOPES.values() for s in scopes),
        "crm.objects.contacts.write",
        OWNERS_SCOPE,
        SEQUENCES_READ_SCOPE,
        ENROLL_SCOPE,
    }
)


def missing_scopes(required: Iterable[str], granted: set[str]) -> ApiError | None:
    """The 403 MISSING_SCOPES error when ``granted`` lacks any of ``required`` (VENDOR-CONTRACTS
    1.8, after ``HubSpot/hubspot-api-nodejs#268``), else None."""
    lacking = [s for s in required if s not in granted]
    if not lacking:
        return None
    return ApiError(
        403,
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": lacking},
            }
        ],
        links={"scopes": "https://developers.hubspot.com/scopes"},
    )


@dataclass
class HubSpotUser:
    """A HubSpot user behind an owner: their paid seat and connected inboxes (sequences)."""

    user_id: str
    email: str
    # A Sales Hub or Service Hub Professional/Enterprise seat (HS-docs sequences guide).
    sequences_seat: bool = True
    # Connected personal inboxes sequences may send from (knowledge.hubspot.com "Use sequences").
    inboxes: list[str] = field(default_factory=list)
