"""Sending-policy API: defaults until set, replaced whole, never wider than the platform allows."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

import httpx
import pytest

from switchboard.devstack.testkit import eventually

PLATFORM = {"daily": {"start": "08:00", "end": "21:00"}, "weekdays": {}}


class Tenant(Protocol):
    """A tenant from the fixtures: its id and the headers carrying its API key."""

    id: UUID

    @property
    def headers(self) -> dict[str, str]: ...


def hours(start: str, end: str) -> dict[str, str]:
    return {"start": start, "end": end}


async def get_policy(campaigns: httpx.AsyncClient, tenant: Tenant) -> Any:
    response = await campaigns.get("/v1/sending-policy", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def put_policy(
    campaigns: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> httpx.Response:
    return await campaigns.put("/v1/sending-policy", json=body, headers=tenant.headers)


class TestGetPolicy:
    async def test_a_tenant_that_never_set_one_has_the_defaults(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant
    ) -> None:
        assert await get_policy(campaigns, onlooker) == {
            "send_window": PLATFORM,
            "region_windows": {},
            "default_time_zone": "UTC",
            "frequency_cap": None,
            "effective_send_window": PLATFORM,
            "effective_region_windows": {},
            "platform_send_window": PLATFORM,
            "updated_at": None,
        }

    async def test_one_tenants_policy_is_not_anothers(
        self, campaigns: httpx.AsyncClient, customer: Tenant, stranger: Tenant
    ) -> None:
        # Given a tenant with a policy of its own
        body = {"default_time_zone": "Europe/Berlin", "frequency_cap": None}
        assert (await put_policy(campaigns, customer, body)).status_code == 200
        # Then another tenant still has the defaults
        theirs = await get_policy(campaigns, stranger)
        assert (theirs["default_time_zone"], theirs["updated_at"]) == ("UTC", None)


class TestPutPolicy:
    async def test_a_policy_is_stored_and_read_back(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a policy: weekdays 09:00-20:00, Saturdays later, no Sundays, Germany shorter
        body = {
            "send_window": {
                "daily": hours("09:00", "20:00"),
                "weekdays": {"sat": hours("10:00", "18:00"), "sun": None},
            },
            "region_windows": {"DE": {"daily": hours("10:00", "19:00")}},
            "default_time_zone": "America/New_York",
            "frequency_cap": {"max_messages": 3, "period_hours": 24},
        }
        # When it is put
        response = await put_policy(campaigns, customer, body)
        # Then it reads back as written, with what applies in Germany
        assert response.status_code == 200, response.text
        policy = response.json()
        assert {k: policy[k] for k in body} == {
            **body,
            "region_windows": {"DE": {"daily": hours("10:00", "19:00"), "weekdays": {}}},
        }
        assert policy["effective_send_window"] == body["send_window"]
        assert policy["effective_region_windows"] == {
            "DE": {
                "daily": hours("10:00", "19:00"),
                "weekdays": {"sat": hours("10:00", "18:00"), "sun": None},
            }
        }
        assert policy["updated_at"] is not None
        assert await get_policy(campaigns, customer) == policy

    async def test_a_second_put_replaces_the_whole_policy(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a policy with a cap and a region
        first = {
            "region_windows": {"US": {"daily": hours("09:00", "20:00")}},
            "frequency_cap": {"max_messages": 1, "period_hours": 1},
        }
        assert (await put_policy(campaigns, customer, first)).status_code == 200
        # When another is put without them
        response = await put_policy(campaigns, customer, {"default_time_zone": "Asia/Tokyo"})
        # Then the fields left out are back to their defaults
        assert response.status_code == 200, response.text
        policy = response.json()
        assert (policy["region_windows"], policy["frequency_cap"]) == ({}, None)
        assert policy["default_time_zone"] == "Asia/Tokyo"

    async def test_a_window_wider_than_the_platforms_is_narrowed_to_it(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a tenant that would send from 06:00 to 23:00, and on Sundays from 20:00
        window = {"daily": hours("06:00", "23:00"), "weekdays": {"sun": hours("20:00", "23:30")}}
        response = await put_policy(campaigns, customer, {"send_window": window})
        # Then it is kept as written, but what applies stays within 08:00-21:00
        assert response.status_code == 200, response.text
        policy = response.json()
        assert policy["send_window"] == window
        assert policy["effective_send_window"] == {
            "daily": hours("08:00", "21:00"),
            "weekdays": {"sun": hours("20:00", "21:00")},
        }

    @pytest.mark.parametrize(
        ("cap", "accepted"),
        [
            ({"max_messages": 1, "period_hours": 1}, True),
            ({"max_messages": 1000, "period_hours": 8760}, True),
            ({"max_messages": 0, "period_hours": 24}, False),
            ({"max_messages": 1001, "period_hours": 24}, False),
            ({"max_messages": 3, "period_hours": 0}, False),
            ({"max_messages": 3, "period_hours": 8761}, False),
            ({"max_messages": 3}, False),
        ],
    )
    async def test_frequency_cap_bounds(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        cap: dict[str, int],
        accepted: bool,
    ) -> None:
        response = await put_policy(campaigns, customer, {"frequency_cap": cap})
        assert response.status_code == (200 if accepted else 422), response.text
        assert (await get_policy(campaigns, customer))["frequency_cap"] == (
            cap if accepted else None
        )

    async def test_only_a_tenant_admin_key_changes_the_policy(
        self, campaigns: httpx.AsyncClient, gateway: httpx.AsyncClient, customer: Tenant
    ) -> None:
        issued = await gateway.post(
            f"/v1/tenants/{customer.id}/api-keys",
            json={"name": "writer", "scopes": ["messages:read", "messages:write"]},
            headers=customer.headers,
        )
        assert issued.status_code == 201, issued.text
        writer = {"Authorization": f"Bearer {issued.json()['api_key']}"}

        async def writer_accepted() -> bool:
            return (await campaigns.get("/v1/sending-policy", headers=writer)).status_code == 200

        await eventually(writer_accepted)
        response = await campaigns.put("/v1/sending-policy", json={}, headers=writer)
        assert response.status_code == 403
        assert "tenant:admin" in response.json()["error"]["message"]


INVALID_POLICIES = [
    pytest.param(
        {"default_time_zone": "Mars/Olympus_Mons"},
        "'Mars/Olympus_Mons' is not an IANA time zone name",
        id="unknown-zone",
    ),
    pytest.param({"default_time_zone": "+02:00"}, "not an IANA time zone", id="offset-as-zone"),
    pytest.param({"region_windows": {"XX": PLATFORM}}, "'XX' is not a region", id="unknown-region"),
    pytest.param(
        {"region_windows": {"de": PLATFORM}}, "'de' is not a region", id="lowercase-region"
    ),
    pytest.param(
        {"send_window": {"daily": None}},
        "a send window must allow sends on at least one day",
        id="closed-every-day",
    ),
    pytest.param(
        {"send_window": {"daily": hours("21:00", "23:00")}},
        "shares no hour with the platform's (08:00-21:00) on any day",
        id="only-outside-the-platforms-hours",
    ),
    pytest.param(
        {
            "send_window": {"daily": hours("09:00", "12:00")},
            "region_windows": {"FR": {"daily": hours("14:00", "18:00")}},
        },
        "The window of FR shares no hour with the tenant's send window",
        id="region-outside-the-tenants-hours",
    ),
    pytest.param(
        {"send_window": {"daily": hours("18:00", "09:00")}},
        "a window starts before it ends",
        id="window-across-midnight",
    ),
    pytest.param(
        {"send_window": {"daily": hours("8:00", "21:00")}}, "HH:MM", id="time-without-leading-zero"
    ),
    pytest.param({"send_window": {"weekdays": {"someday": None}}}, "'mon'", id="unknown-weekday"),
    pytest.param({"quiet_hours": True}, "Extra inputs are not permitted", id="unknown-field"),
]


class TestPutPolicyValidation:
    @pytest.mark.parametrize(("body", "message"), INVALID_POLICIES)
    async def test_a_policy_that_cannot_apply_is_refused(
        self,
        campaigns: httpx.AsyncClient,
        onlooker: Tenant,
        body: dict[str, Any],
        message: str,
    ) -> None:
        response = await put_policy(campaigns, onlooker, body)
        assert response.status_code == 422, response.text
        assert message in " ".join(error["msg"] for error in response.json()["detail"])
        assert (await get_policy(campaigns, onlooker))["updated_at"] is None
