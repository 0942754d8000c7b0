"""A business event arrives: it enrolls its contact in the campaigns it triggers (see
`journeys/reactions.py`), and every enabled rule it satisfies schedules a send.

For each enabled rule on the event's type, in the transaction that takes the event:

- an event that lacks an attribute the rule declared does not qualify, and neither does one
  whose condition is false: no send (a lacking attribute is logged, for the operator's
  debugging, but an event's not matching a rule is ordinary);
- otherwise the rule's template is rendered now, with the rule's version, so an edit never
  changes a send already planned; a template that cannot render, or a blocked contact, gives a
  send that is `skipped`, with the reason, so the operator sees it;
- a rule written in plain language (`compose`) asks the agent instead, at the send's requested
  time (`agent/runner.py`), which decides, writes and schedules it, or not;
- the send is requested for now plus the rule's delay and is due at the first moment from then
  that the contact's send window allows, in the contact's time zone (the reason says it was held).

A send's idempotency key is the rule's and the event's: an event redelivered is planned once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns import metrics
from switchboard.campaigns.agent.service import ask
from switchboard.campaigns.contacts.service import contact_facts
from switchboard.campaigns.journeys.reactions import enroll_on_event
from switchboard.campaigns.models import Contact, ScheduledSend
from switchboard.campaigns.policy.service import policy_service
from switchboard.campaigns.rules.compiled import compile_rule_template
from switchboard.campaigns.rules.conditions import evaluate, parse_condition
from switchboard.campaigns.rules.service import rule_service
from switchboard.campaigns.rules.templates import (
    TemplateError,
    render,
)
from switchboard.campaigns.schedule.clock import Clock
from switchboard.campaigns.timing import hold
from switchboard.contracts import BusinessEventData, BusinessEventReceived

log = structlog.get_logger(__name__)

RULE_PRIORITY = 0
"""A rule's message answers something that just happened: it goes before campaigns' bulk."""


class RulePlanner:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def plan(self, session: AsyncSession, event: BusinessEventReceived) -> int:
        """Enroll and schedule what `event` causes, in `session`'s transaction; how many rule
        sends (or questions to the agent) are new."""
        data, tenant_id = event.data, event.tenant_id
        contact = await _contact(session, tenant_id, data)
        to_address = data.contact_address or (contact.address if contact else None)
        if to_address is None:
            log.info("events.no_contact", tenant_id=str(tenant_id), type=data.type)
            metrics.RULE_SENDS.labels("no_contact").inc()
            return 0
        facts = _facts(data, contact, to_address)
        now = self.clock.now()
        contact_id = contact.contact_id if contact else None
        event_id = data.business_event_id
        await enroll_on_event(session, tenant_id, event_id, facts, to_address, contact_id, now)
        rules = await rule_service.matching(session, tenant_id, data.type)
        if not rules:
            return 0
        policy = await policy_service.get(session, tenant_id)
        zone, window = policy.place(to_address, contact)
        rows = []
        questions = []
        for rule in rules:
            lacking = [name for name in rule.event_attributes if data.attributes.get(name) is None]
            if lacking:
                log.info("rules.event_lacks", rule_id=str(rule.id), attributes=lacking)
                metrics.RULE_SENDS.labels("lacks_attributes").inc()
                continue
            if not evaluate(parse_condition(rule.condition), facts):
                continue
            requested = now + timedelta(seconds=rule.delay_seconds)
            blocked = contact is not None and contact.blocked
            if rule.compose is not None and not blocked:
                questions.append(
                    {
                        "tenant_id": tenant_id,
                        "idempotency_key": f"rule:{rule.id}:event:{event_id}",
                        "rule_id": rule.id,
                        "rule_version": rule.version,
                        "event_id": event_id,
                        "contact_id": contact_id,
                        "to_address": to_address,
                        "channel": rule.channel,
                        "from_address": rule.from_address,
                        "priority": RULE_PRIORITY,
                        "compose": rule.compose,
                        "facts": facts["event"],
                        "due_at": requested,
                        "created_at": now,
                    }
                )
                continue
            row = {
                "tenant_id": tenant_id,
                "idempotency_key": f"rule:{rule.id}:event:{data.business_event_id}",
                "contact_id": contact.contact_id if contact else None,
                "to_address": to_address,
                "channel": rule.channel,
                "from_address": rule.from_address,
                "priority": RULE_PRIORITY,
                "requested_at": requested,
                "due_at": requested,
                "time_zone": zone.key,
                "status": "scheduled",
                "reason": None,
                "rule_id": rule.id,
                "rule_version": rule.version,
                "event_id": data.business_event_id,
                "body": "",
            }
            try:
                if rule.template is not None:
                    template = compile_rule_template(rule.template, rule.event_attributes)
                    row["body"] = render(template, {**facts, "now": now})
            except TemplateError as error:
                row.update(status="skipped", reason=f"template: {error}")
            if blocked:
                row.update(status="skipped", reason="the contact is blocked")
            if row["status"] == "scheduled":
                due, reason = hold(requested, zone, window)
                row.update(due_at=due, reason=reason)
            rows.append(row)
        asked = await ask(session, questions)
        metrics.RULE_SENDS.labels("composing").inc(asked)
        if not rows:
            return asked
        statement = (
            insert(ScheduledSend)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
            .returning(ScheduledSend.status)
        )
        planned = list((await session.scalars(statement)).all())
        for status in planned:
            metrics.RULE_SENDS.labels(status).inc()
        return asked + len(planned)


async def _contact(
    session: AsyncSession, tenant_id: UUID, data: BusinessEventData
) -> Contact | None:
    """The event's contact in the replica: by address, else by its `external_id` attribute."""
    statement = select(Contact).where(Contact.tenant_id == tenant_id)
    if data.contact_address is not None:
        statement = statement.where(Contact.address == data.contact_address)
    elif data.external_contact_id is not None:
        statement = statement.where(
            Contact.attributes["external_id"].astext == data.external_contact_id
        )
    else:
        return None
    return (await session.scalars(statement.limit(1))).first()


def _facts(data: BusinessEventData, contact: Contact | None, address: str) -> dict[str, Any]:
    """What conditions and templates read: the event (its attributes beside its type) and the
    contact as the replica knows them."""
    return {
        "event": {**data.attributes, "type": data.type},
        "contact": contact_facts(address, contact),
    }
