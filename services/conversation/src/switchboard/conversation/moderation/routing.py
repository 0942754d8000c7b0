"""Which moderation endpoint checks a tenant's messages: the `moderation` route.

A route names providers of the model chain; those of the `openai` kind (OpenAI's moderation
endpoint) can moderate. The tenant's route comes first, then the platform's; with neither, or
with no moderating provider among the names, the local rules alone run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from switchboard.conversation.moderation.moderator import Moderator
from switchboard.conversation.moderation.openai import OpenAIModeration
from switchboard.llm import ProviderConfig


class ModerationRouter:
    def __init__(
        self, moderators: Mapping[str, Moderator], default_route: Sequence[str] = ()
    ) -> None:
        self.moderators = dict(moderators)
        self.default_route = tuple(default_route)
        self.local = Moderator()

    def route(self, tenant_route: Sequence[str] | None = None) -> Moderator:
        for names in (tenant_route or (), self.default_route):
            for name in names:
                if name in self.moderators:
                    return self.moderators[name]
        return self.local

    async def close(self) -> None:
        for moderator in self.moderators.values():
            await moderator.close()


def create_moderation_router(
    configs: Sequence[ProviderConfig], default_route: Sequence[str] = ()
) -> ModerationRouter:
    """A moderator for each OpenAI provider in the chain, reusing its key and endpoint."""
    moderators = {
        config.name or config.provider: Moderator(
            OpenAIModeration(
                api_key=config.api_key.get_secret_value(),
                base_url=config.base_url,
                timeout=config.timeout_seconds,
                name=config.name or config.provider,
            )
        )
        for config in configs
        if config.provider == "openai" and config.api_key is not None
    }
    return ModerationRouter(moderators, default_route)
