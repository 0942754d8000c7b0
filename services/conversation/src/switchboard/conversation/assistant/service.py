"""The assistant: decides what a contact's message gets, then records it all at once.

Everything slow (moderation, the summary, the model) happens with no transaction open. The
transcript, the reply request, usage and every state change are then written in the one
transaction that also claims the event in the inbox, so a redelivered message never produces a
second reply (`recording.Recorder`, which writes many messages' decisions in each transaction).
That transaction locks the conversation and looks again: if an operator took it over or the AI
was switched off while the model was thinking, the model's reply is not sent.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

import structlog

from switchboard.common.db import Database
from switchboard.common.kafka import Delivery
from switchboard.common.telemetry import mask_address
from switchboard.contracts import LlmPurpose, MessageReceived
from switchboard.conversation import metrics
from switchboard.conversation.assistant import commands, memory, prompt, replies
from switchboard.conversation.assistant.decision import Call, Decision
from switchboard.conversation.assistant.memory import Remembered
from switchboard.conversation.assistant.recording import Entry, Recorder
from switchboard.conversation.assistant.state import TenantViews, Threads
from switchboard.conversation.models import AssistantSettings, Contact, Conversation
from switchboard.conversation.moderation import Verdict
from switchboard.conversation.moderation.routing import ModerationRouter
from switchboard.conversation.personas.service import ResolvedPersona
from switchboard.conversation.shaping import fit_reply
from switchboard.llm import AllProvidersFailed, CompletionRequest, PriceTable
from switchboard.llm.routing import ModelRouter

log = structlog.get_logger(__name__)


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
    personas: Collection[str]
    """The personas a contact may choose."""
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
        self.threads = Threads(
            db, TenantViews(ttl=tenant_cache_seconds), turn_limit=context_turns * 2
        )
        self.recorder = Recorder(db, prices)

    async def answer(self, event: MessageReceived, delivery: Delivery) -> None:
        """Decide what the contact's message gets, then record it in one transaction."""
        if event.data.keyword is not None:
            return  # STOP, START, HELP...: the gateway already sent the one confirmation
        context = await self._context(event)
        if context is None:
            return
        started = time.perf_counter()
        decision = await self._decide(event, context)
        contact, conversation = context.contact, context.conversation
        entry = Entry(
            event,
            decision,
            delivery,
            contact_id=contact.id if contact is not None else None,
            conversation_id=conversation.id if conversation is not None else None,
        )
        recorded = await self.recorder.record(entry)
        if recorded is not None:
            metrics.MESSAGES.labels(event.data.channel, recorded.outcome).inc()
            log.info(
                "assistant.decided",
                conversation_id=str(recorded.conversation_id),
                contact=mask_address(event.data.from_address),
                outcome=recorded.outcome,
                seconds=round(time.perf_counter() - started, 3),
            )

    # Reading ----------------------------------------------------------------------------------

    async def _context(self, event: MessageReceived) -> Context | None:
        """What the decision needs; None if the message was already answered."""
        thread = await self.threads.read(event.tenant_id, event.data)
        if thread.answered:  # checked before any model is paid for; the transaction decides
            return None
        tenant, contact = thread.tenant, thread.contact
        return Context(
            contact=contact,
            conversation=thread.conversation,
            settings=tenant.settings,
            enabled=tenant.enabled,
            entitled=tenant.entitled and thread.contact_entitled,
            persona=tenant.persona(
                contact.persona if contact else None, tenant.settings.default_persona
            ),
            personas=tenant.personas.keys(),
            turns=thread.turns,
            recent_messages=thread.recent_messages,
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
            reply, change = commands.respond(command, _profile(context), context.personas)
            return Decision(
                "command",
                reply=reply,
                contact_change=(change.field, change.value) if change is not None else None,
                close=isinstance(command, commands.Reset),
            )
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


def _profile(context: Context) -> commands.Profile:
    contact, default = context.contact, context.settings.default_persona
    if contact is None:
        return commands.Profile(persona=default)
    return commands.Profile(
        persona=contact.persona or default,
        name=contact.display_name,
        language=contact.language,
        time_zone=contact.time_zone,
    )


def _describe(verdict: Verdict) -> str:
    return "; ".join(f"{f.category.value} ({f.source}: {f.reason})" for f in verdict.findings)
