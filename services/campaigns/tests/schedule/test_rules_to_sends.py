"""Rules at work, end to end: an event posted to the API becomes a send on `messages.outbound`,
at a time the contact's send window allows, once, unless it is capped or cancelled first."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from switchboard.campaigns.schedule.scheduler import Scheduler
from switchboard.common.db import Database
from switchboard.contracts import (
    BusinessEventData,
    BusinessEventReceived,
    ConsentOptedIn,
    ConsentOptedOut,
    ContactData,
    ContactUpserted,
    MessageStatusChanged,
    MessageStatusChangedData,
    Topic,
    contact_key,
)

from .conftest import (
    Outbound,
    SetClock,
    Tenant,
    at_least,
    consent_is,
    eventually,
    publish_consent,
    random_number,
    sends,
)

pytestmark = pytest.mark.usefixtures("planning", "worker")

NEW_YORK = "America/New_York"


async def add_rule(campaigns: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"rule {secrets.token_hex(4)}",
        "event_type": "order.shipped",
        "event_attributes": ["order_id"],
        "template": "Hi {{ contact.display_name | default('there') }}, "
        "order {{ event.order_id }} has shipped.",
    } | fields
    response = await campaigns.post("/v1/rules", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    rule: dict[str, Any] = response.json()
    return rule


async def set_policy(campaigns: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> None:
    body: dict[str, Any] = {"default_time_zone": "UTC"} | fields
    response = await campaigns.put("/v1/sending-policy", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text


async def post_event(
    campaigns: httpx.AsyncClient, tenant: Tenant, address: str, **attributes: Any
) -> str:
    body = {
        "type": "order.shipped",
        "contact_address": address,
        "attributes": {"order_id": "A-1001"} | attributes,
        "idempotency_key": secrets.token_hex(8),
    }
    response = await campaigns.post("/v1/events", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    event_id: str = response.json()["id"]
    return event_id


async def planned(campaigns: httpx.AsyncClient, tenant: Tenant, event_id: str) -> dict[str, Any]:
    """The one send `event_id` caused, once the worker has planned it."""
    found = await eventually(
        lambda: sends(campaigns, tenant.headers, event_id=event_id),
        message=f"no send was planned for event {event_id}",
    )
    assert len(found) == 1, found
    send: dict[str, Any] = found[0]
    return send


async def send_of(campaigns: httpx.AsyncClient, tenant: Tenant, send_id: str) -> dict[str, Any]:
    response = await campaigns.get(f"/v1/scheduled-sends/{send_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    send: dict[str, Any] = response.json()
    return send


async def delivered(outbound: Outbound, tenant: Tenant, count: int) -> list[Any]:
    """The tenant's messages on `messages.outbound`, once there are `count` of them."""
    return await eventually(  # type: ignore[no-any-return]
        lambda: at_least(outbound.to(tenant.id), count),
        message=f"{count} messages never reached messages.outbound",
    )


