"""How a transport says a send did not happen."""

from __future__ import annotations


class SendError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentSendError(SendError):
    """The provider refused the message for good (invalid number, blocked...)."""


class TransientSendError(SendError):
    """Worth another try later (429, 5xx, network)."""
