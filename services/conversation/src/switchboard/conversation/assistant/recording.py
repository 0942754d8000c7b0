"""Recording decisions: many messages' transcripts, state and events in one transaction.

Each message's decision is written with the claim of its event in the inbox, so a redelivered
message never gets a second reply; but not one transaction per message. The messages decided
while a write is in flight go together in the next one (`Batcher`), with a handful of
set-based statements per group whatever its size:

1. claim the events in the inbox (a duplicate is `AlreadyProcessed`);
2. create the contacts seen for the first time (published on `contacts`);
3. lock each message's open conversation, starting those that do not exist yet,
   and read the AI switches again with them: a model's reply is dropped if an operator took
   the conversation over or the AI was switched off while the model was thinking;
4. add the contacts' turns (a message already in a transcript is recorded no further);
5. add the replies, apply `CONFIG` changes, update the conversations, and queue the replies and
   the usage in the outbox.

A contact's messages are decided one after the other (the consumer keeps each contact's order),
so no two messages of one contact are ever in the same group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Row, Table, TextClause, insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.grouping import Batcher
from switchboard.common.kafka import AlreadyProcessed, Delivery, claim_together
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    AnyEvent,
    ContactData,
    ContactUpserted,
    ConversationHandedOver,
    MessageReceived,
    MessageRequested,
    MessageRequestedData,
    UsageRecorded,
    UsageRecordedData,
    contact_key,
    new_event_id,
    tenant_key,
)
from switchboard.conversation.assistant.decision import Call, Decision, Outcome, reply_key
from switchboard.conversation.contacts.service import contact_data
from switchboard.conversation.conversations.service import handoff_event
from switchboard.conversation.models import Contact, Turn, outbox
from switchboard.conversation.settings.service import AI_SWITCH
from switchboard.llm import Completion, PriceTable

_TURNS = cast(Table, Turn.__table__)

# Every lookup below is on an indexed column with `= ANY(array)`, never a join to `unnest`: the
# statements run as prepared statements, and a generic plan that joined a parameter's rows to a
# whole table (fine while the table is small) would scan it on every run as it grows.

_CREATE_CONTACTS = text(
    """
    INSERT INTO conversation.contacts (id, tenant_id, address)
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:tenant_ids AS uuid[]), CAST(:addresses AS text[])
    )
    ON CONFLICT (tenant_id, address) DO NOTHING
    RETURNING id, tenant_id, address
    """
)

_FIND_CONTACTS = text(
    """
    SELECT id, tenant_id, address FROM conversation.contacts
    WHERE tenant_id = ANY(CAST(:tenant_ids AS uuid[]))
      AND address = ANY(CAST(:addresses AS text[]))
    """
)
"""A superset of the contacts asked for (each tenant with each address), filtered afterwards."""

_THREAD_COLUMNS = f"""id, tenant_id, contact_id, channel, sender_address, handler, handoff_reason,
    handed_off_at, needs_review, review_reason, summary, summary_through_seq, quota_notified,
    coalesce((SELECT enabled FROM conversation.platform_controls WHERE name = '{AI_SWITCH}'), true)
    AND coalesce((SELECT enabled FROM conversation.assistant_settings AS s
                  WHERE s.tenant_id = conversations.tenant_id), true) AS ai_enabled"""  # noqa: S608
"""A conversation as the group changes it, and whether the platform's and the tenant's AI
switches are on right now (read with the lock, so a switch thrown while the model was thinking
is seen)."""


def _locking(which: str) -> TextClause:
    return text(
        f"""
        SELECT {_THREAD_COLUMNS} FROM conversation.conversations
        WHERE {which} AND status = 'open'
        ORDER BY id
        FOR UPDATE
        """  # noqa: S608
    )


_LOCK_BY_ID = _locking("id = ANY(CAST(:ids AS uuid[]))")
_LOCK_BY_CONTACT = _locking("contact_id = ANY(CAST(:contact_ids AS uuid[]))")

_START = text(
    f"""
    INSERT INTO conversation.conversations
        (id, tenant_id, contact_id, channel, sender_address, status)
    SELECT id, tenant_id, contact_id, channel, sender_address, 'open'
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:tenant_ids AS uuid[]), CAST(:contact_ids AS uuid[]),
        CAST(:channels AS text[]), CAST(:senders AS text[])
    ) AS w(id, tenant_id, contact_id, channel, sender_address)
    ON CONFLICT (contact_id, channel, sender_address) WHERE status = 'open' DO NOTHING
    RETURNING {_THREAD_COLUMNS}
    """  # noqa: S608
)
"""New conversations; being this transaction's own rows, no one else can change them before
it ends."""

_USER_TURNS = text(
    """
    INSERT INTO conversation.turns (id, conversation_id, tenant_id, role, body, message_id, outcome)
    SELECT id, conversation_id, tenant_id, 'user', body, message_id, outcome
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:conversation_ids AS uuid[]), CAST(:tenant_ids AS uuid[]),
        CAST(:bodies AS text[]), CAST(:message_ids AS uuid[]), CAST(:outcomes AS text[])
    ) AS t(id, conversation_id, tenant_id, body, message_id, outcome)
    ON CONFLICT (tenant_id, message_id) DO NOTHING
    RETURNING message_id
    """
)

_THREAD_STATE = {
    "handler": "text",
    "handoff_reason": "text",
    "handed_off_at": "timestamptz",
    "needs_review": "boolean",
    "review_reason": "text",
    "summary": "text",
    "summary_through_seq": "bigint",
    "quota_notified": "boolean",
    "status": "text",
    "closed_at": "timestamptz",
}
"""What a batch may change in a conversation, and the columns' types."""

