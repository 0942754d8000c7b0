"""Conversations API: threads and transcripts, and what operators do with them — take over,
reply, hand back to the assistant, clear a review flag."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.conversation.conversations.schemas import (
    ConversationDetail,
    ConversationRead,
    HandoffCreate,
    OperatorReply,
    TurnRead,
)
from switchboard.conversation.conversations.service import conversation_service

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


@router.get("", response_model=list[ConversationRead])
async def list_conversations(
    principal: CurrentPrincipal,
    session: DbSession,
    contact_id: UUID | None = None,
    handler: Annotated[
        Literal["assistant", "human"] | None,
        Query(description="`human`: the conversations handed over to a person."),
    ] = None,
    needs_review: Annotated[
        bool | None, Query(description="`true`: the ones moderation or a failure flagged.")
    ] = None,
    status_: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        datetime | None, Query(description="Only conversations last active before this.")
    ] = None,
) -> list[ConversationRead]:
    """The tenant's conversations, most recently active first."""
    principal.require("messages:read")
    conversations = await conversation_service.list(
        session,
        principal.tenant(),
        contact_id=contact_id,
        limit=limit,
        before=before,
        handler=handler,
        needs_review=needs_review,
        status=status_,
    )
    return [ConversationRead.model_validate(c, from_attributes=True) for c in conversations]


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    conversation_id: UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    turns: Annotated[int, Query(ge=1, le=1000, description="How many recent turns.")] = 200,
) -> ConversationDetail:
    """One conversation and its transcript, oldest turn first."""
    principal.require("messages:read")
    return await conversation_service.get(session, principal.tenant(), conversation_id, turns=turns)


@router.post("/{conversation_id}/handoff", response_model=ConversationRead)
async def hand_off(
    conversation_id: UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    body: HandoffCreate | None = None,
) -> ConversationRead:
    """Take the conversation over: the assistant stays silent until it is handed back."""
    principal.require("messages:write")
    conversation = await conversation_service.locked(session, principal.tenant(), conversation_id)
    await conversation_service.hand_off(session, conversation, (body or HandoffCreate()).reason)
    return ConversationRead.model_validate(conversation, from_attributes=True)


@router.post("/{conversation_id}/handback", response_model=ConversationRead)
async def hand_back(
    conversation_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> ConversationRead:
    """Give the conversation back to the assistant: it answers the contact's next message."""
    principal.require("messages:write")
    conversation = await conversation_service.locked(session, principal.tenant(), conversation_id)
    await conversation_service.hand_back(session, conversation)
    return ConversationRead.model_validate(conversation, from_attributes=True)


@router.post(
    "/{conversation_id}/messages", response_model=TurnRead, status_code=status.HTTP_202_ACCEPTED
)
async def reply(
    conversation_id: UUID,
    body: OperatorReply,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
) -> TurnRead:
    """Reply to the contact as a person; the conversation is handed over if it was not."""
    principal.require("messages:write")
    conversation = await conversation_service.locked(session, principal.tenant(), conversation_id)
    turn, created = await conversation_service.operator_reply(
        session,
        conversation,
        body=body.body,
        author=body.author or principal.key_id,
        idempotency_key=body.idempotency_key,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return TurnRead.model_validate(turn, from_attributes=True)


@router.post("/{conversation_id}/review/resolve", response_model=ConversationRead)
async def resolve_review(
    conversation_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> ConversationRead:
    """Clear the review flag once a person has looked at the conversation."""
    principal.require("messages:write")
    conversation = await conversation_service.locked(session, principal.tenant(), conversation_id)
    conversation.needs_review = False
    conversation.review_reason = None
    return ConversationRead.model_validate(conversation, from_attributes=True)
