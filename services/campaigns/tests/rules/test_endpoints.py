"""Rules API: rules are checked whole when saved, versioned on change, and private to a tenant."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import httpx
import pytest

from switchboard.devstack.testkit import eventually


class Tenant(Protocol):
    """A tenant from the fixtures: its id and the headers carrying its API key."""

    id: UUID

    @property
    def headers(self) -> dict[str, str]: ...


def shipping_notice(**overrides: Any) -> dict[str, Any]:
    """A valid rule for `order.shipped` with a fresh name."""
    body: dict[str, Any] = {
        "name": f"Shipping notice {secrets.token_hex(4)}",
        "event_type": "order.shipped",
        "event_attributes": ["order_id"],
        "condition": {"field": "event.total", "op": "gt", "value": 100},
        "template": 'Hi {{ contact.display_name | default("there") }}, order '
        "{{ event.order_id }} has shipped.",
        "delay_seconds": 600,
    }
    return body | overrides


async def create(campaigns: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> Any:
    response = await campaigns.post("/v1/rules", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def listed(campaigns: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[str]:
    response = await campaigns.get("/v1/rules", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [rule["id"] for rule in response.json()]


def messages(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return " ".join(error["msg"] for error in response.json()["detail"])


class TestCreateRule:
    async def test_a_rule_is_stored_with_its_condition_in_words_and_its_fields(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a rule for shipped orders over 100
        body = shipping_notice(from_address="+15557654321", channel="whatsapp")
        # When it is created
        response = await campaigns.post("/v1/rules", json=body, headers=customer.headers)
        # Then it is stored as sent, at version 1, and reads back the same
        assert response.status_code == 201, response.text
        rule = response.json()
        assert UUID(rule["id"]).version == 7
        assert {k: rule[k] for k in body} == body
        assert rule["condition_text"] == "event.total > 100"
        assert rule["template_fields"] == ["contact.display_name", "event.order_id"]
        assert (rule["enabled"], rule["version"]) == (True, 1)
        assert rule["created_at"] == rule["updated_at"]
        read = await campaigns.get(f"/v1/rules/{rule['id']}", headers=customer.headers)
        assert read.status_code == 200
        assert read.json() == rule

    async def test_defaults_send_at_once_by_sms_for_every_event_of_the_type(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        body = {"name": "Welcome", "event_type": "account.created", "template": "Welcome!"}
        rule = await create(campaigns, customer, body)
        assert rule["channel"] == "sms"
        assert rule["delay_seconds"] == 0
        assert rule["event_attributes"] == []
        assert rule["condition"] is None
        assert rule["condition_text"] == "always"
        assert rule["from_address"] is None
        assert rule["template_fields"] == []

    async def test_a_nested_condition_round_trips(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        condition = {
            "all": [
                {"field": "contact.attributes.tier", "op": "in", "value": ["gold", "vip"]},
                {"not": {"field": "event.express", "op": "eq", "value": True}},
            ]
        }
        rule = await create(campaigns, customer, shipping_notice(condition=condition))
        assert rule["condition"]["all"][0] == condition["all"][0]
        assert rule["condition"]["all"][1]["not"]["field"] == "event.express"
        assert rule["condition_text"] == (
            "contact.attributes.tier in ['gold', 'vip'] and not (event.express = true)"
        )

    async def test_a_name_the_tenant_already_uses_is_a_conflict(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a rule
        first = await create(campaigns, customer, shipping_notice())
        # When another is created under the same name
        response = await campaigns.post(
            "/v1/rules", json=shipping_notice(name=first["name"]), headers=customer.headers
        )
        # Then it is refused, and the first stays the only rule
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "conflict"
        assert f"named {first['name']!r} already exists" in response.json()["error"]["message"]
        assert await listed(campaigns, customer) == [first["id"]]

    async def test_a_read_only_key_cannot_create_rules(
        self, campaigns: httpx.AsyncClient, gateway: httpx.AsyncClient, customer: Tenant
    ) -> None:
        issued = await gateway.post(
            f"/v1/tenants/{customer.id}/api-keys",
            json={"name": "reader", "scopes": ["messages:read"]},
            headers=customer.headers,
        )
        assert issued.status_code == 201, issued.text
        reader = {"Authorization": f"Bearer {issued.json()['api_key']}"}

        async def reader_accepted() -> bool:
            return (await campaigns.get("/v1/rules", headers=reader)).status_code == 200

        await eventually(reader_accepted)
        response = await campaigns.post("/v1/rules", json=shipping_notice(), headers=reader)
        assert response.status_code == 403
        assert "messages:write" in response.json()["error"]["message"]


INVALID_RULES = [
    pytest.param(
        {"template": "Order {{ event.order_id }} for {{ contact.nmae }}"},
        "'contact.nmae' is not an available field",
        id="unknown-template-field",
    ),
    pytest.param(
        {"template": "Your refund of {{ event.amount }} is on its way.", "event_attributes": []},
        "'event.amount', which the rule does not declare: add 'amount' to event_attributes",
        id="undeclared-event-attribute",
    ),
    pytest.param(
        {"template": "Hello\n{% if event.order_id %}shipped"},
        "Line 2: Unexpected end of template",
        id="template-syntax-error",
    ),
    pytest.param(
        {"template": "{{ event.order_id | shout }}"}, "Unknown filter 'shout'", id="unknown-filter"
    ),
    pytest.param({"template": "   "}, "The template is empty", id="empty-template"),
    pytest.param(
        {"condition": {"field": "event.total", "op": "greater", "value": 1}},
        "Input should be 'eq'",
        id="unknown-operator",
    ),
    pytest.param(
        {"condition": {"field": "order.total", "op": "gt", "value": 1}},
        "must start with 'event.' or 'contact.'",
        id="condition-field-outside-the-facts",
    ),
    pytest.param(
        {"condition": {"field": "event.total", "op": "gt", "value": "lots"}},
        "'gt' takes a number",
        id="condition-operand-of-the-wrong-kind",
    ),
    pytest.param(
        {"delay_seconds": 365 * 86400 + 1},
        "The schedule keeps sends for 365 days: delay_seconds is at most 31536000",
        id="delay-beyond-the-horizon",
    ),
    pytest.param({"delay_seconds": -1}, "greater than or equal to 0", id="negative-delay"),
    pytest.param(
        {"event_type": "OrderShipped"}, "dot-separated lowercase words", id="bad-event-type"
    ),
    pytest.param(
        {"event_attributes": ["order-id"]},
        "Attribute 'order-id' must be letters, digits and underscores",
        id="bad-attribute-name",
    ),
    pytest.param(
        {"event_attributes": ["order_id", "order_id"]},
        "Declare each attribute once: order_id",
        id="repeated-attribute",
    ),
    pytest.param(
        {"event_attributes": [f"a{i}" for i in range(51)]},
        "at most 50 items",
        id="too-many-attributes",
    ),
    pytest.param({"channel": "email"}, "Input should be 'sms' or 'whatsapp'", id="bad-channel"),
    pytest.param({"from_address": "555-1234"}, "E.164", id="bad-sender"),
    pytest.param({"name": "  "}, "at least 1 character", id="blank-name"),
    pytest.param({"name": "x" * 201}, "at most 200 characters", id="long-name"),
    pytest.param({"enabled": "yes"}, "valid boolean", id="enabled-not-a-boolean"),
    pytest.param({"priority": 1}, "Extra inputs are not permitted", id="unknown-field"),
]


class TestCreateRuleValidation:
    @pytest.mark.parametrize(("overrides", "message"), INVALID_RULES)
    async def test_a_rule_that_could_not_work_is_refused_when_saved(
        self,
        campaigns: httpx.AsyncClient,
        onlooker: Tenant,
        overrides: dict[str, Any],
        message: str,
    ) -> None:
        response = await campaigns.post(
            "/v1/rules", json=shipping_notice(**overrides), headers=onlooker.headers
        )
        assert message in messages(response)
        assert await listed(campaigns, onlooker) == []

    async def test_a_template_error_names_the_template_field(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant
    ) -> None:
        body = shipping_notice(template="{{ event.order_id }} {{ event.total }}")
        response = await campaigns.post("/v1/rules", json=body, headers=onlooker.headers)
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "template"]
        assert error["type"] == "template"
        assert error["msg"].startswith("Line 1: The template reads 'event.total'")

    async def test_condition_fields_need_no_declaring(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # A field the event lacks makes the comparison false: it never breaks a send.
        condition = {"field": "event.coupon", "op": "exists"}
        rule = await create(
            campaigns, customer, shipping_notice(event_attributes=["order_id"], condition=condition)
        )
        assert rule["event_attributes"] == ["order_id"]
        assert rule["condition_text"] == "event.coupon exists"


class TestListRules:
    async def test_newest_first_filtered_and_paged(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given three rules: two on shipped orders (one paused), one on abandoned carts
        shipped = await create(campaigns, customer, shipping_notice())
        abandoned = await create(
            campaigns,
            customer,
            shipping_notice(event_type="cart.abandoned", condition=None, enabled=False),
        )
        express = await create(campaigns, customer, shipping_notice())
        # Then listing shows them newest first, by event type and state, a page at a time
        ids = [express["id"], abandoned["id"], shipped["id"]]
        assert await listed(campaigns, customer) == ids
        assert await listed(campaigns, customer, event_type="order.shipped") == [ids[0], ids[2]]
        assert await listed(campaigns, customer, enabled=False) == [abandoned["id"]]
        assert await listed(campaigns, customer, enabled=True, event_type="cart.abandoned") == []
        assert await listed(campaigns, customer, limit=1) == [express["id"]]
        assert await listed(campaigns, customer, limit=1, before=express["id"]) == [ids[1]]

    @pytest.mark.parametrize(
        "params",
        [{"limit": 0}, {"limit": 501}, {"event_type": "Order"}, {"before": "x"}, {"enabled": 2}],
    )
    async def test_bad_parameters_are_refused(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant, params: dict[str, Any]
    ) -> None:
        response = await campaigns.get("/v1/rules", params=params, headers=onlooker.headers)
        assert response.status_code == 422


class TestGetRule:
    async def test_another_tenants_rule_is_not_found_nor_listed(
        self, campaigns: httpx.AsyncClient, customer: Tenant, stranger: Tenant
    ) -> None:
        # Given a rule of one tenant, and another tenant using the same name
        mine = await create(campaigns, customer, shipping_notice())
        theirs = await create(campaigns, stranger, shipping_notice(name=mine["name"]))
        # Then the other tenant can neither read, change, delete nor list it
        path = f"/v1/rules/{mine['id']}"
        assert (await campaigns.get(path, headers=stranger.headers)).status_code == 404
        patched = await campaigns.patch(path, json={"enabled": False}, headers=stranger.headers)
        assert patched.status_code == 404
        assert (await campaigns.delete(path, headers=stranger.headers)).status_code == 404
        assert await listed(campaigns, stranger) == [theirs["id"]]
        # And the rule is untouched
        assert (await campaigns.get(path, headers=customer.headers)).json() == mine

    async def test_an_unknown_or_malformed_id(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant
    ) -> None:
        unknown = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
        response = await campaigns.get(f"/v1/rules/{unknown}", headers=onlooker.headers)
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "No such rule."
        response = await campaigns.get("/v1/rules/not-an-id", headers=onlooker.headers)
        assert response.status_code == 422


class TestUpdateRule:
    async def test_a_change_raises_the_version_and_keeps_the_rest(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a rule
        rule = await create(campaigns, customer, shipping_notice())
        # When its template and delay change
        change = {
            "template": "Order {{ event.order_id }} ships {{ event.carrier | default('soon') }}.",
            "event_attributes": ["order_id", "carrier"],
            "delay_seconds": 0,
        }
        response = await campaigns.patch(
            f"/v1/rules/{rule['id']}", json=change, headers=customer.headers
        )
        # Then those change, the version goes up by one, and nothing else moves
        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated == rule | change | {
            "version": 2,
            "updated_at": updated["updated_at"],
            "template_fields": ["event.order_id", "event.carrier"],
        }
        assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
            rule["updated_at"]
        )

    async def test_pausing_and_clearing_the_condition(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        rule = await create(campaigns, customer, shipping_notice(from_address="+15557654321"))
        path = f"/v1/rules/{rule['id']}"
        change = {"enabled": False, "condition": None, "from_address": None}
        paused = (await campaigns.patch(path, json=change, headers=customer.headers)).json()
        assert (paused["enabled"], paused["condition"], paused["from_address"]) == (
            False,
            None,
            None,
        )
        assert (paused["condition_text"], paused["version"]) == ("always", 2)
        resumed = await campaigns.patch(path, json={"enabled": True}, headers=customer.headers)
        assert (resumed.json()["enabled"], resumed.json()["version"]) == (True, 3)

    async def test_sending_the_same_values_changes_nothing(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        rule = await create(campaigns, customer, shipping_notice())
        same = {"name": rule["name"], "enabled": True, "condition": rule["condition"]}
        for body in (same, {}):
            response = await campaigns.patch(
                f"/v1/rules/{rule['id']}", json=body, headers=customer.headers
            )
            assert response.json() == rule

    async def test_a_change_that_would_break_the_template_is_refused(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a rule whose template reads event.order_id
        rule = await create(campaigns, customer, shipping_notice())
        path = f"/v1/rules/{rule['id']}"
        # When order_id is no longer declared, or the template reads an undeclared attribute
        dropped = await campaigns.patch(
            path, json={"event_attributes": []}, headers=customer.headers
        )
        reads_more = await campaigns.patch(
            path,
            json={"template": "{{ event.order_id }} {{ event.total }}"},
            headers=customer.headers,
        )
        # Then both are refused on the field sent, naming the attribute, and the rule is unchanged
        assert "add 'order_id' to event_attributes" in messages(dropped)
        assert dropped.json()["detail"][0]["loc"] == ["body", "event_attributes"]
        assert "add 'total' to event_attributes" in messages(reads_more)
        assert reads_more.json()["detail"][0]["loc"] == ["body", "template"]
        assert (await campaigns.get(path, headers=customer.headers)).json() == rule

    async def test_renaming_to_a_name_in_use_is_a_conflict(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        first = await create(campaigns, customer, shipping_notice())
        second = await create(campaigns, customer, shipping_notice())
        path = f"/v1/rules/{second['id']}"
        response = await campaigns.patch(
            path, json={"name": first["name"], "enabled": False}, headers=customer.headers
        )
        assert response.status_code == 409, response.text
        assert (await campaigns.get(path, headers=customer.headers)).json() == second

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"name": None}, "cannot be null; leave it out to keep its value"),
            ({"template": None}, "cannot be null"),
            ({"delay_seconds": 400 * 86400}, "The schedule keeps sends for 365 days"),
            ({"template": "{% for %}"}, "Line 1:"),
            ({"condition": {"any": []}}, "at least 1 item"),
            ({"version": 7}, "Extra inputs are not permitted"),
        ],
    )
    async def test_bad_changes_are_refused(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        body: dict[str, Any],
        message: str,
    ) -> None:
        rule = await create(campaigns, customer, shipping_notice())
        path = f"/v1/rules/{rule['id']}"
        response = await campaigns.patch(path, json=body, headers=customer.headers)
        assert message in messages(response)
        assert (await campaigns.get(path, headers=customer.headers)).json() == rule


class TestDeleteRule:
    async def test_a_deleted_rule_is_gone(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given two rules
        kept = await create(campaigns, customer, shipping_notice())
        deleted = await create(campaigns, customer, shipping_notice())
        path = f"/v1/rules/{deleted['id']}"
        # When one is deleted
        response = await campaigns.delete(path, headers=customer.headers)
        # Then it can no longer be read, and deleting it again finds nothing
        assert response.status_code == 204
        assert response.content == b""
        assert (await campaigns.get(path, headers=customer.headers)).status_code == 404
        assert (await campaigns.delete(path, headers=customer.headers)).status_code == 404
        assert await listed(campaigns, customer) == [kept["id"]]
        # And its name is free again
        await create(campaigns, customer, shipping_notice(name=deleted["name"]))
