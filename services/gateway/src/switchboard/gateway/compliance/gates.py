"""The compliance gates every send passes just before the provider is called.

In order: the recipient's consent (an opted-out address gets nothing, whatever asked for the
send), the tenant's allowed destination countries, and its daily send budget (first attempts
only: a retry is not counted twice). The keyword confirmations pass every gate.
"""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.gateway.compliance.ledger import consent_ledger
from switchboard.gateway.compliance.models import DailySends, KeywordReply, TenantCompliance
from switchboard.gateway.outbound.dispatcher import Claim, Refusal


class ComplianceGate:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def check(self, claim: Claim) -> Refusal | None:
        async with self.db.transaction() as session:
            if await self._confirmation(session, claim):
                return None
            consent = await consent_ledger.status(session, claim.tenant_id, claim.to_address)
            if consent == "opted_out":
                return Refusal("opted_out", "The recipient opted out of the tenant's messages.")
            rules = await session.get(TenantCompliance, claim.tenant_id)
            if rules is None:
                return None
            return _country_refusal(rules, claim) or await _budget_refusal(session, rules, claim)

    async def _confirmation(self, session: AsyncSession, claim: Claim) -> bool:
        if claim.origin != "system":
            return False
        found = select(KeywordReply.message_id).where(KeywordReply.message_id == claim.id)
        return await session.scalar(found) is not None


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


async def _budget_refusal(
    session: AsyncSession, rules: TenantCompliance, claim: Claim
) -> Refusal | None:
    budget = rules.daily_budget
    if budget is None or claim.attempts > 1:
        return None
    if budget == 0:
        return Refusal("daily_budget_exceeded", "The tenant's daily send budget is zero.")
    counted = await session.scalar(
        insert(DailySends)
        .values(tenant_id=claim.tenant_id, day=datetime.now(UTC).date(), sent=1)
        .on_conflict_do_update(
            index_elements=[DailySends.tenant_id, DailySends.day],
            set_={"sent": DailySends.sent + 1},
            where=DailySends.sent < budget,
        )
        .returning(DailySends.sent)
    )
    if counted is not None and counted <= budget:
        return None
    return Refusal("daily_budget_exceeded", f"The tenant's budget of {budget} sends a day is used.")


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