# Only our own column names are formatted in.
_UPDATE_CONVERSATIONS = text(
    f"""
    UPDATE conversation.conversations AS c
    SET last_message_at = now(), {", ".join(f"{name} = u.{name}" for name in _THREAD_STATE)}
    FROM unnest(
        CAST(:id AS uuid[]),
        {", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _THREAD_STATE.items())}
    ) AS u(id, {", ".join(_THREAD_STATE)})
    WHERE c.id = u.id AND c.id = ANY(CAST(:id AS uuid[]))
    """  # noqa: S608
)

_CONFIG_COLUMNS = {"name": "display_name"}
"""`CONFIG` fields stored under another column name (the others under their own)."""

ThreadKey = tuple[UUID, str, str]
"""An open conversation's contact, channel and tenant number."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One message's decision, waiting to be recorded."""

    event: MessageReceived
    decision: Decision
    delivery: Delivery
    contact_id: UUID | None
    """The contact, if it existed when the message was read."""
    conversation_id: UUID | None
    """Its open conversation with this number, if there was one when the message was read."""


@dataclass(frozen=True, slots=True)
class Recorded:
    conversation_id: UUID
    outcome: Outcome
    """The decision's outcome, or what it became in the transaction (`handed_over`, `ai_off`)."""


@dataclass
class _Thread:
    """A locked open conversation, and the state the group leaves it in."""

    id: UUID
    contact_id: UUID
    handler: str
    handoff_reason: str | None
    handed_off_at: datetime | None
    needs_review: bool
    review_reason: str | None
    summary: str | None
    summary_through_seq: int
    quota_notified: bool
    ai_enabled: bool
    status: str = "open"
    closed_at: datetime | None = None
    touched: bool = False

    @classmethod
    def locked(cls, row: Row[Any]) -> _Thread:
        """From a row of `_THREAD_COLUMNS`: the conversation as it is, locked."""
        columns = row._mapping
        return cls(**{f.name: columns[f.name] for f in fields(cls) if f.name in columns})

    def apply(self, decision: Decision) -> bool:
        """Returns whether this decision handed the conversation over."""
        self.touched = True
        handed_over = decision.handoff is not None and self.handler != "human"
        if decision.summary is not None:
            self.summary, self.summary_through_seq = decision.summary
        if handed_over:
            self.handler, self.handoff_reason = "human", decision.handoff
            self.handed_off_at = datetime.now(UTC)
        if decision.review is not None:
            self.needs_review, self.review_reason = True, decision.review
        if decision.outcome == "quota":
            self.quota_notified = True
        elif decision.outcome == "answered":
            self.quota_notified = False
        if decision.close:
            self.status, self.closed_at = "closed", datetime.now(UTC)
        return handed_over


