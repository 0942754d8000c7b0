"""Journeys end to end: contacts enrolled in a multi-step campaign get its messages at its times,
branch, wait for replies, leave on a reply, an opt-out or an exit step, and the campaign's
metrics match what was sent. The runner's and the scheduler's passes run on a set clock."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from switchboard.campaigns.contacts.service import contact_replica
from switchboard.campaigns.journeys.runner import JourneyRunner
from switchboard.campaigns.schedule.scheduler import Scheduler
from switchboard.common.db import Database
from switchboard.contracts import (
    ConsentOptedOut,
    ContactData,
    MessageReceived,
    MessageReceivedData,
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


@pytest.fixture
def runner(schedule_db: Database, clock: SetClock) -> JourneyRunner:
    return JourneyRunner(schedule_db, clock)


async def new_campaign(
    campaigns: httpx.AsyncClient, tenant: Tenant, steps: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    """An active campaign with these steps (manual enrollment unless a trigger is given)."""
    body = {"name": f"journey {secrets.token_hex(4)}", "trigger": {"type": "manual"}}
    response = await campaigns.post(
        "/v1/campaigns", json=body | {"steps": steps} | fields, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    campaign: dict[str, Any] = response.json()
    activated = await campaigns.post(
        f"/v1/campaigns/{campaign['id']}/activate", headers=tenant.headers
    )
    assert activated.status_code == 200, activated.text
    return campaign


async def add_contact(db: Database, tenant: Tenant, clock: SetClock, **fields: Any) -> str:
    """A contact in campaigns' replica, as if the conversation service had published it."""
    address = fields.pop("address", random_number())
    data = ContactData(contact_id=uuid4(), address=address, **fields)
    async with db.transaction() as session:
        await contact_replica.upsert(session, tenant.id, data, changed_at=clock.now())
    return address


async def enroll(
    campaigns: httpx.AsyncClient, tenant: Tenant, campaign: dict[str, Any], *addresses: str
) -> dict[str, Any]:
    contacts = [{"address": address} for address in addresses]
    response = await campaigns.post(
        f"/v1/campaigns/{campaign['id']}/enrollments",
        json={"contacts": contacts},
        headers=tenant.headers,
    )
    assert response.status_code == 202, response.text
    counts: dict[str, Any] = response.json()
    return counts


