"""Where an account lives in the CRM: HubSpot's address of a company record.

The address needs the portal's id (HubSpot calls it the hub id, or portal id). The sync learns it
once from the token-info endpoint (``hubId``; csm_tui/fakes/CONTRACT.md) and keeps it in
``sync_state`` (source ``sync``, object ``crm-portal``, beside the sync's own state; a
``crm`` row is an object's cursor), so no migration is needed.
"""

from __future__ import annotations

import json

import sqlite_utils

PORTAL_STATE = ("sync", "crm-portal")  # the sync_state row (beside the run's own) keeping it
# A company record in HubSpot's app (the form integrations link to; the app redirects it to the
# record page: csm_tui/fakes/CONTRACT.md, "Links into HubSpot").
COMPANY_URL = "https://app.hubspot.com/contacts/{portal_id}/company/{company_id}"


def remember_portal(db: sqlite_utils.Database, portal_id: int | str) -> None:
    """Keep the portal's id (from the token info's ``hubId``)."""
    db.execute(
        "INSERT INTO sync_state (source, object, stats) VALUES (?, ?, ?) "
        "ON CONFLICT (source, object) DO UPDATE SET stats = excluded.stats",
        [*PORTAL_STATE, json.dumps({"portal_id": str(portal_id)})],
    )


def portal_id(db: sqlite_utils.Database) -> str | None:
    """The portal's id, once a sync has learnt it."""
    row = db.execute(
        "SELECT stats FROM sync_state WHERE source = ? AND object = ?", list(PORTAL_STATE)
    ).fetchone()
    try:
        found = json.loads(row[0]).get("portal_id") if row and row[0] else None
    except (ValueError, AttributeError):
        return None
    return str(found) if found and str(found).isdigit() else None


def company_url(portal: str, company_id: str) -> str:
    """The company record's address in HubSpot."""
    return COMPANY_URL.format(portal_id=portal, company_id=company_id)


def account_crm_url(db: sqlite_utils.Database, account_id: str) -> tuple[str | None, str]:
    """(the account's HubSpot address, "") or (None, why there is none)."""
    known = db.execute("SELECT id FROM accounts WHERE id = ?", [account_id]).fetchone()
    if known is None:
        return None, "This account is no longer in the cache."
    if not account_id.isdigit():
        return None, "This account has no HubSpot record id."
    portal = portal_id(db)
    if portal is None:
        return None, "The HubSpot portal id is not known yet: press r to sync, then o again."
    return company_url(portal, account_id), ""
