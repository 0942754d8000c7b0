"""Per-number sending rates: a number never sends faster than its rate, however many dispatch."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.devstack.fake_twilio import FakeTwilio
from switchboard.devstack.testkit import Serve, eventually
from switchboard.gateway.outbound.pacing import Pacer, Quota
from switchboard.gateway.outbound.transports import TwilioTransport

from ..helpers import account_sid, new_dispatcher, random_number


async def paced_number(gateway, tenant, fake: FakeTwilio, rate: float) -> dict[str, object]:
    sid, token = account_sid(), secrets.token_hex(16)
    fake.accounts[sid] = token
    response = await gateway.post(
        "/v1/numbers",
        json={
            "address": random_number(),
            "twilio": {"account_sid": sid, "auth_token": token},
            "messages_per_second": rate,
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


class LatePacer(Pacer):
    """Slots as a dispatcher that stalled for a second after claiming finds them: all past."""

    async def quotas(self, *args: Any, **kwargs: Any) -> list[Quota]:
        late = timedelta(seconds=1)
        return [replace(q, start=q.start - late) for q in await super().quotas(*args, **kwargs)]


async def run_dispatchers(
    serve: Serve, fake: FakeTwilio, count: int, until, pacer: Pacer | None = None
) -> None:
    """`count` dispatchers at once (as replicas would), each with its own pool and transport."""
    url = await serve(fake.app())
    dbs = [Database(PlatformSettings().database_url, pool_size=4) for _ in range(count)]
    transports = [TwilioTransport(url) for _ in range(count)]
    dispatchers = [
        new_dispatcher(
            db,
            transport,
            pacer=pacer or Pacer({}),
        )
        for db, transport in zip(dbs, transports, strict=True)
    ]
    tasks = [asyncio.create_task(d.run()) for d in dispatchers]
    try:
        await eventually(until, within=30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for transport, db in zip(transports, dbs, strict=True):
            await transport.close()
            await db.dispose()


def observed_rate(fake: FakeTwilio, sender: str) -> float:
    times = sorted(
        datetime.fromisoformat(m["received_at"]) for m in fake.messages if m["From"] == sender
    )
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds()


class TestPacing:
    async def test_two_dispatchers_together_keep_a_number_to_its_rate(
        self, gateway, tenant, fake_twilio, serve
    ) -> None:
        # Given a number allowed 20 messages a second, and 41 messages queued for it
        number = await paced_number(gateway, tenant, fake_twilio, rate=20)
        for i in range(41):
            response = await gateway.post(
                "/v1/messages",
                json={"to": random_number(), "body": f"Update {i}", "from": number["address"]},
                headers=tenant.headers,
            )
            assert response.status_code == 202, response.text

        async def all_sent() -> bool:
            return len([m for m in fake_twilio.messages if m["From"] == number["address"]]) == 41

        # When two dispatchers send them at the same time
        await run_dispatchers(serve, fake_twilio, 2, all_sent)
        # Then Twilio received them at the number's rate, not twice it
        assert observed_rate(fake_twilio, str(number["address"])) == pytest.approx(20, rel=0.15)

    async def test_a_dispatcher_running_late_does_not_send_in_a_burst(
        self, gateway, tenant, fake_twilio, serve
    ) -> None:
        # Given a number allowed 20 messages a second, and 21 messages queued for it
        number = await paced_number(gateway, tenant, fake_twilio, rate=20)
        for i in range(21):
            response = await gateway.post(
                "/v1/messages",
                json={"to": random_number(), "body": f"Late {i}", "from": number["address"]},
                headers=tenant.headers,
            )
            assert response.status_code == 202, response.text

        async def all_sent() -> bool:
            return len([m for m in fake_twilio.messages if m["From"] == number["address"]]) == 21

        # When the dispatcher finds every slot already past (it was held up after claiming)
        await run_dispatchers(serve, fake_twilio, 1, all_sent, pacer=LatePacer({}))
        # Then it still sends them at the number's rate, not all at once
        assert observed_rate(fake_twilio, str(number["address"])) == pytest.approx(20, rel=0.15)

    async def test_a_numbers_rate_is_set_and_changed_through_the_api(
        self, gateway, tenant, new_tenant, fake_twilio
    ) -> None:
        number = await paced_number(gateway, tenant, fake_twilio, rate=2.5)
        assert (number["number_type"], number["messages_per_second"]) == ("long_code", 2.5)
        path = f"/v1/numbers/{number['id']}"
        changed = await gateway.patch(
            path, json={"number_type": "toll_free"}, headers=tenant.headers
        )
        assert (changed.json()["number_type"], changed.json()["messages_per_second"]) == (
            "toll_free",
            2.5,
        )
        cleared = await gateway.patch(
            path, json={"messages_per_second": None}, headers=tenant.headers
        )
        assert cleared.json()["messages_per_second"] is None
        refused = await gateway.patch(path, json={"messages_per_second": 0}, headers=tenant.headers)
        assert refused.status_code == 422
        other = await new_tenant()
        hidden = await gateway.patch(
            path, json={"number_type": "short_code"}, headers=other.headers
        )
        assert hidden.status_code == 404
