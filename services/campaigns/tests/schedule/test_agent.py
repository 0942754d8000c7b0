"""The campaign agent end to end: a rule or a campaign step written in plain language is decided
per contact by a model (Anthropic's and OpenAI's SDKs against local fakes, or the offline
provider), which may read the contact, their recent messages, the time and their schedule, and
answers SEND, SKIP or DELAY with its reasoning; the decision is checked before anything is sent,
stored for audit, listed, and, in approval mode, waits for an operator."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from switchboard.campaigns.agent.agent import Agent
from switchboard.campaigns.agent.runner import MAX_ATTEMPTS, AgentRunner
from switchboard.campaigns.journeys.runner import JourneyRunner
from switchboard.campaigns.schedule.scheduler import Scheduler
from switchboard.common.db import Database
from switchboard.contracts import ConsentOptedOut
from switchboard.devstack.fake_llm import FakeAnthropic, FakeOpenAI, Turn
from switchboard.llm import FallbackChain, ModelPrice, OfflineProvider, PriceTable
from switchboard.llm.anthropic import AnthropicProvider
from switchboard.llm.openai import OpenAIProvider

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
from .test_journeys import add_contact, enroll, enrollment_of, new_campaign, outcomes, reply
from .test_rules_to_sends import add_rule, at, delivered, post_event, set_policy

pytestmark = pytest.mark.usefixtures("planning", "worker")

LATE_ORDERS = (
    "Text customers whose order is 3 days late and has no tracking number; apologise and give "
    "a delivery date."
)
PRICES = PriceTable(
    {
        "claude-test": ModelPrice(input_per_million=Decimal(3), output_per_million=Decimal(15)),
        "gpt-test": ModelPrice(input_per_million=Decimal(2), output_per_million=Decimal(8)),
        "offline": ModelPrice(input_per_million=Decimal(0), output_per_million=Decimal(0)),
    }
)


class Script:
    """What the fake model answers, per contact: each request is recognised by the contact's
    address in its messages, and gets that contact's next turn. A contact with no turn
    left (another test's leftover decision) is skipped."""

    def __init__(self) -> None:
        self.turns: dict[str, list[Turn]] = defaultdict(list)
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(self, address: str, *turns: Turn) -> None:
        self.turns[address].extend(turns)

    def respond(self, body: dict[str, Any]) -> Turn:
        conversation = json.dumps(body["messages"])
        for address, turns in self.turns.items():
            if address in conversation:
                self.requests[address].append(body)
                if turns:
                    return turns.pop(0)
        return [("decide", skip("not in this test's script"))]


def send(message: str, confidence: float = 0.9, why: str = "The order is late.") -> dict[str, Any]:
    return {"action": "SEND", "message": message, "reasoning": why, "confidence": confidence}


def skip(why: str) -> dict[str, Any]:
    return {"action": "SKIP", "reasoning": why, "confidence": 0.8}


@pytest.fixture(scope="module")
def script() -> Script:
    return Script()


@pytest.fixture
async def claude_url(serve: Any, script: Script) -> str:
    """Where the fake Anthropic API answers, from `script`."""
    url: str = await serve(FakeAnthropic(api_key="sk-ant-test", respond=script.respond).app())
    return url


def claude(url: str) -> Agent:
    """The agent on Claude: the fake, through the real SDK."""
    model = AnthropicProvider("claude-test", api_key="sk-ant-test", base_url=url, timeout=5)
    return Agent(FallbackChain([model], retries=0, backoff=0))


@pytest.fixture
def agent(schedule_db: Database, clock: SetClock, claude_url: str) -> AgentRunner:
    return AgentRunner(schedule_db, clock, claude(claude_url), PRICES)


async def decisions(
    campaigns: httpx.AsyncClient, tenant: Tenant, **filters: Any
) -> list[dict[str, Any]]:
    params = {k: str(v) for k, v in filters.items()}
    response = await campaigns.get("/v1/agent-decisions", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def asked(
    campaigns: httpx.AsyncClient, tenant: Tenant, address: str, count: int = 1
) -> list[dict[str, Any]]:
    """The decisions asked about `address`, once there are `count`."""

    async def enough() -> list[dict[str, Any]] | None:
        found = await decisions(campaigns, tenant, to_address=address)
        return found if len(found) >= count else None

    found: list[dict[str, Any]] = await eventually(enough, message=f"no decision for {address}")
    return found


async def decide(agent: AgentRunner) -> None:
    """The agent's passes until nothing is due now."""
    while await agent.decide_due():
        pass


async def on_event_decided(
    campaigns: httpx.AsyncClient,
    tenant: Tenant,
    agent: AgentRunner,
    address: str,
    **attributes: Any,
) -> None:
    """An order event for `address` is posted, its question reaches the agent, and the agent
    decides what is due."""
    await post_event(campaigns, tenant, address, **attributes)
    await asked(campaigns, tenant, address)
    await decide(agent)


async def late_order_rule(
    campaigns: httpx.AsyncClient, tenant: Tenant, **compose: Any
) -> dict[str, Any]:
    return await add_rule(
        campaigns,
        tenant,
        event_type="order.shipped",
        event_attributes=["order_id"],
        template=None,
        compose={"instructions": LATE_ORDERS} | compose,
    )


class TestARuleInPlainLanguage:
    async def test_the_agent_reads_the_contact_and_sends_its_message_with_its_reasoning(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        producer: AIOKafkaProducer,
        agent: AgentRunner,
        scheduler: Scheduler,
        outbound: Outbound,
        script: Script,
        schedule_db: Database,
    ) -> None:
        # Given a rule in plain language, and a contact who asked where their order is
        rule = await late_order_rule(campaigns, customer)
        clock.set(at("2026-06-01 15:00"))
        address = await add_contact(schedule_db, customer, clock, display_name="Ana")
        await reply(producer, customer, address, "Where is my order? It's been ages.")
        await eventually(lambda: _received(schedule_db, address), message="reply not kept")
        # And a model that reads the recent messages, then decides to send
        message = "Sorry Ana, order A-1001 is late. It will arrive by Friday 5 June."
        script.add(
            address,
            [("read_recent_messages", {"limit": 5})],
            [("decide", send(message, 0.85, "Ana asked about the late order."))],
        )
        # When the order event arrives and the agent decides
        event_id = await post_event(campaigns, customer, address)
        [pending] = await asked(campaigns, customer, address)
        assert (pending["status"], pending["rule_id"], pending["event_id"]) == (
            "pending",
            rule["id"],
            event_id,
        )
        await decide(agent)
        # Then the decision is stored with its reasoning, confidence, tools, tokens and cost
        [decision] = await decisions(campaigns, customer, to_address=address)
        assert decision["status"] == "decided"
        assert (decision["action"], decision["message"]) == ("SEND", message)
        assert decision["reasoning"] == "Ana asked about the late order."
        assert decision["confidence"] == 0.85
        assert [call["tool"] for call in decision["tool_calls"]] == [
            "read_recent_messages",
            "decide",
        ]
        assert (decision["provider"], decision["model"]) == ("anthropic", "claude-test")
        assert decision["input_tokens"] > 0
        assert decision["output_tokens"] > 0
        assert Decimal(decision["cost"]) > 0
        assert decision["compose"]["instructions"] == LATE_ORDERS
        # And the model saw the instructions, the event, and the reply it asked to read
        first, second = script.requests[address]
        assert LATE_ORDERS in first["system"]
        assert "A-1001" in first["messages"][0]["content"]
        [result] = [b for b in second["messages"][-1]["content"] if b["type"] == "tool_result"]
        assert "Where is my order?" in result["content"]
        # And the message is scheduled citing the rule and the event, and goes out once
        [scheduled] = await sends(campaigns, customer.headers, to_address=address)
        assert scheduled["id"] == decision["send_id"]
        assert (scheduled["body"], scheduled["rule_id"], scheduled["event_id"]) == (
            message,
            rule["id"],
            event_id,
        )
        await scheduler.send_due()
        [sent] = await delivered(outbound, customer, 1)
        assert (sent.to_address, sent.body) == (address, message)
        # And each of the two model calls was published on `usage`, costed
        calls = await eventually(lambda: at_least(outbound.usage[customer.id], 2))
        assert [(u.purpose, u.model, u.contact_address, u.campaign_id) for u in calls] == [
            ("composition", "claude-test", address, None)
        ] * 2
        assert sum(u.cost for u in calls) == Decimal(decision["cost"])

    async def test_openai_decides_through_function_calling(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        script: Script,
        schedule_db: Database,
        serve: Any,
    ) -> None:
        fake = FakeOpenAI(api_key="sk-test", respond=script.respond)
        url = await serve(fake.app())
        model = OpenAIProvider("gpt-test", api_key="sk-test", base_url=url + "/v1", timeout=5)
        gpt = AgentRunner(
            schedule_db, clock, Agent(FallbackChain([model], retries=0, backoff=0)), PRICES
        )
        await late_order_rule(campaigns, customer)
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        script.add(
            address,
            [("current_time", {})],
            [("decide", send("Sorry, your order is late; it arrives Friday."))],
        )
        await on_event_decided(campaigns, customer, gpt, address)
        [decision] = await decisions(campaigns, customer, to_address=address)
        assert (decision["action"], decision["outcome"]) == ("SEND", "scheduled")
        assert (decision["provider"], decision["model"]) == ("openai", "gpt-test")
        # The tool's answer went back as a `tool` message: the contact's local time
        first, second = script.requests[address]
        assert first["tool_choice"] == "required"
        [answer] = [m for m in second["messages"] if m["role"] == "tool"]
        assert json.loads(answer["content"])["within_send_window"] is True

    async def test_a_skip_sends_nothing_and_says_why(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        agent: AgentRunner,
        script: Script,
    ) -> None:
        await late_order_rule(campaigns, customer)
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        script.add(address, [("decide", skip("The order has a tracking number."))])
        await on_event_decided(campaigns, customer, agent, address, tracking="1Z999")
        [decision] = await decisions(campaigns, customer, to_address=address)
        assert (decision["action"], decision["status"]) == ("SKIP", "decided")
        assert decision["reasoning"] == "The order has a tracking number."
        assert decision["outcome"] == "skipped: the agent decided not to send"
        assert decision["send_id"] is None
        assert await sends(campaigns, customer.headers, to_address=address) == []

    async def test_a_delay_asks_again_later(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        agent: AgentRunner,
        script: Script,
    ) -> None:
        await late_order_rule(campaigns, customer)
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        delay = {"action": "DELAY", "delay_minutes": 120, "reasoning": "Carrier may update.",
                 "confidence": 0.6}  # fmt: skip
        script.add(address, [("decide", delay)], [("decide", send("Your order is late."))])
        await on_event_decided(campaigns, customer, agent, address)
        # The first decision is a DELAY; a second is due two hours later
        later, first = await asked(campaigns, customer, address, 2)
        assert first["action"] == "DELAY"
        assert first["outcome"].startswith("delayed: decided again at 2026-06-01T17:00")
        assert (later["status"], later["previous_id"]) == ("pending", first["id"])
        await decide(agent)
        assert (await decisions(campaigns, customer, to_address=address))[0]["status"] == (
            "pending"
        )
        # When the time comes, the agent is asked again and sends
        clock.advance(timedelta(hours=2))
        await decide(agent)
        [again, _] = await decisions(campaigns, customer, to_address=address)
        assert (again["action"], again["outcome"]) == ("SEND", "scheduled")
        [scheduled] = await sends(campaigns, customer.headers, to_address=address)
        assert scheduled["body"] == "Your order is late."

    async def test_with_no_model_configured_the_offline_agent_sends_a_labelled_message(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
    ) -> None:
        offline = AgentRunner(schedule_db, clock, Agent(OfflineProvider()), PRICES)
        await late_order_rule(campaigns, customer, max_length=80)
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        await on_event_decided(campaigns, customer, offline, address)
        [decision] = await decisions(campaigns, customer, to_address=address)
        assert decision["action"] == "SEND"
        assert decision["message"].startswith("[offline agent] Text customers whose order")
        assert len(decision["message"]) <= 80
        assert decision["provider"] == "offline"


class TestTheChecks:
    async def test_a_message_over_the_limit_is_refused_and_the_model_writes_a_shorter_one(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        agent: AgentRunner,
        script: Script,
    ) -> None:
        await late_order_rule(campaigns, customer, max_length=40)
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        script.add(
            address,
            [("decide", send("Sorry! Your order is running three days late; it arrives Friday."))],
            [("decide", send("Sorry, your order arrives Friday."))],
        )
        await on_event_decided(campaigns, customer, agent, address)
        [decision] = await decisions(campaigns, customer, to_address=address)
        assert decision["message"] == "Sorry, your order arrives Friday."
        refused, accepted = decision["tool_calls"]
        assert "the limit is 40" in refused["error"]
        assert "error" not in accepted
        # The model was told why (the result of its first call is an error)
        [result] = [
            b
            for b in script.requests[address][1]["messages"][-1]["content"]
            if b["type"] == "tool_result"
        ]
        assert result["is_error"]
        assert "the limit is 40" in result["content"]

    async def test_consent_quiet_hours_and_the_frequency_cap_hold_for_the_agent(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        agent: AgentRunner,
        script: Script,
        producer: AIOKafkaProducer,
        schedule_db: Database,
    ) -> None:
        await set_policy(
            campaigns,
            customer,
            default_time_zone="America/New_York",
            frequency_cap={"max_messages": 1, "period_hours": 24},
        )
        await late_order_rule(campaigns, customer)
        opted_out, night_owl, capped = (random_number() for _ in range(3))
        for address in (opted_out, night_owl, capped):
            script.add(address, [("decide", send("Your order is late; it arrives Friday."))])
        await publish_consent(producer, customer.id, opted_out, ConsentOptedOut, "STOP")
        await eventually(lambda: consent_is(schedule_db, customer.id, opted_out, True))
        # The capped contact already got a message today
        clock.set(at("2026-06-01 10:00", "America/New_York"))
        script.add(capped, [("decide", send("Earlier news."))])
        await on_event_decided(campaigns, customer, agent, capped, order_id="A-1")
        await Scheduler(schedule_db, clock).send_due()
        # When the events arrive at 3 a.m. New York time
        clock.set(at("2026-06-02 03:00", "America/New_York"))
        for address in (opted_out, night_owl):
            await post_event(campaigns, customer, address)
            await asked(campaigns, customer, address)
        await post_event(campaigns, customer, capped, order_id="A-2")
        await asked(campaigns, customer, capped, 2)
        await decide(agent)
        # Then the agent's SEND is skipped for the opted-out contact, with the reason
        [refused] = await decisions(campaigns, customer, to_address=opted_out)
        assert (refused["action"], refused["outcome"]) == (
            "SEND",
            "skipped: the contact opted out",
        )
        assert await sends(campaigns, customer.headers, to_address=opted_out) == []
        # And the night owl's message is held until 8:00 on their clock, not sent early
        [held] = await decisions(campaigns, customer, to_address=night_owl)
        assert held["outcome"].startswith("scheduled, quiet hours: held until")
        [send_] = await sends(campaigns, customer.headers, to_address=night_owl)
        assert datetime.fromisoformat(send_["due_at"]) == at("2026-06-02 08:00", "America/New_York")
        # And the capped contact gets nothing more within the day
        latest = (await decisions(campaigns, customer, to_address=capped))[0]
        assert latest["outcome"] == "skipped: frequency cap: 1 per 24 h already reached"


class TestApproval:
    async def test_queued_messages_are_approved_as_edited_or_rejected(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        agent: AgentRunner,
        script: Script,
        scheduler: Scheduler,
        outbound: Outbound,
    ) -> None:
        await late_order_rule(campaigns, customer, require_approval=True)
        clock.set(at("2026-06-01 15:00"))
        edited, rejected = random_number(), random_number()
        for address in (edited, rejected):
            script.add(address, [("decide", send("Your order is late, sorry!"))])
            await post_event(campaigns, customer, address)
            await asked(campaigns, customer, address)
        await decide(agent)
        # Both wait in the approval queue; nothing is scheduled
        queue = await decisions(campaigns, customer, status="awaiting_approval")
        assert {d["to_address"] for d in queue} == {edited, rejected}
        assert await sends(campaigns, customer.headers, to_address=edited) == []
        by_address = {d["to_address"]: d for d in queue}
        # An edit longer than the rule allows is refused
        too_long = await campaigns.post(
            f"/v1/agent-decisions/{by_address[edited]['id']}/approve",
            json={"message": "x" * 161},
            headers=customer.headers,
        )
        assert too_long.status_code == 400, too_long.text
        # The operator approves one as edited...
        response = await campaigns.post(
            f"/v1/agent-decisions/{by_address[edited]['id']}/approve",
            json={"message": "Sorry, your order ships Friday.", "note": "gave the date"},
            headers=customer.headers,
        )
        assert response.status_code == 200, response.text
        approved = response.json()
        assert approved["status"] == "approved"
        assert approved["message"] == "Sorry, your order ships Friday."
        assert approved["proposed_message"] == "Your order is late, sorry!"
        assert approved["reviewed_by"]
        assert approved["review_note"] == "gave the date"
        # ...and rejects the other
        response = await campaigns.post(
            f"/v1/agent-decisions/{by_address[rejected]['id']}/reject", headers=customer.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "skipped: rejected by an operator"
        # A decision already reviewed cannot be reviewed again
        again = await campaigns.post(
            f"/v1/agent-decisions/{by_address[rejected]['id']}/approve", headers=customer.headers
        )
        assert again.status_code == 409, again.text
        # Only the approved message goes, as edited
        await scheduler.send_due()
        [sent] = await delivered(outbound, customer, 1)
        assert (sent.to_address, sent.body) == (edited, "Sorry, your order ships Friday.")
        assert await sends(campaigns, customer.headers, to_address=rejected) == []

    async def test_another_tenant_cannot_see_or_review_decisions(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        stranger: Tenant,
        clock: SetClock,
        agent: AgentRunner,
        script: Script,
    ) -> None:
        await late_order_rule(campaigns, customer, require_approval=True)
        clock.set(at("2026-06-01 15:00"))
        address = random_number()
        script.add(address, [("decide", send("Your order is late."))])
        await post_event(campaigns, customer, address)
        [decision] = await asked(campaigns, customer, address)
        assert await decisions(campaigns, stranger) == []
        for path in ("", "/approve"):
            method = campaigns.get if not path else campaigns.post
            response = await method(
                f"/v1/agent-decisions/{decision['id']}{path}", headers=stranger.headers
            )
            assert response.status_code == 404, response.text


class TestAComposedCampaignStep:
    async def test_the_journey_waits_for_the_agent_then_goes_on(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        agent: AgentRunner,
        script: Script,
        schedule_db: Database,
        outbound: Outbound,
    ) -> None:
        clock.set(at("2026-06-01 15:00"))
        steps = [
            {"type": "send", "compose": {"instructions": "Welcome them by name, warmly."}},
            {"type": "wait", "seconds": 86400},
            {"type": "send", "template": "Any questions? Just reply."},
        ]
        campaign = await new_campaign(campaigns, customer, steps)
        welcomed = await add_contact(schedule_db, customer, clock, display_name="Bo")
        skipped = await add_contact(schedule_db, customer, clock, display_name="Cy")
        script.add(welcomed, [("read_contact", {})], [("decide", send("Welcome, Bo!"))])
        script.add(skipped, [("decide", skip("Cy is a test account."))])
        await enroll(campaigns, customer, campaign, welcomed, skipped)
        runner = JourneyRunner(schedule_db, clock)
        await runner.advance_due()
        # The enrollments wait for the agent at the send step
        waiting = await enrollment_of(campaigns, customer, campaign, welcomed)
        assert (waiting["step"], waiting["waiting"]) == (0, "agent")
        assert outcomes(waiting)[-1] == (0, "composing")
        await decide(agent)
        await runner.advance_due()
        # Then each goes on: one with the message scheduled, the other skipped, both waiting
        sent_path = await enrollment_of(campaigns, customer, campaign, welcomed)
        assert outcomes(sent_path)[-2:] == [(0, "scheduled"), (1, "waiting")]
        [scheduled] = await sends(campaigns, customer.headers, to_address=welcomed)
        assert scheduled["body"] == "Welcome, Bo!"
        assert (scheduled["campaign_id"], scheduled["step"]) == (campaign["id"], 0)
        skipped_path = await enrollment_of(campaigns, customer, campaign, skipped)
        assert outcomes(skipped_path)[-2:] == [(0, "skipped"), (1, "waiting")]
        # And the campaign's decisions are listed, and its metrics count the step
        listed = await decisions(campaigns, customer, campaign_id=campaign["id"])
        assert {d["action"] for d in listed} == {"SEND", "SKIP"}
        metrics = await campaigns.get(
            f"/v1/campaigns/{campaign['id']}/metrics", headers=customer.headers
        )
        first = metrics.json()["steps"][0]
        assert (first["composing"], first["scheduled"], first["skipped"]) == (2, 1, 1)
        # And the agent's three model calls are billed to the campaign
        calls = await eventually(lambda: at_least(outbound.usage[customer.id], 3))
        assert [u.campaign_id for u in calls] == [UUID(campaign["id"])] * 3

    async def test_a_paused_campaign_waits_and_a_contact_taken_out_is_never_decided(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        agent: AgentRunner,
        script: Script,
        schedule_db: Database,
    ) -> None:
        clock.set(at("2026-06-01 15:00"))
        steps = [{"type": "send", "compose": {"instructions": "Offer them the summer sale."}}]
        campaign = await new_campaign(campaigns, customer, steps)
        stays, leaves = [await add_contact(schedule_db, customer, clock) for _ in range(2)]
        for address in (stays, leaves):
            script.add(address, [("decide", send("The summer sale is on."))])
        await enroll(campaigns, customer, campaign, stays, leaves)
        await JourneyRunner(schedule_db, clock).advance_due()
        path = f"/v1/campaigns/{campaign['id']}"
        # While the campaign is paused the agent decides nothing for it
        assert (await campaigns.post(f"{path}/pause", headers=customer.headers)).status_code == 200
        await decide(agent)
        assert {d["status"] for d in await decisions(campaigns, customer)} == {"pending"}
        # A contact taken out meanwhile has their decision cancelled
        leaving = await enrollment_of(campaigns, customer, campaign, leaves)
        removed = await campaigns.delete(
            f"{path}/enrollments/{leaving['id']}", headers=customer.headers
        )
        assert removed.status_code == 200, removed.text
        # When the campaign resumes, only the one still in it is decided and scheduled
        resumed = await campaigns.post(f"{path}/activate", headers=customer.headers)
        assert resumed.status_code == 200
        await decide(agent)
        [cancelled] = await decisions(campaigns, customer, to_address=leaves)
        assert cancelled["status"] == "cancelled"
        assert cancelled["outcome"].startswith("cancelled: ")
        assert script.requests[leaves] == []
        [decided] = await decisions(campaigns, customer, to_address=stays)
        assert (decided["status"], decided["outcome"]) == ("decided", "scheduled")
        assert [s["to_address"] for s in await sends(campaigns, customer.headers)] == [stays]

    async def test_a_model_that_keeps_failing_fails_the_decision_and_the_journey_goes_on(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        schedule_db: Database,
        serve: Any,
    ) -> None:
        down = FakeOpenAI(api_key="sk-test", fail_with=[(500, "server_error")] * MAX_ATTEMPTS)
        url = await serve(down.app())
        model = OpenAIProvider("gpt-test", api_key="sk-test", base_url=url + "/v1", timeout=5)
        failing = AgentRunner(
            schedule_db, clock, Agent(FallbackChain([model], retries=0, backoff=0)), PRICES
        )
        clock.set(at("2026-06-01 15:00"))
        steps = [
            {"type": "send", "compose": {"instructions": "Say hello."}},
            {"type": "send", "template": "Hello from the template."},
        ]
        campaign = await new_campaign(campaigns, customer, steps)
        address = await add_contact(schedule_db, customer, clock)
        await enroll(campaigns, customer, campaign, address)
        runner = JourneyRunner(schedule_db, clock)
        await runner.advance_due()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await decide(failing)
            [decision] = await decisions(campaigns, customer, to_address=address)
            assert decision["attempts"] == attempt
            assert "500" in decision["error"]
            clock.advance(timedelta(minutes=2**attempt))
        assert decision["status"] == "failed"
        assert decision["outcome"].startswith("failed: no model answered")
        await runner.advance_due()
        [only] = await sends(campaigns, customer.headers, to_address=address)
        assert only["body"] == "Hello from the template."


class TestRunners:
    async def test_two_runners_decide_each_question_once(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        clock: SetClock,
        claude_url: str,
        script: Script,
        schedule_db: Database,
    ) -> None:
        await late_order_rule(campaigns, customer)
        clock.set(at("2026-06-01 15:00"))
        addresses = [random_number() for _ in range(12)]
        for address in addresses:
            script.add(address, [("decide", send(f"Late, sorry {address[-4:]}."))])
            await post_event(campaigns, customer, address)
        for address in addresses:
            await asked(campaigns, customer, address)
        runners = [
            AgentRunner(schedule_db, clock, claude(claude_url), PRICES, concurrency=4)
            for _ in range(2)
        ]
        await asyncio.gather(*(decide(runner) for runner in runners))
        planned = await sends(campaigns, customer.headers, limit=100)
        assert sorted(s["to_address"] for s in planned) == sorted(addresses)
        for address in addresses:
            assert len(script.requests[address]) == 1


class TestSaving:
    @pytest.mark.parametrize(
        ("fields", "error"),
        [
            ({"compose": {"instructions": "Say hi."}}, "either a `template` or `compose`"),
            ({"template": None}, "either a `template` or `compose`"),
            ({"template": None, "compose": {"instructions": ""}}, "at least 1 character"),
            ({"template": None, "compose": {"instructions": "Hi", "max_length": 5000}}, "1600"),
        ],
    )
    async def test_a_rule_needs_exactly_one_valid_message(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant, fields: dict[str, Any], error: str
    ) -> None:
        body = {
            "name": f"rule {secrets.token_hex(4)}",
            "event_type": "order.shipped",
            "template": "Shipped.",
        } | fields
        response = await campaigns.post("/v1/rules", json=body, headers=onlooker.headers)
        assert response.status_code == 422, response.text
        assert error in response.text


async def _received(db: Database, address: str) -> bool:
    async with db.reads() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM campaigns.received_messages WHERE address = :address"),
            {"address": address},
        )
    return bool(found)


_CLEAR_LEFTOVERS = text(
    """
    UPDATE campaigns.agent_decisions SET status = 'failed'
    WHERE status IN ('pending', 'deciding')
    """
)


@pytest.fixture(autouse=True)
async def _no_leftovers(schedule_db: Database) -> None:
    """Each test decides only its own questions: those left by earlier tests are cleared."""
    async with schedule_db.transaction() as session:
        await session.execute(_CLEAR_LEFTOVERS)
