"""Recording when what was read is already out of date: another replica (during a rebalance)
created the contact, or its conversation, after this worker read the message's context."""

from __future__ import annotations

from sqlalchemy import func, select

from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery
from switchboard.contracts import Topic
from switchboard.conversation.assistant.decision import Decision
from switchboard.conversation.assistant.recording import Entry, Recorder
from switchboard.conversation.models import Contact, Conversation, inbox
from switchboard.llm import PriceTable

from ..conftest import message_received, random_number


async def test_a_contact_and_conversation_created_meanwhile_are_used_not_doubled(
    db, tenant
) -> None:
    # Given a message read when its contact did not exist yet
    address = random_number()
    event = message_received(tenant.id, "hello", from_address=address)
    delivery = Delivery(db, Inbox(inbox), "test", event, Topic.MESSAGES_INBOUND.value)
    stale = Entry(event, Decision("blocked"), delivery, contact_id=None, conversation_id=None)
    # And another replica creating the contact and its conversation before this one records it
    async with db.transaction() as session:
        contact = Contact(tenant_id=tenant.id, address=address)
        session.add(contact)
        await session.flush()
        conversation = Conversation(
            tenant_id=tenant.id,
            contact_id=contact.id,
            channel=event.data.channel,
            sender_address=event.data.to_address,
        )
        session.add(conversation)
    # When the message is recorded, with another contact's in the same transaction
    other = message_received(tenant.id, "hi", from_address=random_number())
    async with db.transaction() as session:
        known = Contact(tenant_id=tenant.id, address=other.data.from_address)
        session.add(known)
    fresh = Entry(
        other,
        Decision("blocked"),
        Delivery(db, Inbox(inbox), "test", other, Topic.MESSAGES_INBOUND.value),
        contact_id=known.id,
        conversation_id=None,
    )
    async with db.transaction() as session:
        recorded, _ = await Recorder(db, PriceTable({})).write_in(session, [stale, fresh])
    # Then it joins that conversation, with no second contact or conversation
    assert recorded is not None
    assert recorded.conversation_id == conversation.id
    async with db.sessions() as session:
        contacts = select(func.count()).where(
            Contact.tenant_id == tenant.id, Contact.address == address
        )
        assert await session.scalar(contacts) == 1
        threads = select(func.count()).where(Conversation.contact_id == contact.id)
        assert await session.scalar(threads) == 1