async def enrollment_of(
    campaigns: httpx.AsyncClient, tenant: Tenant, campaign: dict[str, Any], address: str
) -> dict[str, Any]:
    """The contact's latest enrollment in the campaign, with its path."""
    listed = await campaigns.get(
        f"/v1/campaigns/{campaign['id']}/enrollments",
        params={"address": address},
        headers=tenant.headers,
    )
    assert listed.status_code == 200, listed.text
    latest = listed.json()[0]
    response = await campaigns.get(
        f"/v1/campaigns/{campaign['id']}/enrollments/{latest['id']}", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    enrollment: dict[str, Any] = response.json()
    return enrollment


async def run_until_settled(runner: JourneyRunner, scheduler: Scheduler) -> None:
    """The runner's and the scheduler's passes until neither has anything due now."""
    while (await runner.advance_due()) or (await scheduler.send_due()).handled:
        pass


def bodies_to(outbound: Outbound, tenant: Tenant, address: str) -> list[str]:
    return [m.body for m in outbound.to(tenant.id) if m.to_address == address]


async def texted(outbound: Outbound, tenant: Tenant, address: str, count: int) -> list[str]:
    async def enough() -> list[str] | None:
        found = bodies_to(outbound, tenant, address)
        return found if len(found) >= count else None

    found: list[str] = await eventually(enough, message=f"{address} never got {count} texts")
    return found


async def reply(producer: AIOKafkaProducer, tenant: Tenant, address: str, body: str) -> None:
    """A contact's text reaching the tenant's number, as the gateway publishes it."""
    data = MessageReceivedData(
        message_id=uuid4(),
        channel="sms",
        provider="twilio",
        provider_message_id="SM" + secrets.token_hex(16),
        from_address=address,
        to_address="+15550000000",
        body=body,
        received_at=datetime.now(UTC),
    )
    event = MessageReceived.create(tenant.id, data)
    await producer.send_and_wait(
        Topic.MESSAGES_INBOUND.value,
        event.model_dump_json().encode(),
        key=contact_key(tenant.id, address),
    )


def outcomes(enrollment: dict[str, Any]) -> list[tuple[int, str]]:
    return [(step["step"], step["outcome"]) for step in enrollment["path"]]


WELCOME_SERIES = [
    {"type": "send", "template": "Welcome, {{ contact.display_name | default('friend') }}!"},
    {"type": "wait", "seconds": 86400},
    {
        "type": "branch",
        "condition": {"field": "contact.attributes.tier", "op": "eq", "value": "gold"},
        "goto": "vip",
    },
    {"type": "send", "template": "Tip: reply HELP any time."},
    {"type": "exit"},
    {"type": "send", "id": "vip", "template": "As a gold member, your line is open 24/7."},
]


class TestAJourney:
    async def test_contacts_go_through_sends_waits_and_branches(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a welcome series and two contacts, one of them gold
        clock.set(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
        campaign = await new_campaign(campaigns, customer, WELCOME_SERIES)
        gold = await add_contact(
            schedule_db, customer, clock, display_name="Ada", attributes={"tier": "gold"}
        )
        plain = await add_contact(schedule_db, customer, clock)
        # When both are enrolled
        assert (await enroll(campaigns, customer, campaign, gold, plain))["enrolled"] == 2
        await run_until_settled(runner, scheduler)
        # Then both are welcomed at once, by name where it is known
        assert await texted(outbound, customer, gold, 1) == ["Welcome, Ada!"]
        assert await texted(outbound, customer, plain, 1) == ["Welcome, friend!"]
        # And nothing more comes before the day's wait is over
        clock.advance(timedelta(hours=23, minutes=59))
        await run_until_settled(runner, scheduler)
        # But after it, each gets the message of their branch
        clock.advance(timedelta(minutes=1))
        await run_until_settled(runner, scheduler)
        assert (await texted(outbound, customer, gold, 2))[1].startswith("As a gold member")
        assert (await texted(outbound, customer, plain, 2))[1] == "Tip: reply HELP any time."
        # And their paths show the way each went, and how each left
        vip = await enrollment_of(campaigns, customer, campaign, gold)
        assert (vip["status"], vip["reason"]) == ("completed", "completed")
        assert outcomes(vip) == [
            (0, "entered"),
            (0, "scheduled"),
            (1, "waiting"),
            (2, "branched"),
            (5, "scheduled"),
            (6, "completed"),
        ]
        regular = await enrollment_of(campaigns, customer, campaign, plain)
        assert (regular["status"], regular["reason"]) == ("exited", "exit at step 5")
        assert outcomes(regular)[3:] == [(2, "passed"), (3, "scheduled"), (4, "exited")]
        # And the campaign's metrics count what was sent
        response = await campaigns.get(
            f"/v1/campaigns/{campaign['id']}/metrics", headers=customer.headers
        )
        assert response.status_code == 200, response.text
        metrics = response.json()
        assert (metrics["enrolled"], metrics["completed"], metrics["exited"]) == (2, 1, 1)
        by_step = {step["step"]: step for step in metrics["steps"]}
        assert (by_step[0]["sent"], by_step[3]["sent"], by_step[5]["sent"]) == (2, 1, 1)
        assert len(bodies_to(outbound, customer, gold)) == 2
        # And each message the runner handed over names its campaign, for billing
        assert {m.campaign_id for m in outbound.to(customer.id)} == {UUID(campaign["id"])}

    async def test_a_reply_or_its_absence_decides_the_next_step(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a survey that waits an hour for an answer
        clock.set(datetime(2026, 7, 2, 12, 0, tzinfo=UTC))
        steps = [
            {"type": "send", "template": "How did we do, 1 to 5?"},
            {
                "type": "wait_for_reply",
                "timeout_seconds": 3600,
                "on_reply": "thanks",
                "on_timeout": "nudge",
            },
            {"type": "send", "id": "nudge", "template": "Still there? One word is enough."},
            {"type": "exit"},
            {"type": "send", "id": "thanks", "template": "Thank you for your answer!"},
        ]
        campaign = await new_campaign(campaigns, customer, steps)
        answering = await add_contact(schedule_db, customer, clock)
        silent = await add_contact(schedule_db, customer, clock)
        await enroll(campaigns, customer, campaign, answering, silent)
        await run_until_settled(runner, scheduler)
        await texted(outbound, customer, silent, 1)
        # When one contact answers within the hour
        await reply(producer, customer, answering, "5, great service")
        await eventually(lambda: _step_is(campaigns, customer, campaign, answering, 4))
        await run_until_settled(runner, scheduler)
        # Then they are thanked at once, and done
        assert (await texted(outbound, customer, answering, 2))[1] == "Thank you for your answer!"
        done = await enrollment_of(campaigns, customer, campaign, answering)
        assert done["status"] == "completed"
        assert (1, "replied") in outcomes(done)
        # And the other is nudged when the hour is up, then leaves
        clock.advance(timedelta(hours=1))
        await run_until_settled(runner, scheduler)
        assert (await texted(outbound, customer, silent, 2))[1].startswith("Still there?")
        nudged = await enrollment_of(campaigns, customer, campaign, silent)
        assert (nudged["status"], (1, "timed_out") in outcomes(nudged)) == ("exited", True)


class TestLeaving:
    async def test_a_reply_with_an_exit_phrase_ends_the_journey_and_its_waiting_sends(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a contact whose first message is held until the morning (it is 23:00 UTC)
        clock.set(datetime(2026, 7, 3, 23, 0, tzinfo=UTC))
        steps = [
            {"type": "send", "template": "Our summer sale starts tomorrow."},
            {"type": "wait", "seconds": 3600},
            {"type": "send", "template": "The sale is on!"},
        ]
        campaign = await new_campaign(campaigns, customer, steps, exit_replies=["no more"])
        address = await add_contact(schedule_db, customer, clock)
        await enroll(campaigns, customer, campaign, address)
        await runner.advance_due()
        [held] = await sends(campaigns, customer.headers, to_address=address)
        assert (held["status"], held["due_at"]) == ("scheduled", "2026-07-04T08:00:00Z")
        # When they answer that they want no more
        await reply(producer, customer, address, "Please, NO MORE texts")
        await eventually(lambda: _status_is(campaigns, customer, campaign, address, "exited"))
        # Then they left, saying why, and the held message will never go
        gone = await enrollment_of(campaigns, customer, campaign, address)
        assert gone["reason"] == 'replied "no more"'
        [cancelled] = await sends(campaigns, customer.headers, to_address=address)
        assert cancelled["status"] == "cancelled"
        clock.set(datetime(2026, 7, 4, 12, 0, tzinfo=UTC))
        await run_until_settled(runner, scheduler)
        assert bodies_to(outbound, customer, address) == []

    async def test_an_opt_out_ends_every_journey_and_cancels_every_waiting_send(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
    ) -> None:
        # Given a contact in two campaigns, with a message held for the morning
        clock.set(datetime(2026, 7, 5, 23, 0, tzinfo=UTC))
        address = await add_contact(schedule_db, customer, clock)
        first = await new_campaign(
            campaigns,
            customer,
            [
                {"type": "send", "template": "One"},
                {"type": "wait", "seconds": 86400},
                {"type": "send", "template": "Later"},
            ],
        )
        second = await new_campaign(
            campaigns,
            customer,
            [{"type": "wait", "seconds": 600}, {"type": "send", "template": "Two"}],
        )
        await enroll(campaigns, customer, first, address)
        await enroll(campaigns, customer, second, address)
        await runner.advance_due()
        # When they text STOP (the gateway records their opt-out)
        await publish_consent(producer, customer.id, address, ConsentOptedOut, "STOP")
        # Then they leave both campaigns, and the held message is cancelled
        for campaign in (first, second):
            await eventually(
                lambda c=campaign: _status_is(campaigns, customer, c, address, "exited")
            )
            left = await enrollment_of(campaigns, customer, campaign, address)
            assert left["reason"] == "opted out"
        statuses = {
            s["status"] for s in await sends(campaigns, customer.headers, to_address=address)
        }
        assert statuses == {"cancelled"}


class TestEnrolment:
    async def test_a_contact_who_opted_out_is_not_enrolled(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        producer: AIOKafkaProducer,
        clock: SetClock,
        schedule_db: Database,
    ) -> None:
        # Given a contact who texted STOP (the gateway publishes their opt-out)
        clock.set(datetime(2026, 7, 12, 12, 0, tzinfo=UTC))
        address = await add_contact(schedule_db, customer, clock)
        await publish_consent(producer, customer.id, address, ConsentOptedOut, "STOP")
        await eventually(lambda: consent_is(schedule_db, customer.id, address, True))
        campaign = await new_campaign(campaigns, customer, [{"type": "send", "template": "Hi"}])
        # When they are enrolled by hand
        outcome = await enroll(campaigns, customer, campaign, address)
        # Then they are skipped, and not in the campaign
        assert (outcome["enrolled"], outcome["skipped"]) == (0, 1)
        listed = await campaigns.get(
            f"/v1/campaigns/{campaign['id']}/enrollments", headers=customer.headers
        )
        assert listed.json() == []

    async def test_an_event_enrolls_its_contact_once(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        runner: JourneyRunner,
    ) -> None:
        # Given a campaign for first orders over 50
        clock.set(datetime(2026, 7, 6, 12, 0, tzinfo=UTC))
        trigger = {
            "type": "event",
            "event_type": "order.placed",
            "condition": {"field": "event.total", "op": "gte", "value": 50},
        }
        steps = [{"type": "send", "template": "Thanks for order {{ event.order_id }}!"}]
        campaign = await new_campaign(
            campaigns, customer, steps, trigger=trigger, event_attributes=["order_id"]
        )
        address = random_number()
        # When a contact places a small order, then a large one, then another
        for total, key in ((10, "a"), (80, "b"), (90, "c")):
            body = {
                "type": "order.placed",
                "contact_address": address,
                "attributes": {"order_id": f"O-{key}", "total": total},
                "idempotency_key": f"{address}:{key}",
            }
            response = await campaigns.post("/v1/events", json=body, headers=customer.headers)
            assert response.status_code == 202, response.text
        # Then only the large order enrolled them, once (one active enrollment per contact)
        await eventually(lambda: _status_is(campaigns, customer, campaign, address, "active"))
        await runner.advance_due()
        enrollment = await enrollment_of(campaigns, customer, campaign, address)
        [send] = await sends(campaigns, customer.headers, enrollment_id=enrollment["id"])
        assert send["body"] == "Thanks for order O-b!"
        listed = await campaigns.get(
            f"/v1/campaigns/{campaign['id']}/enrollments", headers=customer.headers
        )
        assert len(listed.json()) == 1

    async def test_a_date_attribute_enrolls_on_the_day_at_the_hour(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given "3 days after signup, at 10:00" and a contact who signed up on 10 July
        trigger = {"type": "date", "attribute": "signup_date", "offset_days": 3, "at": "10:00"}
        steps = [{"type": "send", "template": "How are your first days going?"}]
        campaign = await new_campaign(campaigns, customer, steps, trigger=trigger)
        clock.set(datetime(2026, 7, 13, 6, 0, tzinfo=UTC))
        address = await add_contact(
            schedule_db, customer, clock, attributes={"signup_date": "2026-07-10"}
        )
        # When the runner sweeps on the morning of the 13th
        await runner.sweep_dates()
        enrollment = await enrollment_of(campaigns, customer, campaign, address)
        assert enrollment["next_run_at"] == "2026-07-13T10:00:00Z"
        # Then the message goes at 10:00, not before
        clock.set(datetime(2026, 7, 13, 9, 59, tzinfo=UTC))
        await run_until_settled(runner, scheduler)
        assert bodies_to(outbound, customer, address) == []
        clock.set(datetime(2026, 7, 13, 10, 0, tzinfo=UTC))
        await run_until_settled(runner, scheduler)
        assert await texted(outbound, customer, address, 1) == ["How are your first days going?"]
        # And a later sweep does not enroll them again for the same date
        clock.advance(timedelta(hours=2))
        assert await JourneyRunner(schedule_db, clock).sweep_dates() == 0


class TestRunners:
    async def test_runners_of_several_replicas_share_the_work_and_double_none_of_it(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
        outbound: Outbound,
    ) -> None:
        # Given 60 contacts enrolled in a one-message campaign
        clock.set(datetime(2026, 7, 11, 12, 0, tzinfo=UTC))
        campaign = await new_campaign(campaigns, customer, [{"type": "send", "template": "Hi"}])
        addresses = [await add_contact(schedule_db, customer, clock) for _ in range(60)]
        await enroll(campaigns, customer, campaign, *addresses)
        # When three runners (three replicas) take passes of 10 at the same time
        runners = [JourneyRunner(schedule_db, clock, batch=10) for _ in range(3)]

        async def drain(runner: JourneyRunner) -> int:
            moved = 0
            while done := await runner.advance_due():
                moved += done
            return moved

        moved = await asyncio.gather(*(drain(runner) for runner in runners))
        # Then together they moved every enrollment once, and each contact got one message
        assert sum(moved) == 60
        messages = await eventually(
            lambda: at_least(outbound.to(customer.id), 60), message="60 messages never came"
        )
        await asyncio.sleep(0.3)
        assert sorted(m.to_address for m in outbound.to(customer.id)) == sorted(addresses)
        assert len(messages) == 60


class TestFrequencyCap:
    async def test_a_journeys_messages_count_against_the_contacts_cap(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given at most one message a day per contact, and a journey of two an hour apart
        cap = {"max_messages": 1, "period_hours": 24}
        response = await campaigns.put(
            "/v1/sending-policy", json={"frequency_cap": cap}, headers=customer.headers
        )
        assert response.status_code == 200, response.text
        clock.set(datetime(2026, 7, 10, 12, 0, tzinfo=UTC))
        steps = [
            {"type": "send", "template": "First"},
            {"type": "wait", "seconds": 3600},
            {"type": "send", "template": "Second"},
        ]
        campaign = await new_campaign(campaigns, customer, steps)
        address = await add_contact(schedule_db, customer, clock)
        # When the contact goes through it
        await enroll(campaigns, customer, campaign, address)
        await run_until_settled(runner, scheduler)
        clock.advance(timedelta(hours=1))
        await run_until_settled(runner, scheduler)
        # Then the second message is skipped, saying why
        assert await texted(outbound, customer, address, 1) == ["First"]
        second = [
            s
            for s in await sends(campaigns, customer.headers, to_address=address)
            if s["step"] == 2
        ]
        assert second[0]["status"] == "skipped"
        assert "frequency cap" in second[0]["reason"]
        # And the message the scheduler sent names its campaign, for billing
        assert [m.campaign_id for m in outbound.to(customer.id)] == [UUID(campaign["id"])]


class TestAnnouncements:
    async def test_a_campaign_that_announces_enrollments_publishes_each_entry_and_exit(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
        outbound: Outbound,
    ) -> None:
        # Given two one-step campaigns, only one of which announces its enrollments
        clock.set(datetime(2026, 7, 9, 12, 0, tzinfo=UTC))
        steps = [{"type": "send", "template": "Hello"}]
        loud = await new_campaign(campaigns, customer, steps, announce_enrollments=True)
        quiet = await new_campaign(campaigns, customer, steps)
        address = await add_contact(schedule_db, customer, clock)
        # When a contact goes through both
        await enroll(campaigns, customer, loud, address)
        await enroll(campaigns, customer, quiet, address)
        await runner.advance_due()
        # Then the announcing one published their entering and their leaving, keyed by campaign
        key = f"{customer.id}:{loud['id']}".encode()

        async def both_published() -> list[tuple[bytes | None, Any]] | None:
            published = outbound.campaign_events[customer.id]
            return published if len(published) >= 2 else None

        published = await eventually(both_published)
        assert [(k, e.type) for k, e in published] == [
            (key, "campaign.enrollment_started"),
            (key, "campaign.enrollment_ended"),
        ]
        assert (published[1][1].data.contact_address, published[1][1].data.reason) == (
            address,
            "completed",
        )
        # And the other published nothing
        await asyncio.sleep(0.5)
        assert len(outbound.campaign_events[customer.id]) == 2


class TestChanges:
    async def test_an_edit_makes_a_new_version_and_journeys_in_flight_keep_theirs(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        clock.set(datetime(2026, 7, 7, 12, 0, tzinfo=UTC))
        first = [
            {"type": "send", "template": "Hello"},
            {"type": "wait", "seconds": 3600},
            {"type": "send", "template": "Old follow-up"},
        ]
        campaign = await new_campaign(campaigns, customer, first)
        early = await add_contact(schedule_db, customer, clock)
        await enroll(campaigns, customer, campaign, early)
        await run_until_settled(runner, scheduler)
        # When the operator rewrites the follow-up
        second = [*first[:2], {"type": "send", "template": "New follow-up"}]
        response = await campaigns.patch(
            f"/v1/campaigns/{campaign['id']}", json={"steps": second}, headers=customer.headers
        )
        assert (response.status_code, response.json()["version"]) == (200, 2)
        late = await add_contact(schedule_db, customer, clock)
        await enroll(campaigns, customer, campaign, late)
        await run_until_settled(runner, scheduler)
        clock.advance(timedelta(hours=1))
        await run_until_settled(runner, scheduler)
        # Then the contact enrolled before it finishes the version they started
        assert (await texted(outbound, customer, early, 2))[1] == "Old follow-up"
        assert (await texted(outbound, customer, late, 2))[1] == "New follow-up"

    async def test_a_paused_campaign_holds_its_sends_until_it_resumes(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
        runner: JourneyRunner,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        # Given a send held for the morning
        clock.set(datetime(2026, 7, 8, 23, 0, tzinfo=UTC))
        campaign = await new_campaign(campaigns, customer, [{"type": "send", "template": "Hi"}])
        address = await add_contact(schedule_db, customer, clock)
        await enroll(campaigns, customer, campaign, address)
        await runner.advance_due()
        # When the campaign is paused before then
        path = f"/v1/campaigns/{campaign['id']}"
        assert (await campaigns.post(f"{path}/pause", headers=customer.headers)).status_code == 200
        clock.set(datetime(2026, 7, 9, 9, 0, tzinfo=UTC))
        await run_until_settled(runner, scheduler)
        # Then nothing goes
        assert bodies_to(outbound, customer, address) == []
        [paused] = await sends(campaigns, customer.headers, to_address=address)
        assert paused["status"] == "paused"
        # Until it resumes
        assert (
            await campaigns.post(f"{path}/activate", headers=customer.headers)
        ).status_code == 200
        await run_until_settled(runner, scheduler)
        assert await texted(outbound, customer, address, 1) == ["Hi"]


async def _status_is(
    campaigns: httpx.AsyncClient,
    tenant: Tenant,
    campaign: dict[str, Any],
    address: str,
    status: str,
) -> bool:
    listed = await campaigns.get(
        f"/v1/campaigns/{campaign['id']}/enrollments",
        params={"address": address},
        headers=tenant.headers,
    )
    return (
        listed.status_code == 200 and bool(listed.json()) and listed.json()[0]["status"] == status
    )


async def _step_is(
    campaigns: httpx.AsyncClient, tenant: Tenant, campaign: dict[str, Any], address: str, step: int
) -> bool:
    return (await enrollment_of(campaigns, tenant, campaign, address))["step"] == step
