"""The conversation service's HTTP app: contacts, conversations and their transcripts, personas,
assistant settings and the platform's AI switch."""

from __future__ import annotations

from fastapi import FastAPI

from switchboard.common.http import create_app as create_service_app
from switchboard.common.runtime import replica_lifespan
from switchboard.common.settings import PlatformSettings
from switchboard.conversation.config import ConversationSettings
from switchboard.conversation.contacts.endpoints import router as contacts
from switchboard.conversation.conversations.endpoints import router as conversations
from switchboard.conversation.personas.endpoints import router as personas
from switchboard.conversation.settings.endpoints import platform_router
from switchboard.conversation.settings.endpoints import router as assistant_settings


def create_app(
    settings: ConversationSettings | None = None, platform: PlatformSettings | None = None
) -> FastAPI:
    platform = platform or PlatformSettings()
    settings = settings or ConversationSettings()

    return create_service_app(
        service="conversation",
        platform=platform,
        title="Switchboard conversation",
        description="Contacts, conversations and the assistant's transcripts, personas and "
        "assistant settings.",
        lifespan=replica_lifespan("conversation", platform, settings),
        routers=[contacts, conversations, personas, assistant_settings, platform_router],
    )
