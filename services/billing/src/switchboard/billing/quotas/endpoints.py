"""Subscriptions and quotas API: who is on which plan, and what they have left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, status

from switchboard.billing.models import Budget, Subscription
from switchboard.billing.payments.deps import OptionalPayments
from switchboard.billing.quotas import budgets
from switchboard.billing.quotas.schemas import (
    E164,
    BudgetRead,
    BudgetWrite,
    QuotaRead,
    SubscriptionRead,
    SubscriptionWrite,
)
from switchboard.billing.quotas.subscriptions import subscription_service
from switchboard.common.http import CurrentPrincipal, DbSession

router = APIRouter(tags=["subscriptions"])

Address = Annotated[str, Path(pattern=E164, description="The end user's number, E.164.")]


def read_subscription(subscription: Subscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(
        {
            "id": subscription.id,
            "contact_address": subscription.contact_address or None,
            "plan": subscription.plan_id,
            "state": subscription.state,
            "created_at": subscription.created_at,
            "updated_at": subscription.updated_at,
        }
    )


@router.put("/v1/tenants/{tenant_id}/subscription", response_model=SubscriptionRead)
async def subscribe_tenant(
    tenant_id: UUID,
    body: SubscriptionWrite,
    principal: CurrentPrincipal,
    session: DbSession,
    payments: OptionalPayments,
) -> SubscriptionRead:
    """Put a tenant on a plan (the platform admin only); its limits apply at once. A plan
    Stripe bills changes there first, prorated."""
    principal.require("platform:admin")
    now = datetime.now(UTC)
    subscription = await subscription_service.subscribe(
        session, tenant_id, "", body.plan, now, payments
    )
    return read_subscription(subscription)


@router.delete("/v1/tenants/{tenant_id}/subscription", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe_tenant(
    tenant_id: UUID, principal: CurrentPrincipal, session: DbSession, payments: OptionalPayments
) -> None:
    """Take a tenant off its plan (cancelled at Stripe if Stripe bills it): nothing is
    limited any more."""
    principal.require("platform:admin")
    await subscription_service.unsubscribe(session, tenant_id, "", payments)


@router.get("/v1/subscriptions", response_model=list[SubscriptionRead])
async def list_subscriptions(
    principal: CurrentPrincipal, session: DbSession
) -> list[SubscriptionRead]:
    """The tenant's own plan and its end users'."""
    principal.require("messages:read")
    return [
        read_subscription(s) for s in await subscription_service.list(session, principal.tenant())
    ]


@router.put("/v1/subscriptions/{address}", response_model=SubscriptionRead)
async def subscribe_end_user(
    address: Address,
    body: SubscriptionWrite,
    principal: CurrentPrincipal,
    session: DbSession,
    payments: OptionalPayments,
) -> SubscriptionRead:
    """Put one of the tenant's end users on a plan (for a consumer assistant), or move them to
    another (prorated at Stripe when Stripe bills them)."""
    principal.require("tenant:admin")
    tenant_id, now = principal.tenant(), datetime.now(UTC)
    subscription = await subscription_service.subscribe(
        session, tenant_id, address, body.plan, now, payments
    )
    return read_subscription(subscription)


@router.delete("/v1/subscriptions/{address}", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe_end_user(
    address: Address, principal: CurrentPrincipal, session: DbSession, payments: OptionalPayments
) -> None:
    """End an end user's subscription (cancelled at Stripe if Stripe bills it)."""
    principal.require("tenant:admin")
    await subscription_service.unsubscribe(session, principal.tenant(), address, payments)


@router.get("/v1/quota", response_model=QuotaRead)
async def get_quota(
    principal: CurrentPrincipal,
    session: DbSession,
    contact_address: Annotated[
        str | None, Query(pattern=E164, description="An end user; leave out for the tenant.")
    ] = None,
) -> QuotaRead:
    """The plan, what was used today and this month, and what is left (UTC periods)."""
    principal.require("messages:read")
    now = datetime.now(UTC)
    return await subscription_service.quota(session, principal.tenant(), contact_address or "", now)


@router.get("/v1/budget", response_model=BudgetRead)
async def get_budget(principal: CurrentPrincipal, session: DbSession) -> BudgetRead:
    """The monthly budget, what was spent this month and which thresholds were announced."""
    principal.require("messages:read")
    budget = await budgets.get_budget(session, principal.tenant())
    return await _budget_read(session, budget)


@router.put("/v1/budget", response_model=BudgetRead)
async def put_budget(
    body: BudgetWrite, principal: CurrentPrincipal, session: DbSession
) -> BudgetRead:
    """Set the monthly budget (`tenant:admin`); thresholds already crossed are announced now."""
    principal.require("tenant:admin")
    budget = await budgets.set_budget(
        session, principal.tenant(), body.monthly_amount, body.currency, body.thresholds,
        datetime.now(UTC),
    )  # fmt: skip
    return await _budget_read(session, budget)


@router.delete("/v1/budget", status_code=status.HTTP_204_NO_CONTENT)
async def delete_budget(principal: CurrentPrincipal, session: DbSession) -> None:
    principal.require("tenant:admin")
    await session.delete(await budgets.get_budget(session, principal.tenant()))


async def _budget_read(session: DbSession, budget: Budget) -> BudgetRead:
    now = datetime.now(UTC)
    month = now.strftime("%Y-%m")
    return BudgetRead(
        monthly_amount=budget.monthly_amount,
        currency=budget.currency,
        thresholds=budget.thresholds,
        spent_this_month=await budgets.spent(session, budget.tenant_id, now),
        alerted_this_month=budget.alerted.get(month, []),
    )
