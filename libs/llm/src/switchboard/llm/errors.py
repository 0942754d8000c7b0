"""How a provider says a completion did not happen, and whether trying again may help."""

from __future__ import annotations


class ProviderError(Exception):
    """A provider could not answer. `retryable`: a timeout, a rate limit or a server error."""

    def __init__(self, provider: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.retryable = retryable


class AllProvidersFailed(Exception):
    """Every provider of a chain failed (or was skipped); `reasons` says why, in order."""

    def __init__(self, reasons: tuple[str, ...]) -> None:
        super().__init__("; ".join(reasons) or "no provider configured")
        self.reasons = reasons


def retryable_status(status: int) -> bool:
    """Statuses worth another try: timeouts, conflicts, rate limits, overload, server errors."""
    return status in (408, 409, 429) or status >= 500


def sdk_error(provider: str, exc: Exception) -> ProviderError:
    """What an Anthropic or OpenAI SDK error means here: one with an HTTP status is retryable
    as that status is; one without (unreachable, timed out) always is."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        message = getattr(exc, "message", str(exc))
        return ProviderError(provider, f"{status} {message}", retryable=retryable_status(status))
    return ProviderError(provider, f"unreachable: {exc}", retryable=True)
