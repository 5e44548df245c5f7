"""HubSpot CRM v3/v4: list and search paging, owners, associations, engagement creates,
sequences and enrollments (DESIGN.md section 4)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from csm_tui.sources.http import ApiClient, ApiError, BadResponse

LIST_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
ASSOC_BATCH = 100

# Which property says "last modified" per object type (contacts differ).
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate"}
DEFAULT_MODIFIED = "hs_lastmodifieddate"

# HUBSPOT_DEFINED association type ids, engagement -> (contact, company).
ENGAGEMENT_ASSOCIATION = {
    "notes": (202, 190),
    "tasks": (204, 192),
    "calls": (194, 182),
    "meetings": (200, 188),
    "emails": (198, 186),
}


def modified_property(obj_type: str) -> str:
    """The 'last modified' property of an object type."""
    return MODIFIED_PROPERTY.get(obj_type, DEFAULT_MODIFIED)


@dataclass(frozen=True)
class Page:
    """One page of CRM records and where the next one starts (None: this was the last)."""

    results: list[dict[str, Any]]
    after: str | None
    total: int | None = None


def _page(body: Any) -> Page:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise BadResponse("CRM answer has no results list")
    for record in body["results"]:
        if not isinstance(record, dict) or "id" not in record:
            raise BadResponse("CRM answer holds a record without an id")
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    total = body.get("total")
    return Page(body["results"], str(after) if after not in (None, "") else None, total)


class HubSpot:
    """The CRM source: thin, typed wrappers around the endpoints csm-tui uses."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    # -- reading --------------------------------------------------------------------------

    async def owners_page(self, after: str | None, email: str | None = None) -> Page:
        """One page of owners (optionally only the one with ``email``)."""
        return await self.client.request(
            "GET",
            "/crm/v3/owners",
            params={"limit": LIST_LIMIT, "after": after, "email": email},
            validate=_page,
        )

    async def list_page(
        self,
        obj_type: str,
        *,
        properties: Sequence[str],
        after: str | None,
        associations: Sequence[str] = (),
        archived: bool = False,
        with_history: Sequence[str] = (),
    ) -> Page:
        """One page of the list endpoint (100 records)."""
        params: dict[str, Any] = {
            "limit": LIST_LIMIT,
            "after": after,
            "properties": ",".join(properties),
            "archived": "true" if archived else "false",
        }
        if associations:
            params["associations"] = ",".join(associations)
        if with_history:
            params["propertiesWithHistory"] = ",".join(with_history)
        return await self.client.request(
            "GET", f"/crm/v3/objects/{obj_type}", params=params, validate=_page
        )

    async def search_page(
        self,
        obj_type: str,
        *,
        filters: Sequence[Mapping[str, Any]],
        sort_property: str,
        properties: Sequence[str],
        after: int,
    ) -> Page:
        """One page (200) of the search endpoint, sorted ascending by ``sort_property``."""
        return await self.client.request(
            "POST",
            f"/crm/v3/objects/{obj_type}/search",
            json_body={
                "filterGroups": [{"filters": list(filters)}],
                "sorts": [{"propertyName": sort_property, "direction": "ASCENDING"}],
                "properties": list(properties),
                "limit": SEARCH_LIMIT,
                "after": str(after),
            },
            limiter="search",
            validate=_page,
        )

    async def read(
        self,
        obj_type: str,
        record_id: str,
        *,
        properties: Sequence[str],
        with_history: Sequence[str],
    ) -> dict[str, Any]:
        """One record, with the history of ``with_history`` properties."""
        body = await self.client.request(
            "GET",
            f"/crm/v3/objects/{obj_type}/{record_id}",
            params={
                "properties": ",".join(properties),
                "propertiesWithHistory": ",".join(with_history),
            },
        )
        if not isinstance(body, dict) or "id" not in body:
            raise BadResponse("CRM record answer has no id")
        return body

    async def associations(
        self, from_type: str, to_type: str, ids: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """v4 batch read: {from id: [{"toObjectId", "associationTypes"}]} for every id asked."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, list[dict[str, Any]]] = {i: [] for i in wanted}

        async def read(chunk: list[str]) -> list[dict[str, Any]]:
            return await self.client.request(  # type: ignore[no-any-return]
                "POST",
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                json_body={"inputs": [{"id": i} for i in chunk]},
                validate=_association_results,
            )

        # The batches go out together (the client bounds how many at once).
        chunks = [wanted[i : i + ASSOC_BATCH] for i in range(0, len(wanted), ASSOC_BATCH)]
        for results in await asyncio.gather(*(read(chunk) for chunk in chunks)):
            for result in results:
                source = str((result.get("from") or {}).get("id"))
                found.setdefault(source, []).extend(result.get("to") or [])
        return found

    async def sequences_page(self, user_id: str, after: str | None) -> Page:
        """One page of the sequences visible to ``user_id``."""
        return await self.client.request(
            "GET",
            "/automation/v4/sequences",
            params={"userId": user_id, "limit": LIST_LIMIT, "after": after},
            validate=_page,
        )

    async def enrollment_of(self, contact_id: str) -> dict[str, Any] | None:
        """The contact's current sequence enrollment, or None."""
        try:
            body = await self.client.request(
                "GET", f"/automation/v4/sequences/enrollments/contact/{contact_id}"
            )
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise BadResponse("CRM enrollment answer is not an object")
        if not body or not body.get("sequenceId"):
            return None
        return body

    # -- writing --------------------------------------------------------------------------

    async def create(
        self,
        obj_type: str,
        properties: Mapping[str, Any],
        associations: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        """Create one record; return it (with its new ``id``)."""
        body = await self.client.request(
            "POST",
            f"/crm/v3/objects/{obj_type}",
            json_body={"properties": dict(properties), "associations": list(associations)},
            retry=False,  # the caller looks the record up before trying again
        )
        if not isinstance(body, dict) or "id" not in body:
            raise BadResponse("CRM create answer has no id")
        return body

    async def find_by_marker(
        self, obj_type: str, marker_property: str, marker: str
    ) -> dict[str, Any] | None:
        """The record whose ``marker_property`` text holds the token ``marker``, if one exists.

        (A token search on the body works on any portal; a custom property would have to be
        created in HubSpot first.)
        """
        page = await self.search_page(
            obj_type,
            filters=[
                {"propertyName": marker_property, "operator": "CONTAINS_TOKEN", "value": marker}
            ],
            sort_property="hs_object_id",
            properties=[marker_property],
            after=0,
        )
        return page.results[0] if page.results else None

    async def enroll(
        self, user_id: str, contact_id: str, sequence_id: str, sender_email: str
    ) -> dict[str, Any]:
        """Enroll a contact in a sequence on behalf of ``user_id``."""
        body = await self.client.request(
            "POST",
            "/automation/v4/sequences/enrollments",
            params={"userId": user_id},
            json_body={
                "contactId": contact_id,
                "sequenceId": sequence_id,
                "senderEmail": sender_email,
            },
            retry=False,
        )
        if not isinstance(body, dict):
            raise BadResponse("CRM enrollment answer is not an object")
        return body


def _association_results(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise BadResponse("CRM association answer has no results list")
    for result in body["results"]:
        if not isinstance(result, dict) or not isinstance(result.get("to"), list):
            raise BadResponse("CRM association answer holds a malformed result")
    return body["results"]


def association(to_id: str, type_id: int) -> dict[str, Any]:
    """One association in the shape the v3 create endpoint takes."""
    return {
        "to": {"id": str(to_id)},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }
