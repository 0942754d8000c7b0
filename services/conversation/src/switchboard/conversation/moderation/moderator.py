"""The combined check: the local rules always, the provider's model when one is configured.

Failing open: when the provider check fails (down, timing out, rate limited, refusing the key)
the local rules alone decide, the failure is logged as `moderation.provider_failed` and kept in
the verdict (`provider_error`). Refusing every reply while a third-party endpoint is down would
silence every tenant's assistant; the local rules still stop the worst, and the caller can
record that the check ran degraded.

The provider is not called when the local rules already flagged the text: the action (review
inbound, block outbound) would be the same, so the call would add latency and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from switchboard.conversation.moderation.rules import check_local
from switchboard.conversation.moderation.verdict import Direction, Finding, Verdict
from switchboard.llm.errors import ProviderError

log = structlog.get_logger(__name__)


class ModerationProvider(Protocol):
    """A moderation model behind an API; raises `ProviderError` when it cannot answer."""

    @property
    def name(self) -> str: ...

    async def check(self, text: str) -> tuple[Finding, ...]: ...

    async def close(self) -> None: ...


class Moderator:
    def __init__(self, provider: ModerationProvider | None = None) -> None:
        self.provider = provider

    async def check(
        self, text: str, *, direction: Direction, extra_phrases: Sequence[str] = ()
    ) -> Verdict:
        """`text`'s verdict in `direction`; `extra_phrases` are the tenant's blocked phrases."""
        local = check_local(text, direction=direction, extra_phrases=extra_phrases)
        if local or self.provider is None or not text.strip():
            return Verdict(direction, local)
        try:
            found = await self.provider.check(text)
        except ProviderError as exc:
            log.warning(
                "moderation.provider_failed",
                provider=exc.provider,
                direction=direction,
                retryable=exc.retryable,
                error=str(exc),
            )
            return Verdict(direction, provider_error=str(exc))
        return Verdict(direction, found)

    async def close(self) -> None:
        if self.provider is not None:
            await self.provider.close()
