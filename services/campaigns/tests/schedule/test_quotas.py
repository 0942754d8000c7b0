"""Billing's quotas hold for campaigns: once a tenant's plan has no messages left, or billing
suspends the tenant or one of its contacts, rules, journeys and the agent send nothing to whom
it stops (the sends are skipped, saying why) until a newer word from billing allows it again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Literal

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from switchboard.campaigns.agent.agent import Agent
from switchboard.campaigns.agent.runner import AgentRunner
from switchboard.campaigns.journeys.runner import JourneyRunner
from switchboard.campaigns.schedule.scheduler import Scheduler
from switchboard.common.db import Database
from switchboard.contracts import EntitlementChanged
from switchboard.llm import OfflineProvider

from .conftest import (
    Outbound,
    SetClock,
    Tenant,
    entitlement_is,
    eventually,
    publish_entitlement,
    random_number,
    sends,
    taken,
)
from .test_agent import PRICES, asked, decide, decisions, late_order_rule
from .test_journeys import (
    add_contact,
    bodies_to,
    enroll,
    enrollment_of,
    new_campaign,
    outcomes,
    run_until_settled,
    texted,
)
from .test_rules_to_sends import add_rule, at, delivered, planned, post_event, send_of

pytestmark = pytest.mark.usefixtures("planning", "worker")

USED_UP = "quota: the plan's messages are used up"
SUSPENDED = "quota: the account is suspended"


async def entitled(
    producer: AIOKafkaProducer,
    db: Database,
    tenant: Tenant,
    *,
    state: Literal["active", "grace", "suspended"] = "active",
    messages: int | None = None,
    address: str | None = None,
) -> EntitlementChanged:
    """Billing's word published, once campaigns holds it."""
    event = await publish_entitlement(
        producer, tenant.id, state=state, messages=messages, address=address
    )
    await eventually(lambda: entitlement_is(db, event), message="the entitlement never arrived")
    return event


