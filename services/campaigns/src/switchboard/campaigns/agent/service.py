"""The agent's decisions as stored: asked for (by rules and campaign steps), checked and acted
on (by the runner), listed for audit, and approved, edited or rejected by an operator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.agent.compose import Compose
from switchboard.campaigns.entitlements import stopped_by_quota
from switchboard.campaigns.journeys.enrollment import Path, wake_journeys
from switchboard.campaigns.models import AgentDecision, Contact, ReceivedMessage, ScheduledSend
from switchboard.campaigns.policy.service import policy_service
from switchboard.campaigns.schedule.clock import Clock
from switchboard.campaigns.schedule.scheduler import opted_out_of, sent_since
from switchboard.campaigns.timing import SendWindow, hold
from switchboard.common.errors import BadRequest, Conflict, NotFound
from switchboard.contracts import MessageReceivedData

_ENROLLMENT = text(
    """
    SELECT e.status, c.status AS campaign_status
    FROM campaigns.enrollments AS e JOIN campaigns.campaigns AS c ON c.id = e.campaign_id
    WHERE e.id = :id
    FOR UPDATE OF e
    """
)

_MOVE_ON = text(
    """
    UPDATE campaigns.enrollments SET waiting = 'time', next_run_at = :at
    WHERE id = :id AND status = 'active' AND waiting = 'agent' AND step = :step
    """
)


async def ask(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Ask the agent about these (once per idempotency key); how many are new."""
    if not rows:
        return 0
    statement = (
        insert(AgentDecision)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
        .returning(AgentDecision.id)
    )
    return len((await session.scalars(statement)).all())


async def remember(session: AsyncSession, tenant_id: UUID, message: MessageReceivedData) -> None:
    """Keep what a contact texted, for the agent's view of their recent messages."""
    values = {
        "message_id": message.message_id,
        "tenant_id": tenant_id,
        "address": message.from_address,
        "body": message.body,
        "received_at": message.received_at,
    }
    await session.execute(insert(ReceivedMessage).values(values).on_conflict_do_nothing())


async def record(session: AsyncSession, decision_id: UUID, values: dict[str, Any]) -> None:
    await session.execute(
        update(AgentDecision).where(AgentDecision.id == decision_id).values(**values)
    )


async def refusal(
    session: AsyncSession, decision: Row[Any] | AgentDecision, blocked: bool, now: datetime
) -> str | None:
    """Why a decided message may not be scheduled now, if it may not: the contact blocked or
    opted out, billing's quota (messages used up, an account suspended), the enrollment gone or
    its campaign not active, the frequency cap reached."""
    if blocked:
        return "the contact is blocked"
    recipient = (decision.tenant_id, decision.to_address)
    if await opted_out_of(session, [recipient]):
        return "the contact opted out"
    if (quota := (await stopped_by_quota(session, [recipient])).get(recipient)) is not None:
        return quota
    if decision.enrollment_id is not None:
        enrollment = (await session.execute(_ENROLLMENT, {"id": decision.enrollment_id})).first()
        if enrollment is None or enrollment.status != "active":
            return "the contact left the campaign meanwhile"
        if enrollment.campaign_status != "active":
            return f"the campaign is {enrollment.campaign_status}"
    cap = (await policy_service.get(session, decision.tenant_id)).frequency_cap
    if cap is not None:
        address = decision.to_address
        sent = await sent_since(session, decision.tenant_id, [address], now - cap.period)
        if sent.get(address, 0) >= cap.max_messages:
            return f"frequency cap: {cap.max_messages} per {cap.period_hours} h already reached"
    return None


async def schedule(
    session: AsyncSession,
    decision: Row[Any] | AgentDecision,
    message: str,
    zone: ZoneInfo,
    window: SendWindow,
    now: datetime,
) -> tuple[UUID, datetime, str | None]:
    """Schedule the decided message as a send, held out of quiet hours (the scheduler checks it
    again when it goes): its id, when it is due, and why it is held, if it is."""
    due, reason = hold(now, zone, window)
    values = {
        "tenant_id": decision.tenant_id,
        "idempotency_key": f"agent:{decision.id}",
        "contact_id": decision.contact_id,
        "to_address": decision.to_address,
        "channel": decision.channel,
        "from_address": decision.from_address,
        "body": message,
        "priority": decision.priority,
        "requested_at": now,
        "due_at": due,
        "time_zone": zone.key,
        "status": "scheduled",
        "reason": reason,
        "rule_id": decision.rule_id,
        "rule_version": decision.rule_version,
        "event_id": decision.event_id,
        "campaign_id": decision.campaign_id,
        "enrollment_id": decision.enrollment_id,
        "step": decision.step,
        "decision_id": decision.id,
    }
    statement = (
        insert(ScheduledSend)
        .values(values)
        .on_conflict_do_update(
            index_elements=["tenant_id", "idempotency_key"], set_={"updated_at": now}
        )
        .returning(ScheduledSend.id, ScheduledSend.due_at)
    )
    send_id, due = (await session.execute(statement)).one()
    return send_id, due, reason


