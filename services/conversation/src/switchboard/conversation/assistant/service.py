"""The assistant: decides what a contact's message gets, then records it all at once.

Everything slow (moderation, the summary, the model) happens with no transaction open. The
transcript, the reply request, usage and every state change are then written in the one
transaction that also claims the event in the inbox, so a redelivered message never produces a
second reply. That transaction locks the conversation and looks again: if an operator took it
over or the AI was switched off while the model was thinking, the model's reply is not sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.kafka import Delivery
from switchboard.common.outbox import Outbox
from switchboard.common.telemetry import mask_address
from switchboard.contracts import (
    AnyEvent,
    LlmPurpose,
    MessageReceived,
    MessageReceivedData,
    MessageRequested,
    MessageRequestedData,
    UsageRecorded,
    UsageRecordedData,
    contact_key,
    tenant_key,
)
from switchboard.conversation import metrics
from switchboard.conversation.assistant import commands, memory, prompt, replies
from switchboard.conversation.assistant.commands import Command
from switchboard.conversation.assistant.memory import Remembered
from switchboard.conversation.assistant.state import TenantViews, switches_now, thread_of
from switchboard.conversation.contacts.service import contact_service
from switchboard.conversation.conversations.service import conversation_service
from switchboard.conversation.llm import (
    AllProvidersFailed,
    Completion,
    CompletionRequest,
    PriceTable,
)
from switchboard.conversation.llm.routing import ModelRouter
from switchboard.conversation.models import (
    AssistantSettings,
    Contact,
    Conversation,
    outbox,
)
from switchboard.conversation.moderation import Verdict
from switchboard.conversation.moderation.routing import ModerationRouter
from switchboard.conversation.personas.service import ResolvedPersona
from switchboard.conversation.settings.service import settings_service
from switchboard.conversation.shaping import fit_reply

log = structlog.get_logger(__name__)

Outcome = Literal[
    "answered",
    "blocked",
    "handed_over",
    "rate_limited",
    "command",
    "handoff",
    "ai_off",
    "quota",
    "flagged",
    "failed",
]


def reply_key(message: MessageReceivedData) -> str:
    """The idempotency key of the reply to an inbound message: one reply per message."""
    return f"reply:{message.message_id}"


@dataclass(frozen=True, slots=True)
class Call:
    """One model call and what it cost, published as `usage`."""

    purpose: LlmPurpose
    completion: Completion
    latency_ms: int


@dataclass
class Decision:
    """What a message gets; computed outside the transaction, applied inside it."""

    outcome: Outcome
    reply: str | None = None
    command: Command | None = None
    chat: Call | None = None
    withheld: bool = False
    """The model answered but its reply failed moderation: kept for review, never sent."""
    review: str | None = None
    handoff: str | None = None
    verdict: dict[str, Any] | None = None
    fallback: tuple[str, ...] = ()
    summary: tuple[str, int] | None = None
    """A new rolling summary and the last turn it covers."""
    calls: list[Call] = field(default_factory=list)


@dataclass
class Context:
    """What the decision needs, read in one short session."""

    contact: Contact | None
    conversation: Conversation | None
    settings: AssistantSettings
    enabled: bool
    """Neither the platform nor the tenant switched the assistant off."""
    entitled: bool
    persona: ResolvedPersona
    turns: list[Remembered]
    recent_messages: int


class Assistant:
    def __init__(
        self,
        db: Database,
        router: ModelRouter,
        prices: PriceTable,
        moderation: ModerationRouter,
        *,
        context_turns: int,
        memory_token_budget: int,
        max_output_tokens: int,
        tenant_cache_seconds: float = 2.0,
    ) -> None:
        self.db = db
        self.router = router
        self.prices = prices
        self.moderation = moderation
        self.context_turns = context_turns
        self.memory_token_budget = memory_token_budget
        self.max_output_tokens = max_output_tokens
        self.outbox = Outbox(outbox)
        self.tenants = TenantViews(ttl=tenant_cache_seconds)

    async def answer(self, event: MessageReceived, delivery: Delivery) -> None:
        """Decide what the contact's message gets, then record it in one transaction."""
        if event.data.keyword is not None:
            return  # STOP, START, HELP...: the gateway already sent the one confirmation
        context = await self._context(event)
        if context is None:
            return
        started = time.perf_counter()
        decision = await self._decide(event, context)
        async with delivery.transaction() as session:
            conversation = await self._record(session, event, decision)
        if conversation is not None:
            metrics.MESSAGES.labels(event.data.channel, decision.outcome).inc()
            log.info(
                "assistant.decided",
                conversation_id=str(conversation.id),
                contact=mask_address(event.data.from_address),
                outcome=decision.outcome,
                seconds=round(time.perf_counter() - started, 3),
            )

    # Reading ----------------------------------------------------------------------------------

    async def _context(self, event: MessageReceived) -> Context | None:
        """What the decision needs; None if the message was already answered."""
        tenant_id, message = event.tenant_id, event.data
        async with self.db.sessions() as session:
            # Checked before any model is paid for; the transaction still decides.
            thread = await thread_of(session, tenant_id, message)
            if thread.answered:
                return None
            tenant = await self.tenants.get(session, tenant_id)
            contact, conversation = thread.contact, thread.conversation
            turns: list[Remembered] = []
            recent = 0
            if conversation is not None:
                if self.context_turns > 0:
                    turns = await conversation_service.unsummarised_turns(
                        session, conversation, limit=self.context_turns * 2
                    )
                recent = await conversation_service.recent_messages(
                    session,
                    conversation.id,
                    since=datetime.now(UTC) - timedelta(minutes=1),
                    limit=tenant.settings.contact_messages_per_minute,
                )
            return Context(
                contact=contact,
                conversation=conversation,
                settings=tenant.settings,
                enabled=tenant.enabled,
                entitled=tenant.entitled and thread.contact_entitled,
                persona=tenant.persona(
                    contact.persona if contact else None, tenant.settings.default_persona
                ),
                turns=turns,
                recent_messages=recent,
            )

    # Deciding ---------------------------------------------------------------------------------

    async def _decide(self, event: MessageReceived, context: Context) -> Decision:
        message, settings, conversation = event.data, context.settings, context.conversation
        if context.contact is not None and context.contact.blocked:
            return Decision("blocked")
        if conversation is not None and conversation.handler == "human":
            return Decision("handed_over")
        if context.recent_messages >= settings.contact_messages_per_minute:
            return Decision("rate_limited")
        command = commands.parse(message.body, settings.handoff_phrases)
        if isinstance(command, commands.HandoffRequest):
            return Decision("handoff", reply=replies.HANDOFF, handoff=command.reason)
        if command is not None:
            return Decision("command", command=command)
        if not context.enabled:
            return Decision("ai_off")
        if not context.entitled:
            if conversation is not None and conversation.quota_notified:
                return Decision("quota")
            return Decision("quota", reply=replies.QUOTA)
        inbound = await self.moderation.route(settings.routes.get("moderation")).check(
            message.body, direction="inbound", extra_phrases=settings.blocked_phrases
        )
        if inbound.flagged:
            # What has arrived cannot be refused: a person looks at it and takes it from here.
            reason = f"inbound message flagged: {_describe(inbound)}"
            return Decision(
                "flagged",
                reply=replies.SAFE,
                review=reason,
                handoff=reason,
                verdict=inbound.as_record(),
            )
        return await self._model_reply(event, context)

    async def _model_reply(self, event: MessageReceived, context: Context) -> Decision:
        message, settings = event.data, context.settings
        conversation = context.conversation
        routes = settings.routes
        plan = memory.plan(
            context.turns, keep_turns=self.context_turns, token_budget=self.memory_token_budget
        )
        calls: list[Call] = []
        summary = conversation.summary if conversation is not None else None
        summary_update: tuple[str, int] | None = None
        if plan.to_fold:
            request = memory.summary_request(summary, plan.to_fold)
            try:
                folded = await self._call("summary", request, routes)
            except AllProvidersFailed as exc:
                # The reply still goes out; the turns are folded on a later message.
                log.warning("assistant.summary_failed", reasons=list(exc.reasons))
            else:
                calls.append(folded)
                summary = folded.completion.text.strip()
                summary_update = (summary, plan.to_fold[-1].seq)
        request = CompletionRequest(
            instructions=prompt.instructions(
                persona=context.persona,
                settings=settings,
                contact=context.contact,
                channel=message.channel,
                summary=summary,
            ),
            messages=memory.chat_messages(plan.verbatim, message.body),
            max_output_tokens=self.max_output_tokens,
        )
        try:
            chat = await self._call("chat", request, routes)
        except AllProvidersFailed as exc:
            return Decision(
                "failed",
                reply=replies.UNAVAILABLE,
                review="no model answered: " + "; ".join(exc.reasons),
                fallback=exc.reasons,
                summary=summary_update,
                calls=calls,
            )
        calls.append(chat)
        outbound = await self.moderation.route(settings.routes.get("moderation")).check(
            chat.completion.text, direction="outbound", extra_phrases=settings.blocked_phrases
        )
        if outbound.flagged:
            return Decision(
                "flagged",
                reply=replies.SAFE,
                chat=chat,
                withheld=True,
                review=f"reply withheld: {_describe(outbound)}",
                verdict=outbound.as_record(),
                fallback=chat.completion.fallback,
                summary=summary_update,
                calls=calls,
            )
        shaped = fit_reply(
            chat.completion.text, channel=message.channel, max_segments=settings.sms_max_segments
        )
        if shaped.shortened:
            metrics.REPLIES_SHORTENED.labels(message.channel).inc()
        return Decision(
            "answered",
            reply=shaped.text,
            chat=chat,
            fallback=chat.completion.fallback,
            summary=summary_update,
            calls=calls,
        )

    async def _call(
        self, purpose: LlmPurpose, request: CompletionRequest, routes: dict[str, list[str]]
    ) -> Call:
        started = time.perf_counter()
        completion = await self.router.route(purpose, routes).complete(request)
        elapsed = time.perf_counter() - started
        labels = (completion.provider, completion.model)
        metrics.LLM_DURATION.labels(*labels).observe(elapsed)
        metrics.LLM_TOKENS.labels(*labels, "input").inc(completion.input_tokens)
        metrics.LLM_TOKENS.labels(*labels, "output").inc(completion.output_tokens)
        return Call(purpose, completion, round(elapsed * 1000))

    # Recording --------------------------------------------------------------------------------

    async def _record(
        self, session: AsyncSession, event: MessageReceived, decision: Decision
    ) -> Conversation | None:
        """Apply the decision; None if this message is already in the transcript."""
        tenant_id, message = event.tenant_id, event.data
        contact = await contact_service.ensure(session, tenant_id, message.from_address)
        conversation = await conversation_service.open_for(
            session, contact, message.channel, message.to_address
        )
        if decision.chat is not None and not decision.withheld:
            decision = await self._still_wanted(session, conversation, decision)
        added = await conversation_service.add_user_turn(
            session, conversation, message, outcome=decision.outcome
        )
        if not added:
            return None
        events: list[tuple[AnyEvent, bytes | None]] = [
            (self._usage(event, call), tenant_key(tenant_id)) for call in decision.calls
        ]
        reply, role = decision.reply, "system"
        if decision.command is not None:
            reply = await self._apply_command(session, contact, conversation, decision.command)
        if decision.summary is not None:
            conversation.summary, conversation.summary_through_seq = decision.summary
        if decision.handoff is not None:
            conversation_service.hand_off(conversation, decision.handoff)
        if decision.review is not None:
            conversation_service.flag_for_review(conversation, decision.review)
        if decision.outcome == "quota":
            conversation.quota_notified = True
        elif decision.outcome == "answered":
            conversation.quota_notified = False
        if decision.chat is not None:
            turn = await conversation_service.add_reply_turn(
                session,
                conversation,
                role="assistant",
                body=decision.chat.completion.text if decision.withheld else (reply or ""),
                idempotency_key=None if decision.withheld else reply_key(message),
                completion=decision.chat.completion,
                cost=self._cost(decision.chat.completion),
                latency_ms=decision.chat.latency_ms,
                moderation=decision.verdict if decision.withheld else None,
                outcome="withheld" if decision.withheld else None,
            )
            role = "system" if decision.withheld else "assistant"
            if not decision.withheld:
                reply = None  # already recorded as the assistant's turn
                events.append(self._request(event, conversation, turn.body))
        if reply is not None:
            await conversation_service.add_reply_turn(
                session,
                conversation,
                role=role,
                body=reply,
                idempotency_key=reply_key(message),
                fallback=decision.fallback if decision.chat is None else (),
                moderation=decision.verdict if decision.chat is None else None,
            )
            events.append(self._request(event, conversation, reply))
        if isinstance(decision.command, commands.Reset):
            conversation_service.close(conversation)
        await self.outbox.add_many(session, events)
        return conversation

    async def _still_wanted(
        self, session: AsyncSession, conversation: Conversation, decision: Decision
    ) -> Decision:
        """The model's reply, unless an operator took over or the AI was switched off while
        the model was thinking (the usage still counts: the call was made)."""
        if conversation.handler == "human":
            return replace(decision, outcome="handed_over", reply=None, chat=None)
        if not await switches_now(session, conversation.tenant_id):
            return replace(decision, outcome="ai_off", reply=None, chat=None)
        return decision

    async def _apply_command(
        self,
        session: AsyncSession,
        contact: Contact,
        conversation: Conversation,
        command: Command,
    ) -> str:
        if isinstance(command, commands.Reset):
            return replies.RESET
        if isinstance(command, commands.SetConfig):
            problem = await contact_service.configure(
                session, contact, command.field, command.value
            )
            if problem is not None:
                return f"{problem} {commands.CONFIG_USAGE}"
            return "Saved. " + await self._show_config(session, contact)
        if isinstance(command, commands.BadConfig):
            return f"{command.problem} {commands.CONFIG_USAGE}"
        return await self._show_config(session, contact) + " " + commands.CONFIG_USAGE

    async def _show_config(self, session: AsyncSession, contact: Contact) -> str:
        settings = await settings_service.get(session, contact.tenant_id)
        persona = contact.persona or settings.default_persona
        return (
            f"Your settings: persona {persona}, name {contact.display_name or '(not set)'}, "
            f"language {contact.language or '(automatic)'}, "
            f"time zone {contact.time_zone or '(not set)'}."
        )

    # Events -----------------------------------------------------------------------------------

    def _request(
        self, event: MessageReceived, conversation: Conversation, body: str
    ) -> tuple[AnyEvent, bytes | None]:
        message = event.data
        data = MessageRequestedData(
            idempotency_key=reply_key(message),
            origin="reply",
            priority="reply",
            channel=message.channel,
            to_address=message.from_address,
            from_address=message.to_address,
            body=body,
            conversation_id=conversation.id,
            in_reply_to=message.message_id,
        )
        request = MessageRequested.create(event.tenant_id, data)
        return request, contact_key(event.tenant_id, message.from_address)

    def _cost(self, completion: Completion) -> Decimal:
        return self.prices.cost(
            completion.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
        )

    def _usage(self, event: MessageReceived, call: Call) -> UsageRecorded:
        message, completion = event.data, call.completion
        source = "llm" if call.purpose == "chat" else f"llm:{call.purpose}"
        data = UsageRecordedData(
            kind="llm_tokens",
            quantity=completion.input_tokens + completion.output_tokens,
            cost=self._cost(completion),
            source_id=f"{source}:{message.message_id}",
            contact_address=message.from_address,
            channel=message.channel,
            provider=completion.provider,
            model=completion.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            latency_ms=call.latency_ms,
            purpose=call.purpose,
        )
        return UsageRecorded.create(event.tenant_id, data)


def _describe(verdict: Verdict) -> str:
    return "; ".join(f"{f.category.value} ({f.source}: {f.reason})" for f in verdict.findings)
