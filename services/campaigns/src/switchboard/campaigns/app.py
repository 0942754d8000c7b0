"""The campaigns HTTP app: business events in, the rules they trigger, the multi-step campaigns
contacts go through, the sending policy that times the messages, the schedule of sends, and the
contacts campaigns can reach."""

from __future__ import annotations

from fastapi import FastAPI

from switchboard.campaigns.agent.endpoints import router as agent_decisions
from switchboard.campaigns.config import CampaignsSettings
from switchboard.campaigns.contacts.endpoints import router as contacts
from switchboard.campaigns.events.endpoints import router as events
from switchboard.campaigns.journeys.endpoints import router as journeys
from switchboard.campaigns.policy.endpoints import router as policy
from switchboard.campaigns.rules.endpoints import router as rules
from switchboard.campaigns.schedule.endpoints import router as scheduled_sends
from switchboard.common.http import create_app as create_service_app
from switchboard.common.runtime import replica_lifespan
from switchboard.common.settings import PlatformSettings


def create_app(
    settings: CampaignsSettings | None = None, platform: PlatformSettings | None = None
) -> FastAPI:
    platform = platform or PlatformSettings()
    settings = settings or CampaignsSettings()

    return create_service_app(
        service="campaigns",
        platform=platform,
        title="Switchboard campaigns",
        description="Business events, the rules that turn them into messages, multi-step "
        "campaigns (journeys) contacts are enrolled in, the sending policy (quiet hours, "
        "frequency cap) those messages keep to, the schedule of sends, and the AI agent's "
        "decisions (with their reasoning) and approval queue.",
        lifespan=replica_lifespan("campaigns", platform, settings),
        routers=[events, rules, journeys, policy, scheduled_sends, agent_decisions, contacts],
    )
