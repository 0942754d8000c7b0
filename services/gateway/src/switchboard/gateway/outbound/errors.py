"""How a transport says a send did not happen."""

from __future__ import annotations


class SendError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentSendError(SendError):
    """The provider refused the message for good (invalid number, blocked...).

    `opted_out`: the provider or carrier says the recipient unsubscribed from this sender (a
    STOP that reached the carrier, not us); the consent ledger records it.
    """

    def __init__(self, message: str, *, code: str | None = None, opted_out: bool = False) -> None:
        super().__init__(message, code=code)
        self.opted_out = opted_out


class TransientSendError(SendError):
    """Worth another try later (429, 5xx, network)."""
