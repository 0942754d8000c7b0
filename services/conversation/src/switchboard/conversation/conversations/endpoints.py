"""Conversations API: each contact's threads and their transcripts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.conversation.conversations.schemas import ConversationDetail, ConversationRead
from switchboard.conversation.conversations.service import conversation_service

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


@router.get("", response_model=list[ConversationRead])
async def list_conversations(
    principal: CurrentPrincipal,
    session: DbSession,
    contact_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        datetime | None, Query(description="Only conversations last active before this.")
    ] = None,
) -> list[ConversationRead]:
    """The tenant's conversations (optionally one contact's), most recently active first."""
    principal.require("messages:read")
    conversations = await conversation_service.list(
        session, principal.tenant(), contact_id=contact_id, limit=limit, before=before
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
