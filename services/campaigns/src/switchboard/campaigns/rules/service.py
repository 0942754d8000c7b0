"""Rules: written by operators through the API, matched by the worker against incoming events."""

from __future__ import annotations

import builtins
from typing import Any
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.models import Rule
from switchboard.campaigns.naming import save_named
from switchboard.campaigns.rules.compiled import compile_rule_template
from switchboard.campaigns.rules.schemas import RuleCreate, RuleUpdate
from switchboard.campaigns.rules.templates import TemplateError
from switchboard.common.errors import NotFound

_UNIQUE_NAME = "uq_rules_tenant_id"  # (tenant_id, name), named by the metadata's convention


class RuleService:
    async def create(self, session: AsyncSession, tenant_id: UUID, body: RuleCreate) -> Rule:
        """Store a new rule (version 1); a name the tenant already uses is a 409."""
        rule = Rule(tenant_id=tenant_id)
        await save_named(session, rule, body.columns(), constraint=_UNIQUE_NAME, kind="rule")
        return rule

    async def list(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        event_type: str | None,
        enabled: bool | None,
        limit: int,
        before: UUID | None,
    ) -> list[Rule]:
        """The tenant's rules, newest first (ids are time-ordered UUIDv7)."""
        statement = select(Rule).where(Rule.tenant_id == tenant_id)
        if event_type is not None:
            statement = statement.where(Rule.event_type == event_type)
        if enabled is not None:
            statement = statement.where(Rule.enabled == enabled)
        if before is not None:
            statement = statement.where(Rule.id < before)
        statement = statement.order_by(Rule.id.desc()).limit(limit)
        return list((await session.scalars(statement)).all())

    async def get(
        self, session: AsyncSession, tenant_id: UUID, rule_id: UUID, *, lock: bool = False
    ) -> Rule:
        """One rule (locked for a change if `lock`); another tenant's rule is a 404."""
        statement = select(Rule).where(Rule.id == rule_id, Rule.tenant_id == tenant_id)
        if lock:
            statement = statement.with_for_update()
        rule = await session.scalar(statement)
        if rule is None:
            raise NotFound("No such rule.")
        return rule

    async def update(
        self, session: AsyncSession, tenant_id: UUID, rule_id: UUID, body: RuleUpdate
    ) -> Rule:
        """Change the fields sent; if any value differs, raise `version` by one.

        The row is locked first, so concurrent changes each see the other's and every version
        number names one state of the rule.
        """
        rule = await self.get(session, tenant_id, rule_id, lock=True)
        sent = body.columns()
        changes = {name: value for name, value in sent.items() if getattr(rule, name) != value}
        if not changes:
            return rule
        if changes.keys() & {"template", "event_attributes"}:
            _check_template(rule, sent)
        changes |= {"version": rule.version + 1, "updated_at": func.now()}
        await save_named(session, rule, changes, constraint=_UNIQUE_NAME, kind="rule")
        return rule

    async def delete(self, session: AsyncSession, tenant_id: UUID, rule_id: UUID) -> None:
        """Delete the rule; the sends it already scheduled are not touched."""
        result = await session.execute(
            delete(Rule).where(Rule.id == rule_id, Rule.tenant_id == tenant_id).returning(Rule.id)
        )
        if result.scalar_one_or_none() is None:
            raise NotFound("No such rule.")

    async def matching(
        self, session: AsyncSession, tenant_id: UUID, event_type: str
    ) -> builtins.list[Rule]:
        """The tenant's enabled rules for `event_type`, oldest first: those an event may fire."""
        statement = (
            select(Rule)
            .where(Rule.tenant_id == tenant_id, Rule.event_type == event_type, Rule.enabled)
            .order_by(Rule.id)
        )
        return list((await session.scalars(statement)).all())


def _check_template(rule: Rule, sent: dict[str, Any]) -> None:
    """A 422, in the API's usual shape, if the template does not fit the rule as it would be."""
    template = sent.get("template", rule.template)
    if template is None:  # composed by the agent: nothing to compile
        return
    try:
        compile_rule_template(template, sent.get("event_attributes", rule.event_attributes))
    except TemplateError as error:
        field = "template" if "template" in sent else "event_attributes"
        raise RequestValidationError(
            [{"type": "template", "loc": ("body", field), "msg": str(error), "input": sent[field]}]
        ) from None


rule_service = RuleService()
