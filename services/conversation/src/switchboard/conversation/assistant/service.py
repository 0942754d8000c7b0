"""The assistant: answers a contact's message with the model, then records it all at once.

The model is called with no transaction open (it is slow); the transcript, the reply request and
the usage are then written in the one transaction that also claims the event in the inbox, so a
redelivered message never produces a second reply.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.kafka import Delivery
from switchboard.common.outbox import Outbox
from switchboard.common.telemetry import mask_address
from switchboard.contracts import (
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
from switchboard.conversation.contacts.service import contact_service
from switchboard.conversation.conversations.service import conversation_service
from switchboard.conversation.llm import (
    ChatMessage,
    Completion,
    CompletionRequest,
    LLMProvider,
    PriceTable,
)
from switchboard.conversation.models import Conversation, Turn, outbox

log = structlog.get_logger(__name__)


def reply_key(message: MessageReceivedData) -> str:
    """The idempotency key of the reply to an inbound message: one reply per message."""
    return f"reply:{message.message_id}"


class Assistant:
    def __init__(
        self,
        db: Database,
        provider: LLMProvider,
        prices: PriceTable,
        *,
        instructions: str,
        context_turns: int,
        max_output_tokens: int,
    ) -> None:
        self.db = db
        self.provider = provider
        self.prices = prices
        self.instructions = instructions
        self.context_turns = context_turns
        self.max_output_tokens = max_output_tokens
        self.outbox = Outbox(outbox)

    async def answer(self, event: MessageReceived, delivery: Delivery) -> None:
        """Reply to a contact's message: context, then the model, then one transaction."""
        if event.data.keyword is not None:
            return  # STOP, START, HELP...: the gateway already sent the one confirmation
        history = await self._history(event)
        if history is None:
            return
        completion = await self._complete(history, event.data)
        async with delivery.transaction() as session:
            conversation = await self._record(session, event, completion)
        if conversation is not None:
            self._replied(event.data, conversation, completion)

    async def _history(self, event: MessageReceived) -> list[Turn] | None:
        """Earlier turns for the model; None if the message was already answered."""
        async with self.db.sessions() as session:
            # Checked before the model is paid for; the transaction below still decides.
            if await conversation_service.has_message(
                session, event.tenant_id, event.data.message_id
            ):
                return None
            if self.context_turns == 0:
                return []
            return await conversation_service.recent_turns(
                session, event.tenant_id, event.data, self.context_turns
            )

    async def _complete(self, history: Sequence[Turn], message: MessageReceivedData) -> Completion:
        request = CompletionRequest(
            instructions=self.instructions,
            messages=(
                *(
                    ChatMessage(role="user" if t.role == "user" else "assistant", text=t.body)
                    for t in history
                ),
                ChatMessage(role="user", text=message.body),
            ),
            max_output_tokens=self.max_output_tokens,
        )
        started = time.perf_counter()
        completion = await self.provider.complete(request)
        labels = (completion.provider, completion.model)
        metrics.LLM_DURATION.labels(*labels).observe(time.perf_counter() - started)
        metrics.LLM_TOKENS.labels(*labels, "input").inc(completion.input_tokens)
        metrics.LLM_TOKENS.labels(*labels, "output").inc(completion.output_tokens)
        return completion

    async def _record(
        self, session: AsyncSession, event: MessageReceived, completion: Completion
    ) -> Conversation | None:
        """Contact, conversation, both turns, the reply and the usage; None if already there."""
        tenant_id, message = event.tenant_id, event.data
        contact = await contact_service.ensure(session, tenant_id, message.from_address)
        conversation = await conversation_service.open_for(
            session, contact, message.channel, message.to_address
        )
        if not await conversation_service.add_user_turn(session, conversation, message):
            return None
        await conversation_service.add_assistant_turn(
            session, conversation, completion, idempotency_key=reply_key(message)
        )
        await self.outbox.add_many(
            session,
            [
                (
                    self._reply(event, conversation, completion),
                    contact_key(tenant_id, contact.address),
                ),
                (self._usage(event, completion), tenant_key(tenant_id)),
            ],
        )
        return conversation

    def _replied(
        self, message: MessageReceivedData, conversation: Conversation, completion: Completion
    ) -> None:
        metrics.REPLIES.labels(message.channel, completion.provider).inc()
        log.info(
            "assistant.replied",
            conversation_id=str(conversation.id),
            contact=mask_address(message.from_address),
            provider=completion.provider,
            model=completion.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
        )

    def _reply(
        self, event: MessageReceived, conversation: Conversation, completion: Completion
    ) -> MessageRequested:
        message = event.data
        data = MessageRequestedData(
            idempotency_key=reply_key(message),
            origin="reply",
            priority="reply",
            channel=message.channel,
            to_address=message.from_address,
            from_address=message.to_address,
            body=completion.text,
            conversation_id=conversation.id,
            in_reply_to=message.message_id,
        )
        return MessageRequested.create(event.tenant_id, data)

    def _usage(self, event: MessageReceived, completion: Completion) -> UsageRecorded:
        message = event.data
        cost = self.prices.cost(
            completion.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
        )
        data = UsageRecordedData(
            kind="llm_tokens",
            quantity=completion.input_tokens + completion.output_tokens,
            cost=cost,
            source_id=f"llm:{message.message_id}",
            contact_address=message.from_address,
            channel=message.channel,
            provider=completion.provider,
            model=completion.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
        )
        return UsageRecorded.create(event.tenant_id, data)