class TestTheTenantsMessages:
    async def test_once_used_up_a_rules_sends_are_skipped_until_the_quota_is_reset(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        schedule_db: Database,
        clock: SetClock,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a rule, and a plan with one message left
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-12 15:00"))
        address = random_number()
        await entitled(producer, schedule_db, customer, messages=1)
        first = await planned(campaigns, customer, await post_event(campaigns, customer, address))
        await scheduler.send_due()
        assert (await send_of(campaigns, customer, first["id"]))["status"] == "sent"
        # When billing says the plan's messages are used up
        await entitled(producer, schedule_db, customer, messages=0)
        # Then the next send is skipped, saying why, and never reaches the gateway
        stopped = await planned(campaigns, customer, await post_event(campaigns, customer, address))
        await scheduler.send_due()
        skipped = await send_of(campaigns, customer, stopped["id"])
        assert (skipped["status"], skipped["reason"]) == ("skipped", USED_UP)
        # And once the quota is reset (a newer entitlement), the next one goes
        await entitled(producer, schedule_db, customer, messages=500)
        later = await planned(campaigns, customer, await post_event(campaigns, customer, address))
        await scheduler.send_due()
        assert (await send_of(campaigns, customer, later["id"]))["status"] == "sent"
        messages = await delivered(outbound, customer, 2)
        await asyncio.sleep(0.3)
        assert [m.idempotency_key for m in outbound.to(customer.id)] == [
            f"campaigns:{first['id']}",
            f"campaigns:{later['id']}",
        ]
        assert len(messages) == 2

    async def test_an_older_entitlement_arriving_late_does_not_undo_a_newer_one(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        schedule_db: Database,
        clock: SetClock,
        scheduler: Scheduler,
    ) -> None:
        # Given billing's latest word: the messages are used up
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-12 15:00"))
        newer = await entitled(producer, schedule_db, customer, messages=0)
        # When an older word, with messages left, arrives after it
        older = await publish_entitlement(
            producer,
            customer.id,
            messages=100,
            occurred_at=newer.occurred_at - timedelta(minutes=5),
        )
        await eventually(lambda: taken(schedule_db, older), message="the late one was not read")
        # Then campaigns still holds the newer one, and sends stay skipped
        assert await entitlement_is(schedule_db, newer)
        send = await planned(
            campaigns, customer, await post_event(campaigns, customer, random_number())
        )
        await scheduler.send_due()
        skipped = await send_of(campaigns, customer, send["id"])
        assert (skipped["status"], skipped["reason"]) == ("skipped", USED_UP)


class TestAContactsEntitlement:
    async def test_a_suspended_contact_gets_nothing_while_the_tenants_others_are_texted(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        schedule_db: Database,
        clock: SetClock,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a tenant in grace with no message counter (grace still sends, no counter is
        # unlimited), and one of its contacts suspended by billing
        await add_rule(campaigns, customer)
        clock.set(at("2026-06-13 15:00"))
        suspended, other = random_number(), random_number()
        await entitled(producer, schedule_db, customer, state="grace")
        await entitled(producer, schedule_db, customer, state="suspended", address=suspended)
        # When both contacts' orders ship
        stopped = await planned(
            campaigns, customer, await post_event(campaigns, customer, suspended)
        )
        texted_ = await planned(campaigns, customer, await post_event(campaigns, customer, other))
        await scheduler.send_due()
        # Then the suspended contact's send is skipped, saying why, and the other goes
        skipped = await send_of(campaigns, customer, stopped["id"])
        assert (skipped["status"], skipped["reason"]) == ("skipped", SUSPENDED)
        assert (await send_of(campaigns, customer, texted_["id"]))["status"] == "sent"
        assert [m.to_address for m in await delivered(outbound, customer, 1)] == [other]
        await asyncio.sleep(0.3)
        assert [m.to_address for m in outbound.to(customer.id)] == [other]


class TestAJourney:
    async def test_its_sends_are_skipped_while_the_messages_are_used_up_and_it_goes_on(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        schedule_db: Database,
        clock: SetClock,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a journey of two messages an hour apart (no frequency cap: a message due at
        # once would go straight to the gateway), and a plan with no messages left
        clock.set(at("2026-06-14 12:00"))
        steps = [
            {"type": "send", "template": "First"},
            {"type": "wait", "seconds": 3600},
            {"type": "send", "template": "Second"},
        ]
        campaign = await new_campaign(campaigns, customer, steps)
        addresses = [await add_contact(schedule_db, customer, clock) for _ in range(2)]
        await entitled(producer, schedule_db, customer, messages=0)
        runner = JourneyRunner(schedule_db, clock)
        # When the contacts go through its first step
        await enroll(campaigns, customer, campaign, *addresses)
        await run_until_settled(runner, scheduler)
        # Then its sends are skipped, saying why, and the journeys wait for the next step
        for address in addresses:
            [first] = await sends(campaigns, customer.headers, to_address=address)
            assert (first["status"], first["reason"], first["sent_at"]) == (
                "skipped",
                USED_UP,
                None,
            )
            path = (await enrollment_of(campaigns, customer, campaign, address))["path"]
            assert [(s["step"], s["outcome"], s["detail"]) for s in path[-2:]] == [
                (0, "skipped", USED_UP),
                (1, "waiting", None),
            ]
        # And once billing resets the quota, the next step's message goes
        await entitled(producer, schedule_db, customer, messages=1000)
        clock.advance(timedelta(hours=1))
        await run_until_settled(runner, scheduler)
        for address in addresses:
            assert await texted(outbound, customer, address, 1) == ["Second"]
            enrollment = await enrollment_of(campaigns, customer, campaign, address)
            assert outcomes(enrollment)[-2:] == [(2, "scheduled"), (3, "completed")]
        await asyncio.sleep(0.3)
        assert [bodies_to(outbound, customer, a) for a in addresses] == [["Second"], ["Second"]]


class TestTheAgent:
    async def test_its_send_is_skipped_for_a_suspended_tenant(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        schedule_db: Database,
        clock: SetClock,
    ) -> None:
        # Given a rule in plain language, and a tenant billing suspended
        offline = AgentRunner(schedule_db, clock, Agent(OfflineProvider()), PRICES)
        await late_order_rule(campaigns, customer)
        clock.set(at("2026-06-15 15:00"))
        await entitled(producer, schedule_db, customer, state="suspended", messages=20)
        address = random_number()
        # When an order event arrives and the agent decides to send
        await post_event(campaigns, customer, address)
        await asked(campaigns, customer, address)
        await decide(offline)
        # Then its SEND is skipped, saying why, and nothing is scheduled
        [decision] = await decisions(campaigns, customer, to_address=address)
        assert (decision["action"], decision["outcome"]) == ("SEND", f"skipped: {SUSPENDED}")
        assert await sends(campaigns, customer.headers, to_address=address) == []