def at(local: str, zone: str = "UTC") -> datetime:
    """A local wall-clock time in `zone`, e.g. at('2026-06-01 15:00', NEW_YORK)."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


class TestAnEventMeetingARule:
    async def test_is_texted_with_its_rule_and_event_recorded(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a rule for shipped orders over 20, during the contact's day
        rule = await add_rule(
            campaigns, customer, condition={"field": "event.total", "op": "gt", "value": 20}
        )
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        # When the shop reports a shipped order of 42.50
        event_id = await post_event(campaigns, customer, address, total="42.50")
        # Then a send is planned, due at once, citing the rule (and its version) and the event
        send = await planned(campaigns, customer, event_id)
        assert send["status"] == "scheduled"
        assert send["body"] == "Hi there, order A-1001 has shipped."
        assert (send["rule_id"], send["rule_version"]) == (rule["id"], 1)
        assert send["due_at"] == send["requested_at"]
        # And the scheduler hands it to the gateway, once
        assert (await scheduler.send_due()).sent >= 1
        [message] = await delivered(outbound, customer, 1)
        assert (message.to_address, message.origin) == (address, "campaign")
        assert message.body == "Hi there, order A-1001 has shipped."
        assert message.idempotency_key == f"campaigns:{send['id']}"
        sent = await send_of(campaigns, customer, send["id"])
        assert (sent["status"], sent["sent_at"]) == ("sent", "2026-06-01T15:00:00Z")
        await scheduler.send_due()
        await asyncio.sleep(0.3)
        assert len(outbound.to(customer.id)) == 1

    async def test_its_contact_is_named_from_the_contacts_they_keep(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        clock: SetClock,
    ) -> None:
        # Given a contact the conversation service published, with a name and a VIP attribute
        address = random_number()
        contact = ContactData(
            contact_id=UUID(int=secrets.randbits(128)),
            address=address,
            display_name="Ada",
            attributes={"tier": "gold"},
        )
        upserted = ContactUpserted.create(customer.id, contact)
        await producer.send_and_wait(
            Topic.CONTACTS.value,
            upserted.model_dump_json().encode(),
            key=contact_key(customer.id, address),
        )
        await eventually(lambda: _contact_known(campaigns, customer, address))
        # And a rule only for gold customers
        await add_rule(
            campaigns,
            customer,
            condition={"field": "contact.attributes.tier", "op": "eq", "value": "gold"},
        )
        clock.set(at("2026-06-01 15:00"))
        # When their order ships
        event_id = await post_event(campaigns, customer, address)
        # Then the message greets them by name
        send = await planned(campaigns, customer, event_id)
        assert send["body"] == "Hi Ada, order A-1001 has shipped."
        assert send["contact_id"] == str(contact.contact_id)

    async def test_that_fails_the_condition_is_not_texted(
        self, campaigns: httpx.AsyncClient, customer: Tenant, clock: SetClock
    ) -> None:
        # Given a rule for orders over 20
        await add_rule(
            campaigns, customer, condition={"field": "event.total", "op": "gt", "value": 20}
        )
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        # When a contact's order of 5 ships, then their order of 50
        small = await post_event(campaigns, customer, address, total=5)
        large = await post_event(campaigns, customer, address, total=50)
        # Then only the second is planned (one contact's events are taken in order)
        await planned(campaigns, customer, large)
        assert await sends(campaigns, customer.headers, event_id=small) == []

    async def test_delivered_twice_is_planned_once(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        clock: SetClock,
    ) -> None:
        # Given two rules on shipped orders
        await add_rule(campaigns, customer)
        await add_rule(campaigns, customer, template="Track order {{ event.order_id }} online.")
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        event_id = await post_event(campaigns, customer, address)
        await eventually(lambda: _count(campaigns, customer, event_id, 2))
        # When the same business event is published again (a replayed relay, another envelope)
        data = BusinessEventData(
            business_event_id=UUID(event_id),
            type="order.shipped",
            contact_address=address,
            attributes={"order_id": "A-1001"},
            occurred_at=clock.now(),
        )
        replay = BusinessEventReceived.create(customer.id, data)
        await producer.send_and_wait(
            Topic.EVENTS.value,
            replay.model_dump_json().encode(),
            key=contact_key(customer.id, address),
        )
        marker = await post_event(campaigns, customer, address)
        await eventually(lambda: _count(campaigns, customer, marker, 2))
        # Then each rule planned one send for it, not two
        assert len(await sends(campaigns, customer.headers, event_id=event_id)) == 2

    async def test_whose_template_cannot_be_filled_is_skipped_with_the_reason(
        self, campaigns: httpx.AsyncClient, customer: Tenant, clock: SetClock
    ) -> None:
        # Given a rule that greets contacts by a nickname attribute, with no default
        await add_rule(campaigns, customer, template="Hi {{ contact.attributes.nickname }}!")
        clock.set(at("2026-06-01 15:00"))
        # When a contact without one has an order shipped
        event_id = await post_event(campaigns, customer, random_number())
        # Then the send is recorded as skipped, saying why
        send = await planned(campaigns, customer, event_id)
        assert send["status"] == "skipped"
        assert "contact.attributes.nickname" in send["reason"]


class TestQuietHours:
    async def test_a_send_planned_at_night_waits_for_the_morning(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a tenant whose contacts are in New York, the default window 08:00-21:00
        await set_policy(campaigns, customer, default_time_zone=NEW_YORK)
        await add_rule(campaigns, customer)
        # When an order ships at 02:00 in New York
        clock.set(at("2026-06-02 02:00", NEW_YORK))
        event_id = await post_event(campaigns, customer, random_number())
        # Then its send is held until 08:00 there, saying so
        send = await planned(campaigns, customer, event_id)
        assert send["requested_at"] == "2026-06-02T06:00:00Z"
        assert send["due_at"] == "2026-06-02T12:00:00Z"
        assert send["time_zone"] == NEW_YORK
        assert "quiet hours" in send["reason"]
        # And nothing goes at 07:59
        clock.set(at("2026-06-02 07:59", NEW_YORK))
        await scheduler.send_due()
        assert (await send_of(campaigns, customer, send["id"]))["status"] == "scheduled"
        # But it goes at 08:00
        clock.set(at("2026-06-02 08:00", NEW_YORK))
        await scheduler.send_due()
        assert (await send_of(campaigns, customer, send["id"]))["status"] == "sent"
        await delivered(outbound, customer, 1)

    @pytest.mark.parametrize(
        ("shipped", "due", "just_before"),
        [
            # Spring forward (8 March 2026, 02:00 EST -> 03:00 EDT): 08:00 is 12:00 UTC, not 13:00
            (
                "2026-03-08 01:30",
                "2026-03-08T12:00:00Z",
                datetime(2026, 3, 8, 11, 59, 59, tzinfo=UTC),
            ),
            # Fall back (1 November 2026, 02:00 EDT -> 01:00 EST): 08:00 is 13:00 UTC, not 12:00
            (
                "2026-10-31 23:00",
                "2026-11-01T13:00:00Z",
                datetime(2026, 11, 1, 12, 59, 59, tzinfo=UTC),
            ),
        ],
    )
    async def test_a_send_held_over_a_dst_change_goes_at_8_on_the_new_clock(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        scheduler: Scheduler,
        shipped: str,
        due: str,
        just_before: datetime,
    ) -> None:
        # Given a tenant in New York, and an order shipped in the night the clocks change
        await set_policy(campaigns, customer, default_time_zone=NEW_YORK)
        await add_rule(campaigns, customer)
        clock.set(at(shipped, NEW_YORK))
        event_id = await post_event(campaigns, customer, random_number())
        # Then the send is due at 08:00 on the clock of the morning after the change
        send = await planned(campaigns, customer, event_id)
        assert send["due_at"] == due
        # And it does not go a second before, but goes then
        clock.set(just_before)
        await scheduler.send_due()
        assert (await send_of(campaigns, customer, send["id"]))["status"] == "scheduled"
        clock.advance(timedelta(seconds=1))
        await scheduler.send_due()
        assert (await send_of(campaigns, customer, send["id"]))["status"] == "sent"

    async def test_a_stricter_window_set_after_planning_still_holds_the_send(
        self, campaigns: httpx.AsyncClient, customer: Tenant, clock: SetClock, scheduler: Scheduler
    ) -> None:
        # Given a send planned at 10:00 UTC, inside the default window
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-03 10:00"))
        event_id = await post_event(campaigns, customer, random_number())
        send = await planned(campaigns, customer, event_id)
        assert send["due_at"] == "2026-06-03T10:00:00Z"
        # When the tenant narrows its window to the afternoon before it goes
        await set_policy(
            campaigns, customer, send_window={"daily": {"start": "14:00", "end": "18:00"}}
        )
        await scheduler.send_due()
        # Then it is held until 14:00, not sent early
        held = await send_of(campaigns, customer, send["id"])
        assert (held["status"], held["due_at"]) == ("scheduled", "2026-06-03T14:00:00Z")
        assert "quiet hours" in held["reason"]

    async def test_the_contacts_own_time_zone_wins_over_the_tenants(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        clock: SetClock,
    ) -> None:
        # Given a tenant in New York and a contact who set their zone to Tokyo
        await set_policy(campaigns, customer, default_time_zone=NEW_YORK)
        address = random_number()
        contact = ContactData(
            contact_id=UUID(int=secrets.randbits(128)), address=address, time_zone="Asia/Tokyo"
        )
        event = ContactUpserted.create(customer.id, contact)
        await producer.send_and_wait(
            Topic.CONTACTS.value,
            event.model_dump_json().encode(),
            key=contact_key(customer.id, address),
        )
        await eventually(lambda: _contact_known(campaigns, customer, address))
        await add_rule(campaigns, customer)
        # When their order ships at noon in New York (01:00 the next day in Tokyo)
        clock.set(at("2026-06-04 12:00", NEW_YORK))
        event_id = await post_event(campaigns, customer, address)
        # Then the send waits for 08:00 in Tokyo
        send = await planned(campaigns, customer, event_id)
        assert send["time_zone"] == "Asia/Tokyo"
        assert send["due_at"] == at("2026-06-05 08:00", "Asia/Tokyo").isoformat().replace(
            "+00:00", "Z"
        )


class TestFrequencyCap:
    async def test_sends_over_the_cap_are_skipped_with_the_reason(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given at most 2 messages a day per contact
        await set_policy(campaigns, customer, frequency_cap={"max_messages": 2, "period_hours": 24})
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-05 12:00"))
        address = random_number()
        # When three of their orders ship, and one more the next day
        events = [await post_event(campaigns, customer, address) for _ in range(3)]
        planned_sends = [await planned(campaigns, customer, e) for e in events]
        await scheduler.send_due()
        # Then two are sent and the third is skipped, saying why
        statuses = [(await send_of(campaigns, customer, s["id"]))["status"] for s in planned_sends]
        assert statuses == ["sent", "sent", "skipped"]
        skipped = await send_of(campaigns, customer, planned_sends[2]["id"])
        assert "frequency cap" in skipped["reason"]
        await delivered(outbound, customer, 2)
        # And a day later the contact can be texted again
        clock.advance(timedelta(hours=24, seconds=1))
        later = await planned(campaigns, customer, await post_event(campaigns, customer, address))
        await scheduler.send_due()
        assert (await send_of(campaigns, customer, later["id"]))["status"] == "sent"


class TestCancel:
    async def test_a_cancelled_send_never_goes(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        stranger: Tenant,
        clock: SetClock,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a send due in an hour (the rule waits an hour after the event)
        await add_rule(campaigns, customer, delay_seconds=3600)
        clock.set(at("2026-06-06 10:00"))
        send = await planned(
            campaigns, customer, await post_event(campaigns, customer, random_number())
        )
        assert send["due_at"] == "2026-06-06T11:00:00Z"
        path = f"/v1/scheduled-sends/{send['id']}/cancel"
        # When another tenant tries to cancel it, it is not theirs to see
        assert (await campaigns.post(path, headers=stranger.headers)).status_code == 404
        # When the operator cancels it
        response = await campaigns.post(
            path, json={"reason": "order returned"}, headers=customer.headers
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["reason"]) == (
            "cancelled",
            "order returned",
        )
        # Then it does not go when due
        clock.set(at("2026-06-06 11:00"))
        await scheduler.send_due()
        await asyncio.sleep(0.3)
        assert outbound.to(customer.id) == []
        # And cancelling it again says it is no longer scheduled
        again = await campaigns.post(path, headers=customer.headers)
        assert again.status_code == 409
        assert "cancelled" in again.json()["error"]["message"]

    async def test_a_sent_message_cannot_be_cancelled(
        self, campaigns: httpx.AsyncClient, customer: Tenant, clock: SetClock, scheduler: Scheduler
    ) -> None:
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-06 12:00"))
        send = await planned(
            campaigns, customer, await post_event(campaigns, customer, random_number())
        )
        await scheduler.send_due()
        response = await campaigns.post(
            f"/v1/scheduled-sends/{send['id']}/cancel", headers=customer.headers
        )
        assert response.status_code == 409
        assert "sent" in response.json()["error"]["message"]


class TestScheduler:
    async def test_a_pass_stopped_midway_loses_and_doubles_nothing(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Any,
        outbound: Outbound,
    ) -> None:
        # Given 40 sends planned
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-07 12:00"))
        events = await asyncio.gather(
            *(post_event(campaigns, customer, random_number()) for _ in range(40))
        )
        for event_id in events:
            await planned(campaigns, customer, event_id)
        # When a scheduler is stopped in the middle of its passes (a crash, a redeploy)
        crashing = Scheduler(schedule_db, clock, per_tenant=10)
        passes = asyncio.create_task(crashing.run())
        await asyncio.sleep(0.02)
        passes.cancel()
        await asyncio.gather(passes, return_exceptions=True)
        # And another one takes over
        survivor = Scheduler(schedule_db, clock, per_tenant=10)
        while (await survivor.send_due()).handled:
            pass
        # Then each send reached the gateway exactly once
        messages = await delivered(outbound, customer, 40)
        await asyncio.sleep(0.5)
        keys = [m.idempotency_key for m in outbound.to(customer.id)]
        assert len(keys) == len(set(keys)) == 40
        assert await sends(campaigns, customer.headers, status="scheduled") == []
        assert len(messages) == 40

    async def test_a_tenant_with_a_backlog_does_not_hold_back_another(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        stranger: Tenant,
        clock: SetClock,
        schedule_db: Any,
    ) -> None:
        # Given one tenant with 30 sends due and another with one
        await add_rule(campaigns, customer)
        await add_rule(campaigns, stranger)
        clock.set(at("2026-06-08 12:00"))
        busy = await asyncio.gather(
            *(post_event(campaigns, customer, random_number()) for _ in range(30))
        )
        for event_id in busy:
            await planned(campaigns, customer, event_id)
        quiet = await planned(
            campaigns, stranger, await post_event(campaigns, stranger, random_number())
        )
        # When the scheduler takes at most 10 per tenant in a pass
        await Scheduler(schedule_db, clock, per_tenant=10).send_due()
        # Then the other tenant's send went in the first pass
        assert (await send_of(campaigns, stranger, quiet["id"]))["status"] == "sent"
        assert len(await sends(campaigns, customer.headers, status="sent")) == 10


class TestConsent:
    async def test_nothing_goes_to_a_contact_who_opted_out_until_they_opt_in(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        schedule_db: Database,
        clock: SetClock,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a contact who texted STOP (the gateway publishes their opt-out)
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-10 12:00"))
        address = random_number()
        await publish_consent(producer, customer.id, address, ConsentOptedOut, "STOP")
        await eventually(lambda: consent_is(schedule_db, customer.id, address, True))
        # When an order of theirs ships
        skipped = await planned(campaigns, customer, await post_event(campaigns, customer, address))
        await scheduler.send_due()
        # Then the send is skipped, saying why
        assert (await send_of(campaigns, customer, skipped["id"]))["reason"] == (
            "the contact opted out"
        )
        # And once they text START, the next one goes
        await publish_consent(producer, customer.id, address, ConsentOptedIn, "START")
        await eventually(lambda: consent_is(schedule_db, customer.id, address, False))
        later = await planned(campaigns, customer, await post_event(campaigns, customer, address))
        await scheduler.send_due()
        assert (await send_of(campaigns, customer, later["id"]))["status"] == "sent"
        assert [m.to_address for m in await delivered(outbound, customer, 1)] == [address]


class TestRetention:
    async def test_finished_sends_are_kept_a_year_and_waiting_ones_for_ever(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        scheduler: Scheduler,
    ) -> None:
        # Given a send that went on 1 June 2026, and one held for a year after it
        await add_rule(campaigns, customer)
        await add_rule(campaigns, customer, delay_seconds=365 * 86400)
        clock.set(at("2026-06-01 12:00"))
        event_id = await post_event(campaigns, customer, random_number())
        await eventually(lambda: _count(campaigns, customer, event_id, 2))
        await scheduler.send_due()
        gone, waiting = sorted(
            await sends(campaigns, customer.headers, event_id=event_id), key=lambda s: s["due_at"]
        )
        assert (gone["status"], waiting["status"]) == ("sent", "scheduled")
        # When the scheduler purges 364 days later, then a year and a day later
        clock.set(at("2027-05-31 12:00"))
        await scheduler.purge()
        assert (await send_of(campaigns, customer, gone["id"]))["status"] == "sent"
        clock.set(at("2027-06-02 12:00"))
        await scheduler.purge()
        # Then the sent one is gone, and the one still waiting is kept
        response = await campaigns.get(
            f"/v1/scheduled-sends/{gone['id']}", headers=customer.headers
        )
        assert response.status_code == 404
        assert (await send_of(campaigns, customer, waiting["id"]))["status"] == "scheduled"


class TestDeliveryStatus:
    async def test_the_gateways_statuses_reach_the_send(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        clock: SetClock,
        scheduler: Scheduler,
    ) -> None:
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-09 12:00"))
        address = random_number()
        send = await planned(campaigns, customer, await post_event(campaigns, customer, address))
        await scheduler.send_due()
        # When the gateway reports it delivered, and a late 'sent' arrives after that
        for status in ("delivered", "sent"):
            data = MessageStatusChangedData(
                message_id=UUID(int=secrets.randbits(128)),
                idempotency_key=f"campaigns:{send['id']}",
                origin="campaign",
                channel="sms",
                to_address=address,
                status=status,
            )
            changed = MessageStatusChanged.create(customer.id, data)
            await producer.send_and_wait(
                Topic.MESSAGES_STATUS.value,
                changed.model_dump_json().encode(),
                key=contact_key(customer.id, address),
            )
        # Then the send shows it delivered
        await eventually(lambda: _delivery_is(campaigns, customer, send["id"], "delivered"))
        await asyncio.sleep(0.3)
        assert (await send_of(campaigns, customer, send["id"]))["delivery_status"] == "delivered"


async def _contact_known(campaigns: httpx.AsyncClient, tenant: Tenant, address: str) -> bool:
    response = await campaigns.get(
        "/v1/contacts", params={"address": address}, headers=tenant.headers
    )
    return response.status_code == 200 and len(response.json()) == 1


async def _count(campaigns: httpx.AsyncClient, tenant: Tenant, event_id: str, count: int) -> bool:
    return len(await sends(campaigns, tenant.headers, event_id=event_id)) >= count


async def _delivery_is(
    campaigns: httpx.AsyncClient, tenant: Tenant, send_id: str, status: str
) -> bool:
    return (await send_of(campaigns, tenant, send_id))["delivery_status"] == status
