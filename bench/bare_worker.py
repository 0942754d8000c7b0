"""The conversation worker without the conversation: the baseline of `conversation.py --bare`.

The same machinery as `python -m switchboard.conversation worker` (the `conversation` consumer
group pipelining records with concurrent keys, the inbox, the outbox and its relay, uvloop, the
probes and `/metrics` on the worker port) and the same offline model with its latency, but the
handler only asks the model and writes the reply: no contact, transcript, settings or usage.
The difference between the two runs is the cost of the conversation service's own work.

    python bench/bare_worker.py   (environment as for the conversation worker)
"""

from __future__ import annotations

from switchboard.common.cli import worker_main
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer
from switchboard.common.outbox import Outbox
from switchboard.common.runtime import Loops, Worker, run_worker
from switchboard.contracts import (
    MessageReceived,
    MessageRequested,
    MessageRequestedData,
    Topic,
    contact_key,
)
from switchboard.conversation.config import ConversationSettings
from switchboard.conversation.models import inbox, outbox
from switchboard.llm import ChatMessage, CompletionRequest, create_chain


async def run() -> None:
    settings = ConversationSettings()
    model = create_chain(settings.llm_chain)
    replies = Outbox(outbox)

    async def answer(event: MessageReceived, delivery: Delivery) -> None:
        message = event.data
        request = CompletionRequest(
            instructions="Be brief.", messages=(ChatMessage(role="user", text=message.body),)
        )
        completion = await model.complete(request)
        reply = MessageRequested.create(
            event.tenant_id,
            MessageRequestedData(
                idempotency_key=f"reply:{message.message_id}",
                origin="reply",
                priority="reply",
                channel=message.channel,
                to_address=message.from_address,
                from_address=message.to_address,
                body=completion.text,
                in_reply_to=message.message_id,
            ),
        )
        async with delivery.transaction() as session:
            await replies.add(
                session, reply, key=contact_key(event.tenant_id, message.from_address)
            )

    async def loops(worker: Worker) -> Loops:
        consumer = EventConsumer(
            name="conversation",
            topics=(Topic.MESSAGES_INBOUND,),
            bootstrap_servers=worker.platform.kafka_bootstrap_servers,
            db=worker.db,
            inbox=Inbox(inbox),
            producer=worker.producer,
            batch_transactions=False,
            concurrent_keys=True,
        )
        consumer.on(MessageReceived, answer)
        return {"conversation-consumer": consumer.run()}

    await run_worker("conversation", settings, loops, outbox=outbox)


if __name__ == "__main__":
    worker_main(run)