class Recorder:
    def __init__(self, db: Database, prices: PriceTable, *, max_batch: int = 500) -> None:
        self.db = db
        self.prices = prices
        self.outbox = Outbox(outbox)
        self._groups: Batcher[Entry, Recorded | None] = Batcher(
            self._write, name="assistant_writes", max_batch=max_batch
        )

    async def record(self, entry: Entry) -> Recorded | None:
        """Once committed: where the message was recorded and its outcome; None if it already
        was in a transcript. Raises `AlreadyProcessed` for an event the inbox has seen."""
        if entry.delivery.shared is not None:  # a batch transaction that already claimed it
            return (await self.write_in(entry.delivery.shared, [entry]))[0]
        return await self._groups.submit(entry)

    async def _write(self, entries: list[Entry]) -> list[Recorded | BaseException | None]:
        async with self.db.transaction() as session:
            claimed = await claim_together(session, [e.delivery for e in entries])
            fresh = [e for e, new in zip(entries, claimed, strict=True) if new]
            written = iter(await self.write_in(session, fresh))
        return [next(written) if new else AlreadyProcessed() for new in claimed]

    async def write_in(self, session: AsyncSession, entries: list[Entry]) -> list[Recorded | None]:
        """Record `entries` (already claimed in the inbox) in `session`'s transaction."""
        if not entries:
            return []
        events: list[tuple[AnyEvent, bytes | None]] = []
        contact_ids = await self._contacts(session, entries, events)
        threads = await self._threads(session, entries, contact_ids)
        decisions = self._still_wanted(entries, threads)
        added = await self._user_turns(session, entries, threads, decisions)
        replies: list[dict[str, Any]] = []
        results: list[Recorded | None] = []
        for entry, thread, decision in zip(entries, threads, decisions, strict=True):
            if entry.event.data.message_id not in added:
                results.append(None)  # already in a transcript: answered before
                continue
            results.append(Recorded(thread.id, decision.outcome))
            replies += self._reply_turns(entry, thread.id, decision)
            events += self._events(entry, thread.id, decision)
            if decision.contact_change is not None:
                events.append(await _configure(session, thread.contact_id, decision))
            if thread.apply(decision):
                events.append(_handed_over(entry.event, thread.id, decision.handoff))
        if replies:
            await session.execute(insert(_TURNS), replies)
        await _update(session, [t for t in {id(t): t for t in threads}.values() if t.touched])
        await self.outbox.add_many(session, events)
        return results

    async def _contacts(
        self,
        session: AsyncSession,
        entries: list[Entry],
        events: list[tuple[AnyEvent, bytes | None]],
    ) -> list[UUID]:
        """Each message's contact id; new contacts are created and published."""
        ids: dict[tuple[UUID, str], UUID] = {}
        for entry in entries:
            if entry.contact_id is not None:
                ids[entry.event.tenant_id, entry.event.data.from_address] = entry.contact_id
        missing = {(e.event.tenant_id, e.event.data.from_address) for e in entries} - ids.keys()
        if missing:
            wanted = sorted(missing)
            tenant_ids, addresses = [t for t, _ in wanted], [a for _, a in wanted]
            parameters = {
                "ids": [new_event_id() for _ in wanted],
                "tenant_ids": tenant_ids,
                "addresses": addresses,
            }
            for row in await session.execute(_CREATE_CONTACTS, parameters):
                ids[row.tenant_id, row.address] = row.id
                data = ContactData(contact_id=row.id, address=row.address)
                created = ContactUpserted.create(row.tenant_id, data)
                events.append((created, contact_key(row.tenant_id, row.address)))
            if not missing <= ids.keys():  # created meanwhile (another replica, in a rebalance)
                parameters = {"tenant_ids": tenant_ids, "addresses": addresses}
                for row in await session.execute(_FIND_CONTACTS, parameters):
                    if (row.tenant_id, row.address) in missing:
                        ids[row.tenant_id, row.address] = row.id
        return [ids[e.event.tenant_id, e.event.data.from_address] for e in entries]

    async def _threads(
        self, session: AsyncSession, entries: list[Entry], contact_ids: list[UUID]
    ) -> list[_Thread]:
        """Each message's open conversation, locked; started if there is none."""
        keys: list[ThreadKey] = [
            (contact_id, e.event.data.channel, e.event.data.to_address)
            for e, contact_id in zip(entries, contact_ids, strict=True)
        ]
        threads: dict[ThreadKey, _Thread] = {}
        known = sorted({e.conversation_id for e in entries if e.conversation_id is not None})
        if known:
            threads.update(_keyed(await session.execute(_LOCK_BY_ID, {"ids": known})))
        tenants = {k: e.event.tenant_id for k, e in zip(keys, entries, strict=True)}
        missing = [k for k in tenants if k not in threads]
        if missing:  # new, or closed since they were read
            parameters = {
                "ids": [new_event_id() for _ in missing],
                "tenant_ids": [tenants[k] for k in missing],
                "contact_ids": [contact_id for contact_id, _, _ in missing],
                "channels": [channel for _, channel, _ in missing],
                "senders": [sender for _, _, sender in missing],
            }
            threads.update(_keyed(await session.execute(_START, parameters)))
        if any(k not in threads for k in keys):  # started meanwhile: lock the one that won
            parameters = {"contact_ids": sorted({k[0] for k in keys if k not in threads})}
            found = _keyed(await session.execute(_LOCK_BY_CONTACT, parameters))
            threads.update({k: t for k, t in found.items() if k in tenants})
        return [threads[key] for key in keys]

    def _still_wanted(self, entries: list[Entry], threads: list[_Thread]) -> list[Decision]:
        """The decisions, except the model's replies that are no longer wanted: an operator
        took the conversation over, or the AI was switched off, while the model was thinking
        (their usage still counts: the calls were made)."""
        decisions = []
        for entry, thread in zip(entries, threads, strict=True):
            decision = entry.decision
            if decision.model_speaks:
                if thread.handler == "human":
                    decision = replace(decision, outcome="handed_over", reply=None, chat=None)
                elif not thread.ai_enabled:
                    decision = replace(decision, outcome="ai_off", reply=None, chat=None)
            decisions.append(decision)
        return decisions

    async def _user_turns(
        self,
        session: AsyncSession,
        entries: list[Entry],
        threads: list[_Thread],
        decisions: list[Decision],
    ) -> set[UUID]:
        """Add the contacts' messages; returns those that were not in a transcript yet."""
        parameters = {
            "ids": [new_event_id() for _ in entries],
            "conversation_ids": [t.id for t in threads],
            "tenant_ids": [e.event.tenant_id for e in entries],
            "bodies": [e.event.data.body for e in entries],
            "message_ids": [e.event.data.message_id for e in entries],
            "outcomes": [d.outcome for d in decisions],
        }
        return set((await session.scalars(_USER_TURNS, parameters)).all())

    def _reply_turns(
        self, entry: Entry, conversation_id: UUID, decision: Decision
    ) -> list[dict[str, Any]]:
        """The model's answer (sent, or withheld for review), then a fixed reply if that is
        what the contact gets instead."""
        turns = []
        key = reply_key(entry.event.data)
        new = {"conversation_id": conversation_id, "tenant_id": entry.event.tenant_id}
        if decision.chat is not None:
            completion, withheld = decision.chat.completion, decision.withheld
            turns.append(
                _turn(
                    **new,
                    role="assistant",
                    body=completion.text if withheld else decision.reply,
                    idempotency_key=None if withheld else key,
                    provider=completion.provider,
                    model=completion.model,
                    input_tokens=completion.input_tokens,
                    output_tokens=completion.output_tokens,
                    cost=self._cost(completion),
                    latency_ms=decision.chat.latency_ms,
                    fallback=list(completion.fallback),
                    moderation=decision.verdict if withheld else None,
                    outcome="withheld" if withheld else None,
                )
            )
        if decision.reply is not None and not decision.model_speaks:
            turns.append(
                _turn(
                    **new,
                    role="system",
                    body=decision.reply,
                    idempotency_key=key,
                    fallback=list(decision.fallback) if decision.chat is None else [],
                    moderation=decision.verdict if decision.chat is None else None,
                )
            )
        return turns

    # Events -----------------------------------------------------------------------------------

    def _events(
        self, entry: Entry, conversation_id: UUID, decision: Decision
    ) -> list[tuple[AnyEvent, bytes | None]]:
        """Every call's usage, then the reply to send."""
        event = entry.event
        usage = tenant_key(event.tenant_id)
        events: list[tuple[AnyEvent, bytes | None]] = [
            (self._usage(event, call), usage) for call in decision.calls
        ]
        if decision.reply is not None:
            events.append(_request(event, conversation_id, decision.reply))
        return events

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


