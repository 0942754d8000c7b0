"""The compliance gates every send passes just before the provider is called.

In order: the recipient's consent (an opted-out address gets nothing, whatever asked for the
send), the tenant's allowed destination countries, and its daily send budget (first attempts
only: a retry is not counted twice). The keyword confirmations pass every gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import phonenumbers
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.gateway.compliance.models import (
    Consent,
    DailySends,
    KeywordReply,
    TenantCompliance,
)
from switchboard.gateway.outbound.dispatcher import Claim, Refusal


class ComplianceGate:
    """Consent, destination countries and the daily budget, for a claimed batch at once."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def check(self, claims: Sequence[Claim]) -> dict[UUID, Refusal]:
        refusals: dict[UUID, Refusal] = {}
        async with self.db.transaction() as session:
            confirmations = await _confirmations(session, claims)
            candidates = [claim for claim in claims if claim.id not in confirmations]
            if not candidates:
                return refusals
            opted_out = await _opted_out(session, candidates)
            for claim in candidates:
                if (claim.tenant_id, claim.to_address) in opted_out:
                    refusals[claim.id] = Refusal(
                        "opted_out", "The recipient opted out of the tenant's messages."
                    )
            tenants = {claim.tenant_id for claim in candidates}
            rules = {
                r.tenant_id: r
                for r in await session.scalars(
                    select(TenantCompliance).where(TenantCompliance.tenant_id.in_(tenants))
                )
            }
            for claim in candidates:
                tenant_rules = rules.get(claim.tenant_id)
                if claim.id in refusals or tenant_rules is None:
                    continue
                if (refusal := _country_refusal(tenant_rules, claim)) is not None:
                    refusals[claim.id] = refusal
            budgeted = [
                claim
                for claim in candidates
                if claim.id not in refusals
                and claim.attempts <= 1  # a retry was counted on its first attempt
                and claim.tenant_id in rules
                and rules[claim.tenant_id].daily_budget is not None
            ]
            refusals |= await _budget_refusals(session, rules, budgeted)
        return refusals


async def _confirmations(session: AsyncSession, claims: Sequence[Claim]) -> set[UUID]:
    """The keyword confirmations among `claims`: they pass every gate."""
    system = [claim.id for claim in claims if claim.origin == "system"]
    if not system:
        return set()
    found = select(KeywordReply.message_id).where(KeywordReply.message_id.in_(system))
    return set(await session.scalars(found))


async def _opted_out(session: AsyncSession, claims: Sequence[Claim]) -> set[tuple[UUID, str]]:
    pairs = {(claim.tenant_id, claim.to_address) for claim in claims}
    rows = await session.execute(
        select(Consent.tenant_id, Consent.address).where(
            Consent.status == "opted_out", tuple_(Consent.tenant_id, Consent.address).in_(pairs)
        )
    )
    return {(row.tenant_id, row.address) for row in rows}


def _country_refusal(rules: TenantCompliance, claim: Claim) -> Refusal | None:
    if rules.allowed_countries is None:
        return None
    region = region_of(claim.to_address)
    if region in rules.allowed_countries:
        return None
    return Refusal(
        "country_not_allowed",
        f"The tenant does not send to {region or 'this destination'}.",
    )


async def _budget_refusals(
    session: AsyncSession, rules: dict[UUID, TenantCompliance], claims: Sequence[Claim]
) -> dict[UUID, Refusal]:
    """Count the sends against each tenant's budget for today; refuse those beyond it."""
    refusals: dict[UUID, Refusal] = {}
    today = datetime.now(UTC).date()
    by_tenant: dict[UUID, list[Claim]] = {}
    for claim in claims:
        by_tenant.setdefault(claim.tenant_id, []).append(claim)
    for tenant_id, group in by_tenant.items():
        budget = rules[tenant_id].daily_budget
        assert budget is not None
        await session.execute(
            insert(DailySends)
            .values(tenant_id=tenant_id, day=today, sent=0)
            .on_conflict_do_nothing(index_elements=[DailySends.tenant_id, DailySends.day])
        )
        counter = select(DailySends).where(
            DailySends.tenant_id == tenant_id, DailySends.day == today
        )
        row = (await session.scalars(counter.with_for_update())).one()
        allowed = max(0, min(len(group), budget - row.sent))
        row.sent += allowed
        reason = (
            "The tenant's daily send budget is zero."
            if budget == 0
            else f"The tenant's budget of {budget} sends a day is used."
        )
        for claim in group[allowed:]:
            refusals[claim.id] = Refusal("daily_budget_exceeded", reason)
    return refusals


def region_of(address: str) -> str | None:
    """The ISO 3166 region of an E.164 number (an unassigned one: its calling code's main one)."""
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(
        number
    ) or phonenumbers.region_code_for_country_code(number.country_code or 0)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None
