"""Which models answer what: a route per purpose, from the tenant's settings or the platform's.

Every provider is built once and known by its name; a route is a list of names tried in order
(a `FallbackChain`). Chains that share a provider share its circuit breaker, so a provider that
is down is skipped by every route at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from switchboard.contracts import LlmPurpose
from switchboard.llm.fallback import Circuit, FallbackChain
from switchboard.llm.provider import LLMProvider


class ModelRouter:
    def __init__(
        self,
        providers: Sequence[LLMProvider],
        routes: Mapping[LlmPurpose, Sequence[str]] | None = None,
        *,
        retries: int = 2,
        backoff: float = 0.5,
        breaker_failures: int = 5,
        breaker_cooldown: float = 30.0,
    ) -> None:
        if not providers:
            raise ValueError("A router needs at least one provider.")
        self.providers = {provider.name: provider for provider in providers}
        if len(self.providers) != len(providers):
            raise ValueError("Provider names must be unique: give each a `name`.")
        self.default = tuple(self.providers)
        self.routes = {purpose: tuple(names) for purpose, names in (routes or {}).items()}
        for names in self.routes.values():
            self._check(names)
        self.retries = retries
        self.backoff = backoff
        self.breaker_failures = breaker_failures
        self.breaker_cooldown = breaker_cooldown
        self._circuits: dict[str, Circuit] = {}
        self._chains: dict[tuple[str, ...], FallbackChain] = {}

    def route(
        self, purpose: LlmPurpose, tenant_routes: Mapping[str, Sequence[str]] | None = None
    ) -> FallbackChain:
        """The chain for `purpose`: the tenant's route, else the platform's, else every provider.

        A tenant route naming a provider that is no longer configured skips that name; one left
        with none falls back to the platform's route.
        """
        names = tuple(n for n in (tenant_routes or {}).get(purpose, ()) if n in self.providers)
        names = names or self.routes.get(purpose) or self.default
        chain = self._chains.get(names)
        if chain is None:
            chain = FallbackChain(
                [self.providers[name] for name in names],
                retries=self.retries,
                backoff=self.backoff,
                breaker_failures=self.breaker_failures,
                breaker_cooldown=self.breaker_cooldown,
                circuits=self._circuits,
            )
            self._chains[names] = chain
        return chain

    def _check(self, names: Sequence[str]) -> None:
        unknown = [name for name in names if name not in self.providers]
        if unknown or not names:
            raise ValueError(
                f"Route names {unknown or '(none)'} are not among the providers "
                f"{sorted(self.providers)}."
            )
