"""A dispatcher killed between the provider call and recording it: never a second send."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.devstack.fake_twilio import FakeTwilio
from switchboard.devstack.testkit import serving
from switchboard.gateway.outbound.reconciler import SendingReconciler
from switchboard.gateway.outbound.transports import SendRequest, SendResult, TwilioTransport

from ..helpers import new_dispatcher, random_number, tenant_with_number, wait_for_status


class KilledAfterTheCall(TwilioTransport):
    """Calls Twilio, then dies before the dispatcher can record the answer (as a killed pod)."""

    async def send(self, request: SendRequest) -> SendResult:
        await super().send(request)
        raise asyncio.CancelledError


async def dispatch_until_idle(fake: FakeTwilio, transport_class: type[TwilioTransport]) -> None:
    """Run a dispatcher until it has nothing left to claim, as a process that starts and dies."""
    db = Database(PlatformSettings().database_url, pool_size=2)
    async with serving(fake.app()) as url:
        transport = transport_class(url)
        dispatcher = new_dispatcher(
            db,
            transport,
        )
        try:
            while claims := await dispatcher.claim():
                await asyncio.gather(
                    *(dispatcher.deliver(claim) for claim in claims), return_exceptions=True
                )
        finally:
            await transport.close()
            await db.dispose()


async def send(gateway, tenant, to: str) -> str:
    response = await gateway.post(
        "/v1/messages", json={"to": to, "body": "Your code is 1234"}, headers=tenant.headers
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


class TestUnknownOutcome:
    async def test_the_status_callback_settles_a_send_that_was_never_recorded(
        self, gateway, tenant, fake_twilio
    ) -> None:
        # Given a message whose dispatcher died right after Twilio took it
        await tenant_with_number(gateway, tenant, fake_twilio)
        to = random_number()
        message_id = await send(gateway, tenant, to)
        await dispatch_until_idle(fake_twilio, KilledAfterTheCall)
        # When Twilio's status callbacks arrive, and a new dispatcher starts
        message = await wait_for_status(gateway, tenant, message_id, "delivered")
        await dispatch_until_idle(fake_twilio, TwilioTransport)
        await fake_twilio.drain()
        # Then the contact got exactly one text, and the message knows Twilio's id for it
        sent = [m for m in fake_twilio.messages if m["To"] == to]
        assert len(sent) == 1
        assert message["provider_message_id"] == sent[0]["sid"]

    async def test_without_a_callback_it_becomes_failed_with_an_unknown_outcome(
        self, gateway, tenant, fake_twilio
    ) -> None:
        # Given a message whose dispatcher died after the call, and no callback ever comes
        fake_twilio.callbacks = False
        await tenant_with_number(gateway, tenant, fake_twilio)
        to = random_number()
        message_id = await send(gateway, tenant, to)
        await dispatch_until_idle(fake_twilio, KilledAfterTheCall)
        await dispatch_until_idle(fake_twilio, TwilioTransport)
        status = await gateway.get(f"/v1/messages/{message_id}", headers=tenant.headers)
        assert status.json()["status"] == "sending"
        # When the reconciler finds it stuck beyond its timeout
        db = Database(PlatformSettings().database_url, pool_size=1)
        try:
            await SendingReconciler(db, timeout=timedelta(0)).sweep()
        finally:
            await db.dispose()
        # Then it is failed with the reason, still sent once, and never again
        message = await wait_for_status(gateway, tenant, message_id, "failed")
        assert message["error_code"] == "outcome_unknown"
        await dispatch_until_idle(fake_twilio, TwilioTransport)
        assert len([m for m in fake_twilio.messages if m["To"] == to]) == 1
