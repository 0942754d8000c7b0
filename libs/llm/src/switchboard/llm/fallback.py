"""A chain of providers: retries with backoff on what may pass, then the next provider.

Each provider gets `retries` more tries after a retryable error (timeout, rate limit, overload,
server error), waiting `backoff`, then twice that, and so on; a provider that refuses for good
(a bad key, a bad request) is left at once. A provider that failed `breaker_failures` times in a
row is skipped without a call for `breaker_cooldown` seconds (its circuit is open), so a dead
provider costs nothing while it is down; the first call after the cooldown tries it again.

The completion says which provider answered and why the ones before it did not
(`Completion.fallback`), so the reason is recorded with the reply.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import structlog

from switchboard.llm.errors import AllProvidersFailed, ProviderError
from switchboard.llm.provider import Completion, CompletionRequest, LLMProvider

log = structlog.get_logger(__name__)


@dataclass
class Circuit:
    """One provider's breaker; chains that share a provider share its circuit."""

    failures: int = 0
    open_until: float = 0.0


class FallbackChain:
    def __init__(
        self,
        providers: Sequence[LLMProvider],
        *,
        retries: int = 2,
        backoff: float = 0.5,
        breaker_failures: int = 5,
        breaker_cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        circuits: dict[str, Circuit] | None = None,
    ) -> None:
        if not providers:
            raise ValueError("A fallback chain needs at least one provider.")
        self.providers = tuple(providers)
        self.retries = retries
        self.backoff = backoff
        self.breaker_failures = breaker_failures
        self.breaker_cooldown = breaker_cooldown
        self.clock = clock
        self.sleep = sleep
        self._circuits = circuits if circuits is not None else {}
        for provider in self.providers:
            self._circuits.setdefault(provider.name, Circuit())

    @property
    def name(self) -> str:
        return self.providers[0].name

    @property
    def model(self) -> str:
        return self.providers[0].model

    async def complete(self, request: CompletionRequest) -> Completion:
        reasons: list[str] = []
        for provider in self.providers:
            circuit = self._circuits[provider.name]
            if circuit.open_until > self.clock():
                reasons.append(f"{provider.name}: skipped, failing (circuit open)")
                continue
            for attempt in range(self.retries + 1):
                try:
                    completion = await provider.complete(request)
                except ProviderError as exc:
                    self._failed(circuit)
                    reasons.append(str(exc))
                    if exc.retryable and attempt < self.retries and not self._is_open(circuit):
                        await self.sleep(self.backoff * 2**attempt)
                        continue
                    break
                circuit.failures = 0
                if reasons:
                    log.warning("llm.fallback", answered_by=provider.name, reasons=reasons)
                return replace(completion, fallback=tuple(reasons))
        raise AllProvidersFailed(tuple(reasons))

    def _failed(self, circuit: Circuit) -> None:
        circuit.failures += 1
        if circuit.failures >= self.breaker_failures:
            circuit.open_until = self.clock() + self.breaker_cooldown
            circuit.failures = 0

    def _is_open(self, circuit: Circuit) -> bool:
        return circuit.open_until > self.clock()
