"""Business events API: idempotent ingest, clear validation, reads scoped to the tenant."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import httpx
import pytest


class Tenant(Protocol):
    """A tenant from the fixtures: its id and the headers carrying its API key."""

    id: UUID

    @property
    def headers(self) -> dict[str, str]: ...


def random_number() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def shipped(**overrides: Any) -> dict[str, Any]:
    """A valid `order.shipped` event body with a fresh idempotency key."""
    body: dict[str, Any] = {
        "type": "order.shipped",
        "contact_address": random_number(),
        "attributes": {"order_id": "A-1001", "total": 42.5, "items": 3, "express": True},
        "idempotency_key": f"shopify:{secrets.token_hex(8)}",
    }
    return body | overrides


async def ingest(
    campaigns: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> httpx.Response:
    return await campaigns.post("/v1/events", json=body, headers=tenant.headers)


async def stored_events(campaigns: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = await campaigns.get("/v1/events", headers=tenant.headers)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


class TestIngestEvent:
    async def test_an_event_is_accepted_and_stored(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given an event from the tenant's shop that happened a while ago
        body = shipped(occurred_at="2025-03-01T09:30:00+01:00")
        # When it is posted
        response = await ingest(campaigns, customer, body)
        # Then it is accepted and can be read back as stored
        assert response.status_code == 202, response.text
        event = response.json()
        assert UUID(event["id"]).version == 7
        assert event["type"] == "order.shipped"
        assert event["contact_address"] == body["contact_address"]
        assert event["external_contact_id"] is None
        assert event["attributes"] == body["attributes"]
        assert event["idempotency_key"] == body["idempotency_key"]
        assert datetime.fromisoformat(event["occurred_at"]) == datetime(
            2025, 3, 1, 8, 30, tzinfo=UTC
        )
        assert datetime.fromisoformat(event["received_at"]) > datetime(2025, 3, 1, tzinfo=UTC)
        read = await campaigns.get(f"/v1/events/{event['id']}", headers=customer.headers)
        assert read.status_code == 200
        assert read.json() == event

    async def test_an_external_contact_id_alone_names_the_contact(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        body = shipped(external_contact_id="cus_8812")
        del body["contact_address"]
        response = await ingest(campaigns, customer, body)
        assert response.status_code == 202, response.text
        assert response.json()["external_contact_id"] == "cus_8812"
        assert response.json()["contact_address"] is None

    async def test_without_a_time_it_occurred_when_it_was_received(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        before = datetime.now(UTC)
        response = await ingest(campaigns, customer, shipped())
        occurred_at = datetime.fromisoformat(response.json()["occurred_at"])
        assert before <= occurred_at <= datetime.now(UTC)

    async def test_the_same_key_twice_stores_one_event(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given an event already ingested
        body = shipped()
        first = await ingest(campaigns, customer, body)
        # When the shop retries it with the same key and body
        retry = await ingest(campaigns, customer, body)
        # Then the retry answers 200 with the original, and only one event is stored
        assert first.status_code == 202
        assert retry.status_code == 200, retry.text
        assert retry.json() == first.json()
        assert [e["id"] for e in await stored_events(campaigns, customer)] == [first.json()["id"]]

    async def test_concurrent_retries_store_one_event(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        body = shipped()
        responses = await asyncio.gather(*(ingest(campaigns, customer, body) for _ in range(5)))
        assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 202]
        assert len({r.json()["id"] for r in responses}) == 1
        assert len(await stored_events(campaigns, customer)) == 1

    async def test_a_different_body_with_the_same_key_is_a_conflict(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given an event ingested with a key
        body = shipped()
        first = await ingest(campaigns, customer, body)
        # When another event reuses that key
        reused = await ingest(campaigns, customer, body | {"attributes": {"order_id": "B-2"}})
        # Then it is refused, and the original stays the only event
        assert reused.status_code == 409
        assert "idempotency key" in reused.json()["error"]["message"]
        assert await stored_events(campaigns, customer) == [first.json()]

    async def test_without_a_key_every_post_is_a_new_event(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        body = shipped()
        del body["idempotency_key"]
        first = await ingest(campaigns, customer, body)
        second = await ingest(campaigns, customer, body)
        assert (first.status_code, second.status_code) == (202, 202)
        assert first.json()["id"] != second.json()["id"]


INVALID_BODIES = [
    pytest.param({"type": "OrderShipped"}, "dot-separated lowercase words", id="camel-case-type"),
    pytest.param({"type": "shipped"}, "dot-separated lowercase words", id="undotted-type"),
    pytest.param({"type": "order..shipped"}, "dot-separated lowercase words", id="empty-word"),
    pytest.param({"contact_address": "555-1234"}, "E.164", id="local-number"),
    pytest.param({"contact_address": "+0155512345"}, "E.164", id="country-code-zero"),
    pytest.param(
        {"contact_address": None}, "contact_address, the external_contact_id", id="no-contact"
    ),
    pytest.param(
        {"attributes": {"order": {"id": 1}}},
        "Attribute 'order' must be a string, number or boolean",
        id="nested-attribute",
    ),
    pytest.param(
        {"attributes": {"tags": ["a"]}}, "must be a string, number or boolean", id="list-attribute"
    ),
    pytest.param(
        {"attributes": {"note": None}}, "must be a string, number or boolean", id="null-attribute"
    ),
    pytest.param(
        {"attributes": {f"k{i}": i for i in range(51)}},
        "At most 50 attributes are allowed, not 51",
        id="too-many-attributes",
    ),
    pytest.param({"attributes": "order_id=1"}, "valid dictionary", id="attributes-not-an-object"),
    pytest.param({"attributes": {"": "x"}}, "at least 1 character", id="empty-attribute-name"),
    pytest.param(
        {"occurred_at": "2025-03-01T09:30:00"}, "timezone info", id="occurred-at-without-zone"
    ),
    pytest.param({"idempotency_key": "a\x00b"}, "NUL characters", id="nul-in-key"),
    pytest.param({"attributes": {"note": "a\x00b"}}, "NUL characters", id="nul-in-attribute"),
    pytest.param({"idempotency_key": ""}, "at least 1 character", id="empty-key"),
    pytest.param({"contact": "+15551234567"}, "Extra inputs are not permitted", id="unknown-field"),
]


class TestIngestValidation:
    @pytest.mark.parametrize(("overrides", "message"), INVALID_BODIES)
    async def test_bad_input_is_refused_with_a_clear_message(
        self,
        campaigns: httpx.AsyncClient,
        onlooker: Tenant,
        overrides: dict[str, Any],
        message: str,
    ) -> None:
        # An override of None leaves the field out.
        body = {k: v for k, v in (shipped() | overrides).items() if v is not None}
        response = await ingest(campaigns, onlooker, body)
        assert response.status_code == 422, response.text
        messages = " ".join(error["msg"] for error in response.json()["detail"])
        assert message in messages
        assert await stored_events(campaigns, onlooker) == []

    async def test_a_lone_surrogate_is_refused_not_an_error(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant
    ) -> None:
        # Valid JSON, but not Unicode text; the 422 echoes it, which must still render.
        response = await campaigns.post(
            "/v1/events",
            content=b'{"type": "order.shipped", "external_contact_id": "cus_\\ud800"}',
            headers=onlooker.headers | {"Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert "valid string" in response.json()["detail"][0]["msg"]

    async def test_a_body_that_is_not_json_is_refused(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant
    ) -> None:
        response = await campaigns.post(
            "/v1/events",
            content=b"type=order.shipped",
            headers=onlooker.headers | {"Content-Type": "application/json"},
        )
        assert response.status_code == 422


class TestListEvents:
    async def test_newest_first_filtered_by_type_and_paged(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given three events of two types
        ids = []
        for event_type in ("order.shipped", "cart.abandoned", "order.shipped"):
            response = await ingest(campaigns, customer, shipped(type=event_type))
            ids.append(response.json()["id"])
        first_shipped, abandoned, last_shipped = ids

        async def listed(**params: Any) -> list[str]:
            response = await campaigns.get("/v1/events", params=params, headers=customer.headers)
            assert response.status_code == 200, response.text
            return [e["id"] for e in response.json()]

        # Then listing shows them newest first, by type, a page at a time
        assert await listed() == [last_shipped, abandoned, first_shipped]
        assert await listed(type="order.shipped") == [last_shipped, first_shipped]
        assert await listed(type="refund.issued") == []
        assert await listed(limit=1) == [last_shipped]
        assert await listed(limit=1, before=last_shipped) == [abandoned]

    @pytest.mark.parametrize(
        "params", [{"limit": 0}, {"limit": 501}, {"type": "Order"}, {"before": "yesterday"}]
    )
    async def test_bad_parameters_are_refused(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant, params: dict[str, Any]
    ) -> None:
        response = await campaigns.get("/v1/events", params=params, headers=onlooker.headers)
        assert response.status_code == 422


class TestTenantIsolation:
    async def test_another_tenants_events_are_invisible(
        self, campaigns: httpx.AsyncClient, customer: Tenant, stranger: Tenant
    ) -> None:
        # Given an event of one tenant, and a second tenant using the same idempotency key
        other = stranger.headers
        body = shipped()
        mine = (await ingest(campaigns, customer, body)).json()
        theirs = await campaigns.post("/v1/events", json=body, headers=other)
        # Then the key does not collide across tenants
        assert theirs.status_code == 202
        assert theirs.json()["id"] != mine["id"]
        # And neither tenant can read or list the other's event
        read = await campaigns.get(f"/v1/events/{mine['id']}", headers=other)
        assert read.status_code == 404
        assert read.json()["error"]["code"] == "not_found"
        listed = (await campaigns.get("/v1/events", headers=other)).json()
        assert [e["id"] for e in listed] == [theirs.json()["id"]]

    async def test_an_unknown_event_is_not_found(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant
    ) -> None:
        response = await campaigns.get(
            "/v1/events/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", headers=onlooker.headers
        )
        assert response.status_code == 404

    async def test_a_malformed_id_is_refused(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant
    ) -> None:
        response = await campaigns.get("/v1/events/not-an-id", headers=onlooker.headers)
        assert response.status_code == 422