async def move_on(
    session: AsyncSession,
    decision: Row[Any] | AgentDecision,
    at: datetime,
    outcome: str,
    detail: str | None,
    send_id: UUID | None,
) -> None:
    """Let the enrollment waiting on this decision, if any, go on from `at` (its next step runs
    then, as after a send), recording the step on its path."""
    if decision.enrollment_id is None or decision.campaign_id is None or decision.step is None:
        return
    parameters = {"id": decision.enrollment_id, "step": decision.step, "at": at}
    moved = await session.execute(_MOVE_ON, parameters)
    if moved.rowcount == 0:  # type: ignore[attr-defined]  # a DML result has a row count
        return
    path = Path()
    path.add(decision.tenant_id, decision.campaign_id, decision.enrollment_id, decision.step,
             outcome, at, detail=detail, send_id=send_id)  # fmt: skip
    await path.write(session)
    await wake_journeys(session)


class DecisionService:
    async def list(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        status: str | None = None,
        action: str | None = None,
        campaign_id: UUID | None = None,
        rule_id: UUID | None = None,
        to_address: str | None = None,
        limit: int = 50,
        before: UUID | None = None,
    ) -> list[AgentDecision]:
        """The tenant's decisions, newest first, filtered."""
        statement = select(AgentDecision).where(AgentDecision.tenant_id == tenant_id)
        filters = {
            AgentDecision.status: status,
            AgentDecision.action: action,
            AgentDecision.campaign_id: campaign_id,
            AgentDecision.rule_id: rule_id,
            AgentDecision.to_address: to_address,
        }
        for column, value in filters.items():
            if value is not None:
                statement = statement.where(column == value)
        if before is not None:
            statement = statement.where(AgentDecision.id < before)
        statement = statement.order_by(AgentDecision.id.desc()).limit(limit)
        return list((await session.scalars(statement)).all())

    async def get(
        self, session: AsyncSession, tenant_id: UUID, decision_id: UUID, *, lock: bool = False
    ) -> AgentDecision:
        decision = await session.get(AgentDecision, decision_id, with_for_update=lock)
        if decision is None or decision.tenant_id != tenant_id:
            raise NotFound("No such agent decision.")
        return decision

    async def approve(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        decision_id: UUID,
        clock: Clock,
        *,
        reviewer: str,
        message: str | None = None,
        note: str | None = None,
    ) -> AgentDecision:
        """Schedule the message awaiting approval (as edited, if `message` is given); the
        checks run again, now, and may still skip it (the contact opted out meanwhile...)."""
        decision = await self._awaiting(session, tenant_id, decision_id)
        compose = Compose.model_validate(decision.compose)
        if message is not None:
            if len(message) > compose.max_length:
                raise BadRequest(
                    f"The message has {len(message)} characters; this step allows "
                    f"{compose.max_length}."
                )
            if message != decision.message:
                decision.proposed_message = decision.message
                decision.message = message
        now = clock.now()
        self._review(decision, "approved", reviewer, note, now)
        contact = await _contact(session, decision)
        refused = await refusal(session, decision, bool(contact and contact.blocked), now)
        if refused is not None:
            decision.outcome = f"skipped: {refused}"
            await move_on(session, decision, now, "skipped", decision.outcome, None)
            return decision
        assert decision.message is not None
        policy = await policy_service.get(session, tenant_id)
        zone, window = policy.place(decision.to_address, contact)
        send_id, due, reason = await schedule(
            session, decision, decision.message, zone, window, now
        )
        decision.send_id = send_id
        decision.outcome = f"scheduled, {reason}" if reason else "scheduled"
        await move_on(session, decision, due, "scheduled", None, send_id)
        return decision

    async def reject(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        decision_id: UUID,
        clock: Clock,
        *,
        reviewer: str,
        note: str | None = None,
    ) -> AgentDecision:
        """Send nothing; an enrollment waiting on it goes on."""
        decision = await self._awaiting(session, tenant_id, decision_id)
        now = clock.now()
        self._review(decision, "rejected", reviewer, note, now)
        decision.outcome = "skipped: rejected by an operator"
        await move_on(session, decision, now, "skipped", decision.outcome, None)
        return decision

    async def _awaiting(
        self, session: AsyncSession, tenant_id: UUID, decision_id: UUID
    ) -> AgentDecision:
        decision = await self.get(session, tenant_id, decision_id, lock=True)
        if decision.status != "awaiting_approval":
            raise Conflict(
                f"This decision is {decision.status}; only one awaiting approval can be "
                "approved or rejected."
            )
        return decision

    def _review(
        self, decision: AgentDecision, status: str, reviewer: str, note: str | None, now: datetime
    ) -> None:
        decision.status = status
        decision.reviewed_by = reviewer
        decision.review_note = note
        decision.reviewed_at = now


async def _contact(session: AsyncSession, decision: AgentDecision) -> Contact | None:
    statement = select(Contact).where(
        Contact.tenant_id == decision.tenant_id, Contact.address == decision.to_address
    )
    return (await session.scalars(statement.limit(1))).first()


decision_service = DecisionService()
