"""Stripe's API through its official SDK, with the idempotency keys we derive from our own ids.

Every call that creates or changes something carries a key made of our ids (the subscriber, the
checkout, the subscription and its change number): a retried request, ours or the SDK's, is
taken once by Stripe. Stripe's refusals become our errors: a request it finds invalid is a 400
with its message, anything else (down, rate limited, a bad key) a 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import stripe
import structlog

from switchboard.common.errors import BadRequest, Unavailable

log = structlog.get_logger(__name__)

T = TypeVar("T")


class StripeGateway:
    def __init__(self, api_key: str, *, api_base: str | None = None, retries: int = 2) -> None:
        addresses: dict[str, str] = {"api": api_base} if api_base else {}
        self.client = stripe.StripeClient(
            api_key,
            base_addresses=addresses,  # type: ignore[arg-type]  # a TypedDict of optional keys
            http_client=stripe.HTTPXClient(),
            max_network_retries=retries,
        )

    async def customer(self, key: str, metadata: dict[str, str], phone: str | None) -> str:
        params: dict[str, Any] = {"metadata": metadata}
        if phone:
            params["phone"] = phone
        created = await self._call(
            lambda: self.client.v1.customers.create_async(params, {"idempotency_key": key})  # type: ignore[arg-type]
        )
        return str(created.id)

    async def checkout(
        self,
        key: str,
        *,
        customer: str,
        price: str,
        quantity: int,
        reference: str,
        metadata: dict[str, str],
        return_url: str,
    ) -> tuple[str, str]:
        """A Checkout session for a subscription: its id and the URL to pay at."""
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer,
            "client_reference_id": reference,
            "line_items": [{"price": price, "quantity": quantity}],
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "success_url": return_url,
            "cancel_url": return_url,
        }
        session = await self._call(
            lambda: self.client.v1.checkout.sessions.create_async(params, {"idempotency_key": key})  # type: ignore[arg-type]
        )
        return str(session.id), str(session.url)

    async def portal(self, customer: str, return_url: str) -> str:
        params = {"customer": customer, "return_url": return_url}
        session = await self._call(
            lambda: self.client.v1.billing_portal.sessions.create_async(params)  # type: ignore[arg-type]
        )
        return str(session.url)

    async def change(self, key: str, subscription: str, *, price: str, quantity: int) -> None:
        """Move the subscription to `price` x `quantity`, prorated (Stripe bills or credits the
        difference for the rest of the period)."""
        current = await self._call(
            lambda: self.client.v1.subscriptions.retrieve_async(subscription)
        )
        item = current["items"]["data"][0]["id"]
        params: dict[str, Any] = {
            "items": [{"id": item, "price": price, "quantity": quantity}],
            "proration_behavior": "create_prorations",
        }
        update = cast(Any, params)  # the SDK's TypedDict, built from a plain dict
        await self._call(
            lambda: self.client.v1.subscriptions.update_async(
                subscription, update, {"idempotency_key": key}
            )
        )

    async def cancel(self, key: str, subscription: str) -> None:
        await self._call(
            lambda: self.client.v1.subscriptions.cancel_async(
                subscription, options={"idempotency_key": key}
            )
        )

    async def invoices(self, customer: str, limit: int) -> list[dict[str, Any]]:
        """The customer's invoices, newest first, as plain dicts."""
        params = {"customer": customer, "limit": limit}
        found = await self._call(lambda: self.client.v1.invoices.list_async(params))  # type: ignore[arg-type]
        return [invoice.to_dict() for invoice in found.data]

    async def meter_event(
        self, identifier: str, *, event_name: str, customer: str, value: int, timestamp: datetime
    ) -> None:
        """One meter event, taken once by Stripe whatever retries (`identifier`); Stripe's
        refusal of a known identifier is raised as is (`stripe.InvalidRequestError`)."""
        params: dict[str, Any] = {
            "event_name": event_name,
            "identifier": identifier,
            "timestamp": int(timestamp.timestamp()),
            "payload": {"stripe_customer_id": customer, "value": str(value)},
        }
        create = self.client.v1.billing.meter_events.create_async
        await create(cast(Any, params), {"idempotency_key": f"usage:{identifier}"})

    def verify(self, payload: bytes, signature: str, secrets: list[str], tolerance: int) -> Any:
        """The event, if any of `secrets` signed it within `tolerance` seconds (several secrets
        while one is rotated); else `stripe.SignatureVerificationError`."""
        if not secrets:
            raise ValueError("No webhook signing secret is configured.")
        error: stripe.SignatureVerificationError | None = None
        for secret in secrets:
            try:
                return self.client.construct_event(payload, signature, secret, tolerance)
            except stripe.SignatureVerificationError as refused:
                error = refused
        assert error is not None
        raise error

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except stripe.InvalidRequestError as error:
            raise BadRequest(f"Stripe refused the request: {error.user_message or error}") from None
        except stripe.StripeError as error:
            log.warning("stripe.failed", error=str(error), status=error.http_status)
            raise Unavailable(f"Stripe is not answering as it should: {error}") from None