def _turn(**values: Any) -> dict[str, Any]:
    """A reply turn's row, every column given (the rows of one statement share their keys)."""
    row: dict[str, Any] = {
        "id": new_event_id(),
        "outcome": None,
        "message_id": None,
        "idempotency_key": None,
        "provider": None,
        "model": None,
        "input_tokens": None,
        "output_tokens": None,
        "cost": None,
        "latency_ms": None,
        "fallback": [],
        "moderation": None,
        "author": None,
    }
    row.update(values)
    row["delivery_status"] = "queued" if row["idempotency_key"] else None
    return row


def _handed_over(
    event: MessageReceived, conversation_id: UUID, reason: str | None
) -> tuple[AnyEvent, bytes | None]:
    message = event.data
    announced = handoff_event(
        ConversationHandedOver,
        event.tenant_id,
        conversation_id,
        message.from_address,
        message.channel,
        by="assistant",
        reason=reason,
    )
    return announced, contact_key(event.tenant_id, message.from_address)


def _request(
    event: MessageReceived, conversation_id: UUID, body: str
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
        conversation_id=conversation_id,
        in_reply_to=message.message_id,
    )
    request = MessageRequested.create(event.tenant_id, data)
    return request, contact_key(event.tenant_id, message.from_address)


def _keyed(rows: Iterable[Row[Any]]) -> dict[ThreadKey, _Thread]:
    return {(r.contact_id, r.channel, r.sender_address): _Thread.locked(r) for r in rows}


async def _configure(
    session: AsyncSession, contact_id: UUID, decision: Decision
) -> tuple[AnyEvent, bytes | None]:
    """Apply a contact's own `CONFIG` change (checked when decided); the contact as it now is,
    to publish."""
    assert decision.contact_change is not None
    field, value = decision.contact_change
    statement = (
        update(Contact)
        .where(Contact.id == contact_id)
        .values({_CONFIG_COLUMNS.get(field, field): value})
        .returning(Contact)
    )
    contact = (await session.scalars(statement)).one()
    event = ContactUpserted.create(contact.tenant_id, contact_data(contact))
    return event, contact_key(contact.tenant_id, contact.address)


async def _update(session: AsyncSession, threads: Sequence[_Thread]) -> None:
    if not threads:
        return
    parameters = {name: [getattr(t, name) for t in threads] for name in ("id", *_THREAD_STATE)}
    await session.execute(_UPDATE_CONVERSATIONS, parameters)
