"""HubSpot CRM v3/v4: list and search paging, owners, associations, engagement creates,
sequences and enrollments (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from csm_tui.sources.http import ApiClient, ApiError, BadResponse

# Page and batch caps (fakes/CONTRACT.md, "HubSpot"): a list page holds at most 100 records,
# 50 when it carries property history; a search page 200; a batch read 100 inputs, 50 with
# history; an association batch read 1,000 inputs. HubSpot refuses more with a 400.
LIST_LIMIT = 100
HISTORY_LIMIT = 50
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
BATCH_READ = 100
ASSOC_BATCH = 1_000

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
        """One page of the list endpoint (100 records, 50 with property history)."""
        params: dict[str, Any] = {
            "limit": HISTORY_LIMIT if with_history else LIST_LIMIT,
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

    async def search_all(
        self,
        obj_type: str,
        *,
        filters: Sequence[Mapping[str, Any]],
        properties: Sequence[str],
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every record matching ``filters``, a page (200) at a time, in id order.

        Each page asks for ids greater than the last one seen, always from ``after=0``: many
        records can share one modified date (bulk updates), an offset shifts when a record
        leaves the result between two pages, and paging past 10,000 results is refused.
        """
        last_id: int | None = None
        while True:
            page_filters = list(filters)
            if last_id is not None:
                page_filters.append(
                    {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}
                )
            page = await self.search_page(
                obj_type,
                filters=page_filters,
                sort_property="hs_object_id",
                properties=[*properties, "hs_object_id"],
                after=0,
            )
            if page.results:
                yield page.results
            if page.after is None or not page.results:
                return
            last_id = max(int(r["id"]) for r in page.results)

    async def batch_read(
        self,
        obj_type: str,
        ids: Iterable[str],
        *,
        properties: Sequence[str],
        with_history: Sequence[str] = (),
        archived: bool = False,
    ) -> list[dict[str, Any]]:
        """The records with these ids (current values, unlike search), 100 per request or 50
        with property history; ids HubSpot does not find are left out."""
        wanted = list(dict.fromkeys(ids))
        size = HISTORY_LIMIT if with_history else BATCH_READ
        chunks = [wanted[i : i + size] for i in range(0, len(wanted), size)]

        async def read(chunk: list[str]) -> list[dict[str, Any]]:
            # The spec requires both lists (BatchReadInputSimplePublicObjectId): [] for none.
            body: dict[str, Any] = {
                "inputs": [{"id": i} for i in chunk],
                "properties": list(properties),
                "propertiesWithHistory": list(with_history),
            }
            return await self.client.request(
                "POST",
                f"/crm/v3/objects/{obj_type}/batch/read",
                params={"archived": "true" if archived else "false"},
                json_body=body,
                validate=_batch_results,
            )

        found: list[dict[str, Any]] = []
        for results in await asyncio.gather(*(read(chunk) for chunk in chunks)):
            found.extend(results)
        return found

    async def associations(
        self, from_type: str, to_type: str, ids: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """v4 batch read: {from id: [{"toObjectId", "associationTypes"}]} for every id asked.

        Results page per record: a record with more links than fit carries
        ``paging.next.after``, sent back with its id until no paging comes.
        """
        wanted = list(dict.fromkeys(ids))
        found: dict[str, list[dict[str, Any]]] = {i: [] for i in wanted}

        async def read(inputs: list[dict[str, str]]) -> list[dict[str, Any]]:
            return await self.client.request(
                "POST",
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                json_body={"inputs": inputs},
                validate=_association_results,
            )

        todo: list[dict[str, str]] = [{"id": i} for i in wanted]
        while todo:
            chunks = [todo[i : i + ASSOC_BATCH] for i in range(0, len(todo), ASSOC_BATCH)]
            todo = []
            for results in await asyncio.gather(*(read(chunk) for chunk in chunks)):
                for result in results:
                    source = str((result.get("from") or {}).get("id"))
                    found.setdefault(source, []).extend(result.get("to") or [])
                    after = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if after not in (None, ""):
                        todo.append({"id": source, "after": str(after)})
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

    async def update(self, obj_type: str, record_id: str, properties: Mapping[str, Any]) -> None:
        """Set properties of one record (``PATCH``: the same values twice change nothing)."""
        await self.client.request(
            "PATCH",
            f"/crm/v3/objects/{obj_type}/{record_id}",
            json_body={"properties": dict(properties)},
        )

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

    # -- checking the set-up (doctor --remote) ----------------------------------------------

    async def token_info(self, token: str) -> dict[str, Any]:
        """What a private app token may do: ``{userId, hubId, appId, scopes}``; a 401 means the
        token itself is bad (csm_tui/fakes/CONTRACT.md)."""

        def shaped(body: Any) -> dict[str, Any]:
            if not isinstance(body, dict) or not isinstance(body.get("scopes"), list):
                raise BadResponse("CRM token info has no scopes list")
            return body

        return await self.client.request(
            "POST",
            "/oauth/v2/private-apps/get/access-token-info",
            json_body={"tokenKey": token},
            validate=shaped,
        )

    async def properties(self, obj_type: str) -> set[str]:
        """The names of every property the portal has on ``obj_type`` (the properties API:
        reads ignore unknown names, so this is how a missing custom property shows)."""

        def names(body: Any) -> set[str]:
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise BadResponse("CRM properties answer has no results list")
            return {str(p["name"]) for p in body["results"] if isinstance(p, dict) and "name" in p}

        return await self.client.request("GET", f"/crm/v3/properties/{obj_type}", validate=names)


def _batch_results(body: Any) -> list[dict[str, Any]]:
    """A batch read's records (207 answers list the ids not found in ``errors``)."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise BadResponse("CRM batch answer has no results list")
    for record in body["results"]:
        if not isinstance(record, dict) or "id" not in record:
            raise BadResponse("CRM batch answer holds a record without an id")
    return body["results"]


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
