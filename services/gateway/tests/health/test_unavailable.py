"""A database that is down: readiness fails and webhooks answer 503, so Twilio retries."""

from __future__ import annotations

from switchboard.common.settings import PlatformSettings
from switchboard.devstack.infra import free_port
from switchboard.devstack.testkit import in_process
from switchboard.gateway.app import create_app
from switchboard.gateway.config import GatewaySettings


class TestDatabaseDown:
    async def test_webhook_is_503_and_not_ready(self, platform_env: dict[str, str]) -> None:
        # Given a gateway whose database does not answer
        down = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
        app = create_app(GatewaySettings(), PlatformSettings(database_url=down))  # type: ignore[call-arg]
        async with in_process(app, "gw") as client:
            # When Twilio posts a message, and a probe asks for readiness
            form = {"MessageSid": "SM1", "From": "+15551230000", "To": "+15551239999"}
            webhook = await client.post("/v1/webhooks/twilio/messages", data=form)
            ready = await client.get("/readyz")
            alive = await client.get("/healthz")
        # Then nothing pretends to be recorded
        assert webhook.status_code == 503
        assert webhook.headers["retry-after"]
        assert ready.status_code == 503
        assert alive.status_code == 200
